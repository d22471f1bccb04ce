"""One uint8 tensor per dataset element: views and integer labels packed.

``MultiWorkerMirroredStrategy`` with Keras 3 ``fit`` fails on tuple and dict
dataset elements (keras-team/keras#20585), so everything a training step needs
travels as one uint8 tensor (B, N): per example, the views' pixels flattened
in layout order, then each int32 label as 4 little-endian bytes (two's
complement). A layout without labels whose views share one shape is simply
the views stacked on axis 1, (B, V, T, H, W, 3), flattened.

``unpack`` (keras.ops, any backend) is the model's side; ``data.recipes.pack``
(TensorFlow, in the tf.data pipeline) writes the same layout.
"""

import dataclasses
import math

from keras import ops

VIEW, LABEL = "view", "label"
LABEL_BYTES = 4


@dataclasses.dataclass(frozen=True)
class Field:
    """One entry of the element: a view (uint8 pixels) or an int32 label."""

    name: str
    shape: tuple  # per example: (T', H, W, 3) for a view, () or (n,) for a label
    kind: str = VIEW

    @property
    def size(self):
        """Bytes per example."""
        return math.prod(self.shape) * (LABEL_BYTES if self.kind == LABEL else 1)


def make_layout(views, labels, clip_shape, view_frames=None):
    """Fields for ``views`` (names; view v has ``view_frames.get(v, 1)·T``
    frames of ``clip_shape = (T, H, W, 3)``) then ``labels`` ({name: shape})."""
    frames, *rest = clip_shape
    if frames is None or None in rest:
        raise ValueError(f"make_layout needs a fully known clip shape (T, H, W, 3), received {tuple(clip_shape)}")
    view_frames = view_frames or {}
    fields = [Field(v, (frames * view_frames.get(v, 1), *rest)) for v in views]
    fields += [Field(name, tuple(shape), LABEL) for name, shape in labels.items()]
    names = [f.name for f in fields]
    if len(set(names)) != len(names):
        raise ValueError(f"Field names must be distinct, received {names}")
    return tuple(fields)


def element_size(layout):
    return sum(field.size for field in layout)


def describe(layout):
    return ", ".join(f"{f.name} {f.kind} {f.shape}" for f in layout)


def _decode_labels(raw, shape):
    """(B, n·4) uint8 → int32 (B, *shape), little-endian two's complement."""
    data = ops.reshape(ops.cast(raw, "int32"), (-1, math.prod(shape), LABEL_BYTES))
    top = data[..., 3]
    top = top - 256 * ops.cast(top >= 128, "int32")  # the sign byte
    value = data[..., 0] + data[..., 1] * 256 + data[..., 2] * 65536 + top * 16777216
    return ops.reshape(value, (-1, *shape))


def unpack(inputs, layout):
    """uint8 (B, N) (or any (B, ...) of N bytes per example) → ({view: uint8
    (B, T', H, W, 3)}, {label: int32 (B, ...)})."""
    size = element_size(layout)
    shape = tuple(inputs.shape)
    per_example = math.prod(shape[1:]) if None not in shape[1:] else None
    if len(shape) < 2 or per_example != size:
        raise ValueError(
            f"Expected uint8 elements of {size} bytes per example (layout: {describe(layout)}), "
            f"received shape {shape}"
        )
    flat = ops.reshape(inputs, (-1, size)) if len(shape) != 2 else inputs
    views, labels, start = {}, {}, 0
    for field in layout:
        part = flat[:, start : start + field.size]
        start += field.size
        if field.kind == LABEL:
            labels[field.name] = _decode_labels(part, field.shape)
        else:
            views[field.name] = ops.reshape(part, (-1, *field.shape))
    return views, labels

"""Base class of the video backbones: a functional Keras model whose output is
a dict of named taps ``{"block1": …, …, "block5": …}``, each (B, T, H, W, C).

Subclasses build their graph in ``__init__`` (keras-hub style), store every
constructor argument, and return them from ``get_config`` so that
``from_config(cls(**config))`` rebuilds the same model.

``remat`` names blocks whose activations are not kept for the backward pass
but recomputed from the block's input (``keras.remat``: gradient
checkpointing): the block is the graph from the previous tap (or the clip) to
its own tap, e.g. C3D's block3 = pool2, conv3a, conv3b with their norms and
ReLUs. Losses and gradients are unchanged; memory falls and the backward pass
repeats those blocks' forward computation.
"""

import keras
from keras import ops

from models.layers import DEFAULT_NORM_EPSILON, scaled_width

TAP_NAMES = ("block1", "block2", "block3", "block4", "block5")


def _check_input_shape(input_shape, min_size, name):
    """Validate a (T, H, W, 3) clip shape; ``None`` dimensions are allowed."""
    if not isinstance(input_shape, (tuple, list)) or len(input_shape) != 4:
        raise ValueError(
            f"{name}: input_shape must be (frames, height, width, 3), received {input_shape!r}"
        )
    if input_shape[-1] != 3:
        raise ValueError(f"{name}: input_shape must have 3 (RGB) channels, received {input_shape!r}")
    for axis, size, minimum in zip(("frames", "height", "width"), input_shape[:3], min_size):
        if size is not None and (not isinstance(size, int) or size < minimum):
            raise ValueError(
                f"{name}: {axis}={size!r} in input_shape {tuple(input_shape)} is too small to "
                f"reach block5 (its stride is {minimum} along {axis}); use at least {minimum}"
            )


def _check_remat(remat, name):
    """The blocks to rematerialise, in tap order; ``None``/``()`` = none."""
    remat = tuple(remat or ())
    if isinstance(remat, str) or not set(remat) <= set(TAP_NAMES) or len(set(remat)) != len(remat):
        raise ValueError(f"{name}: remat must be distinct block names from {TAP_NAMES}, received {remat!r}")
    return tuple(tap for tap in TAP_NAMES if tap in remat)


def _regularizer(value):
    """Accept None, a float (meaning L2 with that factor) or any Keras regularizer."""
    if value is None or isinstance(value, keras.regularizers.Regularizer):
        return value
    if isinstance(value, (int, float)):
        return keras.regularizers.L2(float(value)) if value else None
    return keras.regularizers.get(value)


class VideoBackbone(keras.Model):
    """Common constructor: validate the clip shape, build the taps, store args.

    Args:
        apply_taps: ``f(inputs, regularizer, norm_epsilon, width) -> {tap: tensor}``,
            the architecture (given by the subclass); ``width(c)`` scales a
            layer's paper channel count ``c`` by ``width_multiplier``.
        min_input_size: the total (T, H, W) stride at block5; smaller clips
            are rejected.
        input_shape: (frames, height, width, 3); frames/height/width may be
            None. The batch dimension is always unknown.
        kernel_regularizer: None, a float (L2 factor; the paper uses 5e-5) or
            a Keras regularizer, applied to every conv kernel.
        norm_epsilon: epsilon of every instance norm.
        width_multiplier: scales every layer's channel count (rounded, at
            least 1); 1.0 is the paper's network. Smaller values keep the
            layout, strides and taps — e.g. CPU-sized benchmark encoders.
        remat: block names (from ``TAP_NAMES``) recomputed in the backward
            pass instead of stored (see the module docstring); () = none.
    """

    def __init__(
        self,
        apply_taps,
        min_input_size,
        input_shape=(16, 112, 112, 3),
        kernel_regularizer=None,
        norm_epsilon=DEFAULT_NORM_EPSILON,
        width_multiplier=1.0,
        remat=(),
        name=None,
        **kwargs,
    ):
        name = name or type(self).__name__.lower()
        remat = _check_remat(remat, name)
        input_shape = tuple(input_shape)
        _check_input_shape(input_shape, min_input_size, name)
        if not width_multiplier > 0:
            raise ValueError(f"{name}: width_multiplier must be > 0, received {width_multiplier!r}")
        regularizer = _regularizer(kernel_regularizer)
        inputs = keras.Input(shape=input_shape, name="clip")
        taps = apply_taps(inputs, regularizer, norm_epsilon, lambda c: scaled_width(c, width_multiplier))
        super().__init__(inputs=inputs, outputs=taps, name=name, **kwargs)
        self.clip_shape = input_shape
        self.kernel_regularizer = regularizer
        self.norm_epsilon = norm_epsilon
        self.width_multiplier = width_multiplier
        self.remat = remat
        # Block k as its own graph of the same layers: tap k-1 (or the clip) -> tap k.
        bounds = [inputs] + [taps[tap] for tap in TAP_NAMES]
        self._blocks = [keras.Function(a, b, name=f"{name}_{tap}") for tap, a, b in zip(TAP_NAMES, bounds, bounds[1:])]

    def call(self, inputs, training=None, mask=None):
        if not self.remat:
            return super().call(inputs, training=training, mask=mask)
        x, taps = ops.convert_to_tensor(inputs, self.inputs[0].dtype), {}
        for tap, block in zip(TAP_NAMES, self._blocks):
            x = taps[tap] = (keras.remat(block) if tap in self.remat else block)(x)
        return taps

    @property
    def tap_channels(self):
        """{tap name: channels}."""
        return {k: v.shape[-1] for k, v in self.output.items()}

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "input_shape": list(self.clip_shape),
            "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer)
            if self.kernel_regularizer is not None
            else None,
            "norm_epsilon": self.norm_epsilon,
            "width_multiplier": self.width_multiplier,
            "remat": list(self.remat),
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)

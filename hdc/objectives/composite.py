"""Several objectives in one training step, as a weighted sum."""

import keras
from keras import ops

from hdc.objectives.base import Objective


def _union(name, items):
    """Ordered union of tuples; for dicts, also check that shared keys agree."""
    merged = {}
    for objective, values in items:
        for key, value in (values.items() if isinstance(values, dict) else ((v, None) for v in values)):
            if key in merged and merged[key] != value:
                raise ValueError(
                    f"Composite: objectives disagree on {name} {key!r}: {merged[key]!r} vs {value!r} "
                    f"(from {objective.name!r})"
                )
            merged[key] = value
    return merged


@keras.saving.register_keras_serializable(package="hdc")
class Composite(Objective):
    """The weighted sum of several objectives, each logged under its own name.

    The views, raw views, labels and taps are the ordered unions of the
    parts' (one view name is one clip, shared by every part that reads it);
    the total is ``Σ_i weights[i] · loss_i``; every part's outputs appear as
    ``f"{part.name}/{key}"`` (``hdc/sc_block3``, ``hdc/loss``, …). Each part
    gathers only its own candidates, so the sum stays exact across replicas.

    Args:
        objectives: the parts, a list of :class:`Objective` with distinct names.
        weights: one non-negative float per part (default 1 each).
    """

    def __init__(self, objectives, weights=None, **kwargs):
        super().__init__(**kwargs)
        self.parts = list(objectives)
        if not self.parts:
            raise ValueError("Composite needs at least one objective, received none")
        names = [part.name for part in self.parts]
        if len(set(names)) != len(names):
            raise ValueError(f"Composite: objective names must be distinct, received {names}")
        weights = [1.0] * len(self.parts) if weights is None else [float(w) for w in weights]
        if len(weights) != len(self.parts) or min(weights) < 0:
            raise ValueError(
                f"Composite: need one weight >= 0 per objective {names}, received {list(weights)}"
            )
        self.weights_per_part = tuple(weights)
        parts = self.parts
        self._views = tuple(_union("view", [(p, p.views) for p in parts]))
        self._raw_views = tuple(_union("raw view", [(p, p.raw_views) for p in parts]))
        self._view_frames = _union(
            "view_frames of view",
            [(p, {v: p.view_frames.get(v, 1) for v in p.views + p.raw_views}) for p in parts],
        )
        self._labels = _union("label shape of", [(p, {k: tuple(v) for k, v in p.labels.items()}) for p in parts])
        self._taps = tuple(_union("tap", [(p, p.taps) for p in parts]))

    views = property(lambda self: self._views)
    raw_views = property(lambda self: self._raw_views)
    view_frames = property(lambda self: self._view_frames)
    labels = property(lambda self: self._labels)
    taps = property(lambda self: self._taps)

    def attach(self, backbone):
        for part in self.parts:
            part.attach(backbone)

    def embedding(self, taps):
        """The embedding of the first part that defines one."""
        for part in self.parts:
            embedding = part.embedding(taps)
            if embedding is not None:
                return embedding
        return None

    def build(self, view_taps_shape):
        self.built = True  # each part builds itself on its first call

    def call(self, view_taps, gather=None, replica_offset=0, context=None, training=None):
        outputs, terms = {}, []
        for part, weight in zip(self.parts, self.weights_per_part):
            part_outputs = part(view_taps, gather=gather, replica_offset=replica_offset, context=context,
                                training=training)
            terms.append((part_outputs["loss"], weight))
            outputs.update({f"{part.name}/{key}": value for key, value in part_outputs.items()})
        # float32, or float64 when a part computes in float64 (exactness checks)
        dtype = "float64" if any(keras.backend.standardize_dtype(t.dtype) == "float64" for t, _ in terms) else "float32"
        total = sum(ops.cast(term, dtype) * weight for term, weight in terms)
        return {"loss": total, **outputs}

    def get_config(self):
        return {
            **super().get_config(),
            "objectives": [keras.saving.serialize_keras_object(part) for part in self.parts],
            "weights": list(self.weights_per_part),
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["objectives"] = [keras.saving.deserialize_keras_object(c) for c in config["objectives"]]
        return cls(**config)

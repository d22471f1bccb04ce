"""The self-supervised model: a backbone, an objective, and the training step.

``HDCModel(backbone, objective)`` is a ``keras.Model``. Its input is one uint8
tensor (B, V, T, H, W, 3): the V views an objective needs (HDC: u_o, u_s, u_t,
in ``objective.views`` order), stacked on axis 1 so that a dataset element is a
single tensor (MultiWorkerMirroredStrategy with Keras 3 ``fit`` fails on tuple
elements, keras-team/keras#20585).

The forward pass (``call``) is backend-agnostic: pixels are rescaled to
[−1, 1] on the device (HDC §3.3), all views go through the backbone in ONE
batched call (instance norm makes this identical to separate calls), and the
objective turns the taps into a dict of named losses. ``model(views)`` returns
that dict for a single device.

``train_step`` / ``test_step`` use the TensorFlow backend (``hdc.tf_step``):
they gather candidates across replicas so that the negatives are the global
batch, and scale the loss per replica.

Usage in your own code::

    model = HDCModel(models.build_backbone("r3d18", kernel_regularizer=5e-5),
                     HDCObjective())
    model.compile(optimizer=hdc.optim.paper_sgd())
    model.fit(dataset)          # elements: uint8 (B, 3, T, H, W, 3)
"""

import keras
from keras import ops

import hdc.objectives  # noqa: F401  (registers HDCObjective for .keras loading)


def to_unit_range(clips, dtype):
    """uint8 pixels [0, 255] → ``dtype`` in [−1, 1] (HDC §3.3, following [6])."""
    return ops.cast(clips, dtype) / 127.5 - 1.0


@keras.saving.register_keras_serializable(package="hdc")
class HDCModel(keras.Model):
    """A backbone shared by all views plus an objective that owns its heads.

    Args:
        backbone: a model from ``models.build_backbone`` (dict of taps out).
        objective: a layer with ``views``, ``taps`` and
            ``call(view_taps, gather=None, replica_offset=0) -> {name: scalar}``
            whose ``"loss"`` entry is minimised (see ``hdc.objectives``).
        input_views: the names of the views stacked on axis 1 of the input,
            in order; the model feeds the objective the ones it needs (an
            SC-only ablation never runs u_t through the backbone).
    """

    def __init__(self, backbone, objective, input_views=("o", "s", "t"), **kwargs):
        super().__init__(**kwargs)
        self.backbone = backbone
        self.objective = objective
        self.input_views = tuple(input_views)
        missing_views = set(objective.views) - set(self.input_views)
        if missing_views:
            raise ValueError(f"The objective needs views {sorted(missing_views)} absent from {self.input_views}")
        missing = set(objective.taps) - set(backbone.output)
        if missing:
            raise ValueError(f"The objective needs taps {sorted(missing)} that the backbone lacks")
        self._view_index = [self.input_views.index(v) for v in objective.views]
        # A symbolic call builds the heads and names the outputs to track.
        symbolic = objective({v: {t: backbone.output[t] for t in objective.taps} for v in objective.views})
        # "loss" = objective total + weight decay ("l2"); then every named output.
        self.trackers = {"loss": keras.metrics.Mean(name="loss"), "l2": keras.metrics.Mean(name="l2")}
        for name in symbolic:
            key = "objective" if name == "loss" else name
            self.trackers[key] = keras.metrics.Mean(name=key)

    @property
    def metrics(self):
        return list(self.trackers.values())

    def objective_outputs(self, views, training=False, gather=None, replica_offset=0):
        """Views (B, V, T, H, W, 3) uint8 → the objective's dict of losses."""
        shape = ops.shape(views)
        expected = len(self.input_views)
        if len(views.shape) != 6 or views.shape[1] not in (None, expected) or views.shape[-1] != 3:
            raise ValueError(
                f"Expected views shaped (batch, {expected} views {self.input_views}, frames, height, "
                f"width, 3), received {tuple(views.shape)}"
            )
        num_views = len(self._view_index)
        # (B, V, ...) → (V'·B, ...) for the V' views needed: one backbone call.
        views = ops.take(views, self._view_index, axis=1) if num_views < expected else views
        flat = ops.reshape(ops.transpose(views, (1, 0, 2, 3, 4, 5)), (-1,) + tuple(views.shape[2:]))
        taps = self.backbone(to_unit_range(flat, self.backbone.compute_dtype), training=training)
        view_taps = {}
        for tap in self.objective.taps:
            per_view = ops.reshape(taps[tap], (num_views, shape[0]) + tuple(taps[tap].shape[1:]))
            for index, view in enumerate(self.objective.views):
                view_taps.setdefault(view, {})[tap] = per_view[index]
        return self.objective(view_taps, gather=gather, replica_offset=replica_offset)

    def call(self, views, training=False):
        return self.objective_outputs(views, training=training)

    def weight_decay(self):
        """Sum of the regularisation losses (L2 on the conv kernels), float32."""
        losses = [ops.cast(loss, "float32") for loss in self.losses]
        return ops.sum(ops.stack(losses)) if losses else ops.zeros((), "float32")

    def train_step(self, data):
        from hdc import tf_step

        return tf_step.train_step(self, data)

    def test_step(self, data):
        from hdc import tf_step

        return tf_step.test_step(self, data)

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Keras' TF trainer averages the first batch across workers before
        # its symbolic build; collective ops reject uint8, which breaks
        # MultiWorkerMirroredStrategy. A zero batch of the input shape serves.
        if iterator is not None and data_batch is None:
            shape = (1, len(self.input_views)) + tuple(self.backbone.input_shape[1:])
            data_batch = ops.zeros(shape, "uint8")
        return super()._maybe_symbolic_build(data_batch=data_batch)

    def get_config(self):
        return {
            **super().get_config(),
            "backbone": keras.saving.serialize_keras_object(self.backbone),
            "objective": keras.saving.serialize_keras_object(self.objective),
            "input_views": list(self.input_views),
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["backbone"] = keras.saving.deserialize_keras_object(config["backbone"])
        config["objective"] = keras.saving.deserialize_keras_object(config["objective"])
        return cls(**config)

"""The self-supervised model: a backbone, an objective, and the training step.

``HDCModel(backbone, objective)`` is a ``keras.Model``. Its input is one uint8
tensor per batch (``data.packing``): the views the objective needs and its
integer labels, packed per example, because MultiWorkerMirroredStrategy with
Keras 3 ``fit`` fails on tuple and dict elements (keras-team/keras#20585). An
objective without labels whose views share one shape also takes the views
stacked on axis 1, (B, V, T, H, W, 3) (HDC: u_o, u_s, u_t).

The forward pass (``call``) is backend-agnostic: pixels are rescaled to
[−1, 1] on the device (HDC §3.3), the views of each clip length go through
the backbone in ONE batched call (instance norm makes this identical to
separate calls), and the objective (``hdc.objectives``; several of them in a
``Composite``) turns the taps into a dict of named losses.

``train_step`` / ``test_step`` use the TensorFlow backend (``hdc.tf_step``):
they gather candidates across replicas so that the negatives are the global
batch, and scale the loss per replica.

Usage in your own code::

    model = HDCModel(models.build_backbone("r3d18", kernel_regularizer=5e-5),
                     HDCObjective())
    model.compile(optimizer=hdc.optim.make_optimizer())
    model.fit(dataset)          # elements: uint8 (B, 3, T, H, W, 3)
"""

import keras
from keras import ops

from data import packing
from hdc.objectives import context as make_context


def to_unit_range(clips, dtype):
    """uint8 pixels [0, 255] → ``dtype`` in [−1, 1] (HDC §3.3, following [6])."""
    return ops.cast(clips, dtype) / 127.5 - 1.0


@keras.saving.register_keras_serializable(package="hdc")
class HDCModel(keras.Model):
    """A backbone shared by all views plus an objective that owns its heads and state.

    Args:
        backbone: a model from ``models.build_backbone`` (dict of taps out).
        objective: an ``hdc.objectives.Objective`` (e.g. ``HDCObjective`` or a
            ``Composite``).
        input_views: the views packed in the input, in order (default: the
            objective's views then its other raw views). Extra views are accepted and
            never computed (an SC-only HDC ablation can read a 3-view batch).
        clip_shape: (T, H, W, 3) of a 1× view (default: the backbone's input
            shape, which must then be fully known). Views of m·T frames need
            a backbone built with ``frames=None``.
        total_steps: steps of the whole run, for objectives whose terms depend
            on training progress (None: unknown).
    """

    def __init__(self, backbone, objective, input_views=None, clip_shape=None, total_steps=None, **kwargs):
        super().__init__(**kwargs)
        self.backbone = backbone
        self.objective = objective
        self.total_steps = total_steps
        needed = objective.input_views
        self.input_views = tuple(input_views) if input_views is not None else needed
        missing = set(needed) - set(self.input_views)
        if missing:
            raise ValueError(f"The objective needs views {sorted(missing)} absent from {self.input_views}")
        missing = set(objective.taps) - set(backbone.output)
        if missing:
            raise ValueError(f"The objective needs taps {sorted(missing)} that the backbone lacks")
        self.clip_shape = tuple(clip_shape or backbone.input_shape[1:])
        self.layout = packing.make_layout(self.input_views, objective.labels, self.clip_shape, objective.view_frames)
        self._check_backbone_frames(backbone)
        objective.attach(backbone)
        taps, context = self._symbolic_inputs()
        symbolic = objective(taps, context=context)  # builds heads and state; names the outputs
        # "loss" = objective total + weight decay ("l2"); then every named output.
        self.trackers = {"loss": keras.metrics.Mean(name="loss"), "l2": keras.metrics.Mean(name="l2")}
        for name in symbolic:
            key = "objective" if name == "loss" else name
            self.trackers[key] = keras.metrics.Mean(name=key)

    def _check_backbone_frames(self, backbone):
        frames = backbone.input_shape[1]
        for field in self.layout:
            if field.kind == packing.VIEW and frames is not None and field.shape[0] != frames:
                raise ValueError(
                    f"View {field.name!r} has {field.shape[0]} frames but the backbone takes {frames}; "
                    "build the backbone with input_shape=(None, H, W, 3) for views of several lengths"
                )

    def _symbolic_inputs(self):
        shapes = {f.name: f.shape for f in self.layout}
        dtype = self.backbone.compute_dtype
        taps = {}
        for view in self.objective.views:
            out = self.backbone.compute_output_spec(keras.KerasTensor((None, *shapes[view]), dtype))
            taps[view] = {tap: out[tap] for tap in self.objective.taps}
        context = make_context(
            clips={v: keras.KerasTensor((None, *shapes[v]), dtype) for v in self.objective.raw_views},
            labels={f.name: keras.KerasTensor((None, *f.shape), "int32") for f in self.layout if f.kind == "label"},
        )
        context["step"], context["progress"] = keras.KerasTensor((), "int64"), keras.KerasTensor((), "float32")
        return taps, context

    @property
    def metrics(self):
        return list(self.trackers.values())

    def _step(self):
        optimizer = getattr(self, "optimizer", None)
        return optimizer.iterations if optimizer is not None else 0

    def objective_outputs(self, inputs, training=False, gather=None, replica_offset=0):
        """Packed uint8 inputs → the objective's dict of losses."""
        views, labels = packing.unpack(inputs, self.layout)
        dtype = self.backbone.compute_dtype
        # One backbone call per clip length, the views in objective order.
        groups = {}
        for view in self.objective.views:
            groups.setdefault(views[view].shape[1], []).append(view)
        view_taps = {}
        for names in groups.values():
            clips = ops.concatenate([views[v] for v in names], axis=0) if len(names) > 1 else views[names[0]]
            taps = self.backbone(to_unit_range(clips, dtype), training=training)
            for tap in self.objective.taps:
                per_view = ops.reshape(taps[tap], (len(names), -1) + tuple(taps[tap].shape[1:]))
                for index, view in enumerate(names):
                    view_taps.setdefault(view, {})[tap] = per_view[index]
        context = make_context(
            clips={v: to_unit_range(views[v], dtype) for v in self.objective.raw_views},
            labels=labels,
            step=self._step(),
            total_steps=self.total_steps,
        )
        return self.objective(
            view_taps, gather=gather, replica_offset=replica_offset, context=context, training=training
        )

    def call(self, inputs, training=False):
        return self.objective_outputs(inputs, training=training)

    def weight_decay(self):
        """Sum of the regularisation losses (L2 on the conv kernels), float32
        (float64 when the weights are float64)."""
        dtype = "float64" if any(keras.backend.standardize_dtype(x.dtype) == "float64" for x in self.losses) else "float32"
        losses = [ops.cast(loss, dtype) for loss in self.losses]
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
        # MultiWorkerMirroredStrategy. A zero batch of the element size serves.
        if iterator is not None and data_batch is None:
            data_batch = ops.zeros((2, packing.element_size(self.layout)), "uint8")  # even: pair objectives
        return super()._maybe_symbolic_build(data_batch=data_batch)

    def get_config(self):
        return {
            **super().get_config(),
            "backbone": keras.saving.serialize_keras_object(self.backbone),
            "objective": keras.saving.serialize_keras_object(self.objective),
            "input_views": list(self.input_views),
            "clip_shape": list(self.clip_shape),
            "total_steps": self.total_steps,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["backbone"] = keras.saving.deserialize_keras_object(config["backbone"])
        config["objective"] = keras.saving.deserialize_keras_object(config["objective"])
        return cls(**config)

"""A toy stateful objective for the tests: a momentum key encoder (backbone and
head), a queue of past keys, and a per-example label.

Queries are u_a's projected block-5 features; keys come from view b through the
momentum copy; the loss is InfoNCE against [global keys; queue] plus a small
label-weighted term, so labels, queue and EMA all change the numbers."""

import keras
from keras import ops

from hdc import losses
from hdc.objectives import MomentumCopy, Objective, Queue
from hdc.pooling import global_pool


@keras.saving.register_keras_serializable(package="tests")
class ToyMomentumQueue(Objective):
    views, raw_views, taps = ("a",), ("b",), ("block5",)
    labels = {"toy_label": ()}

    def __init__(self, dim=8, queue_size=16, momentum=0.9, **kwargs):
        super().__init__(**kwargs)
        self.dim, self.queue_size, self.momentum = dim, queue_size, momentum
        self.head = keras.layers.Dense(dim, name="head")
        self.queue = Queue(queue_size, dim, initializer="random_normal", name="queue")

    def attach(self, backbone):
        self.head.build((None, backbone.output["block5"].shape[-1]))
        self.key_backbone = MomentumCopy(backbone, name="key_backbone")
        self.key_head = MomentumCopy(self.head, name="key_head")

    def build(self, view_taps_shape):
        self.built = True

    def call(self, view_taps, gather=None, replica_offset=0, context=None, training=None):
        q = self.head(global_pool(view_taps["a"]["block5"]))
        if training:  # MoCo's order: update the key encoder, then encode the keys
            self.key_backbone.update(self.momentum)
            self.key_head.update(self.momentum)
        k = self.key_head(global_pool(self.key_backbone(context["clips"]["b"])["block5"]))
        keys = gather(k) if gather is not None else k
        candidates = ops.concatenate([keys, ops.cast(self.queue.values.value, keys.dtype)], axis=0)
        result = losses.info_nce_with_metrics(q, candidates, 0.2, replica_offset)
        label = ops.cast(context["labels"]["toy_label"], q.dtype)
        loss = result["loss"] + 0.01 * ops.mean(label * q[:, 0])
        if training:
            self.queue.push(keys)
        return {"loss": loss, "nce": result["loss"], "label_mean": ops.mean(label)}

    def get_config(self):
        return {**super().get_config(), "dim": self.dim, "queue_size": self.queue_size, "momentum": self.momentum}

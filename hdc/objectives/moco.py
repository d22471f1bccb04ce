"""videoMoCo v1 and v2 (video-simclr-moco-thesis §3, Eq. 2; MoCo's algorithm)."""

import keras

from hdc import losses
from hdc.heads import mlp
from hdc.objectives.base import Objective
from hdc.objectives.state import MomentumCopy, Queue
from hdc.pooling import global_pool


@keras.saving.register_keras_serializable(package="hdc")
class MoCoObjective(Objective):
    """A query encoder (the online backbone + head) and a momentum key encoder
    (an EMA copy of both), a queue of K keys, and InfoNCE (Eq. 2,
    ``hdc.losses.moco_loss``) of each query against its key and the queue.

    Per step, in MoCo's order: encode the queries; update the key encoder
    θ_k ← m·θ_k + (1 − m)·θ_q; encode the keys (no gradient); the loss; then
    enqueue the keys of the whole global batch (gathered, so every replica
    holds the same queue), oldest out. Instance norm has no cross-example
    statistics, so MoCo's shuffle-BN is unnecessary here.

    Args:
        version: 1 = one linear layer to ``dim`` after pooling; 2 = an MLP
            (``hidden`` → ``dim``, ReLU), as in the thesis code (MoCo v2's
            ``--mlp`` on a 512-d encoder: 512 → 512 → 128). v2's stronger
            augmentation and cosine schedule are the ``moco`` preset's.
        dim: key/query width (128).
        queue_size: K; a multiple of the global batch (8192 for UCF101-sized
            data, 1024 for HMDB51, thesis Table 5).
        momentum: m (0.999).
        temperature: τ (0.07).
    View "a" is the query clip (online backbone), raw view "b" the key clip.
    """

    views, raw_views = ("a",), ("b",)

    def __init__(self, version=2, dim=128, hidden=512, queue_size=8192, momentum=0.999, temperature=0.07,
                 tap="block5", **kwargs):
        super().__init__(**kwargs)
        checks = [(version in (1, 2), "version", version, "1 or 2"),
                  (0 <= momentum < 1, "momentum", momentum, "in [0, 1)"),
                  (temperature > 0, "temperature", temperature, "> 0")]
        for ok, field, value, expected in checks:
            if not ok:
                raise ValueError(f"MoCoObjective: {field} must be {expected}, received {value!r}")
        self.version, self.dim, self.hidden = int(version), int(dim), int(hidden)
        self.queue_size, self.momentum, self.temperature, self.tap = int(queue_size), momentum, temperature, tap
        widths = (self.dim,) if self.version == 1 else (self.hidden, self.dim)
        self.head = mlp(widths, name="head", dtype=self.dtype_policy)
        # MoCo starts from random unit keys; the loss normalises them.
        self.queue = Queue(self.queue_size, self.dim, initializer="random_normal", name="queue")

    @property
    def taps(self):
        return (self.tap,)

    def attach(self, backbone):
        self.head.build((None, backbone.output[self.tap].shape[-1]))
        self.key_backbone = MomentumCopy(backbone, name="key_backbone")
        self.key_head = MomentumCopy(self.head, name="key_head")

    def embedding(self, taps):
        """The query encoder's output q (the exported embedding)."""
        return self.head(global_pool(taps[self.tap]))

    def call(self, view_taps, gather=None, replica_offset=0, context=None, training=None):
        q = self.embedding(view_taps["a"])
        if training:
            self.key_backbone.update(self.momentum)
            self.key_head.update(self.momentum)
        k = self.key_head(global_pool(self.key_backbone(context["clips"]["b"])[self.tap]))
        result = losses.moco_loss_with_metrics(q, k, self.queue.values.value, self.temperature)
        if training:
            keys = gather(k) if gather is not None else k
            if keys.shape[0] is not None and self.queue_size % keys.shape[0]:
                raise ValueError(f"MoCoObjective: queue_size {self.queue_size} must be a multiple of the global "
                                 f"batch {keys.shape[0]}")
            self.queue.push(losses.l2_normalize(keys))
        return {"loss": result["loss"], "accuracy": result["accuracy"]}

    def get_config(self):
        return {**super().get_config(), "version": self.version, "dim": self.dim, "hidden": self.hidden,
                "queue_size": self.queue_size, "momentum": self.momentum, "temperature": self.temperature,
                "tap": self.tap}

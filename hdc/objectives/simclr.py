"""videoSimCLR (video-simclr-moco-thesis §3): NT-Xent between two views of a video."""

import keras

from hdc import losses
from hdc.heads import mlp
from hdc.objectives.base import Objective
from hdc.pooling import global_pool


@keras.saving.register_keras_serializable(package="hdc")
class SimCLRObjective(Objective):
    """Base encoder → global average pooling (h ∈ R^512 for 3D-ResNet18) → MLP
    (thesis §3: ReLU between its layers; 512 → 512 → 256 in the thesis code)
    → NT-Xent (Eq. 1, ``hdc.losses.nt_xent``) over the global batch.

    Args:
        hidden: widths of the MLP's hidden layers.
        out_dim: width of its output, the contrast space (256).
        temperature: τ of Eq. 1 (0.5, the thesis code's; the text gives none).
        tap: the backbone tap pooled into h.
    Views "a" and "b" are the two augmented clips (``data.recipes.PairRecipe``).
    """

    views = ("a", "b")

    def __init__(self, hidden=(512,), out_dim=256, temperature=0.5, tap="block5", **kwargs):
        super().__init__(**kwargs)
        if not temperature > 0:
            raise ValueError(f"SimCLRObjective: temperature must be > 0, received {temperature!r}")
        self.hidden, self.out_dim = tuple(int(w) for w in hidden), int(out_dim)
        self.temperature, self.tap = float(temperature), tap
        self.head = mlp(self.hidden + (self.out_dim,), name="head", dtype=self.dtype_policy)

    @property
    def taps(self):
        return (self.tap,)

    def embedding(self, taps):
        """F(clip) = MLP(h), the 256-d vector the thesis retrieves with (§3)."""
        return self.head(global_pool(taps[self.tap]))

    def call(self, view_taps, gather=None, replica_offset=0, context=None, training=None):
        z_a, z_b = (self.embedding(view_taps[v]) for v in self.views)
        all_a, all_b = (gather(z_a), gather(z_b)) if gather is not None else (z_a, z_b)
        result = losses.nt_xent_with_metrics(z_a, z_b, self.temperature, replica_offset, all_a, all_b)
        return {"loss": result["loss"], "accuracy": result["accuracy"]}

    def get_config(self):
        return {**super().get_config(), "hidden": list(self.hidden), "out_dim": self.out_dim,
                "temperature": self.temperature, "tap": self.tap}

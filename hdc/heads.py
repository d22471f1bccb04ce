"""Projection heads (HDC §3.3): linear maps from pooled features to the
contrast space, one per view per block."""

import keras


class ProjectionHeads(keras.layers.Layer):
    """The projections g_v^k: one linear ``Dense(proj_dim)`` per (view v, tap k).

    HDC §3.3 names three projections per scale, g_o^k, g_s^k and g_t^k, for
    v_o^k, v_s^k and v_t^k. We read this as one g_o^k per scale, shared by
    u_o's two uses: it projects the per-time-step vectors v_o^{k,n} for
    Spatial Contrast (Eq. 4) and the global vector v_o^k for Temporal
    Contrast (Eq. 5). The paper defines no second u_o projection, and the two
    uses agree: g_o^k is affine and the global average is the time average of
    the spatial averages, so g_o^k(v_o^k) is the mean over n of g_o^k(v_o^{k,n}).

    Args:
        pairs: the (view, tap) pairs that get a head, e.g. (("o", "block3"), …).
        proj_dim: output width (128 in the paper).

    ``build({view: {tap: channels}})`` creates the weights; ``project(view,
    tap, x)`` maps (..., C) to (..., proj_dim). Sublayer names are
    ``f"{view}_{tap}"``.
    """

    def __init__(self, pairs, proj_dim=128, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(proj_dim, int) or proj_dim < 1:
            raise ValueError(f"proj_dim must be a positive integer, received {proj_dim!r}")
        self.pairs = tuple((str(view), str(tap)) for view, tap in pairs)
        if not self.pairs:
            raise ValueError("ProjectionHeads needs at least one (view, tap) pair, received none")
        self.proj_dim = proj_dim
        self.dense = {
            f"{view}_{tap}": keras.layers.Dense(proj_dim, name=f"{view}_{tap}", dtype=self.dtype_policy)
            for view, tap in self.pairs
        }

    def build(self, channels):
        for view, tap in self.pairs:
            self.dense[f"{view}_{tap}"].build((None, channels[view][tap]))
        self.built = True

    def project(self, view, tap, x):
        """Apply g_view^tap to the last axis of ``x``."""
        return self.dense[f"{view}_{tap}"](x)

    def get_config(self):
        return {**super().get_config(), "pairs": [list(p) for p in self.pairs], "proj_dim": self.proj_dim}


def mlp(widths, name, dtype=None, batch_norm=False):
    """Dense layers of the given ``widths`` with ReLU between them (none after
    the last): the MLP projection heads of SimCLR-style objectives.

    ``batch_norm``: every hidden layer is Dense → BatchNormalization → ReLU, as
    in SimCLR's [10] and SimSiam's [11] heads. The statistics are the global
    batch's on every replica (``synchronized``), so R replicas compute one
    device's loss.
    """
    layers = []
    for i, width in enumerate(widths):
        hidden = i < len(widths) - 1
        if hidden and batch_norm:
            layers += [
                keras.layers.Dense(width, use_bias=False, name=f"{name}_dense{i}", dtype=dtype),
                keras.layers.BatchNormalization(synchronized=True, name=f"{name}_norm{i}", dtype=dtype),
                keras.layers.ReLU(name=f"{name}_relu{i}", dtype=dtype),
            ]
        else:
            layers.append(keras.layers.Dense(width, activation="relu" if hidden else None, name=f"{name}_dense{i}",
                                             dtype=dtype))
    return keras.Sequential(layers, name=name)

"""HDC's objective: HD-NCE over blocks 3–5 (HDC §3.1–3.3, Eqs. 4–6)."""

import keras

from hdc import losses
from hdc.heads import ProjectionHeads
from hdc.objectives.base import Objective
from hdc.pooling import global_pool, spatial_pool

# How each HDC contrast pools its taps, which view gives its candidates, and its loss.
_CONTRASTS = {
    "sc": (spatial_pool, "s", losses.spatial_contrast_with_metrics),  # Eq. 4
    "tc": (global_pool, "t", losses.temporal_contrast_with_metrics),  # Eq. 5
}


@keras.saving.register_keras_serializable(package="hdc")
class HDCObjective(Objective):
    """HDC's HD-NCE objective (HDC §3.1–3.3, Eq. 6) with its projection heads.

    For each block k in ``sc_blocks``, Spatial Contrast (Eq. 4) matches the
    spatially pooled, projected u_o and u_s taps time step by time step; for
    each block in ``tc_blocks``, Temporal Contrast (Eq. 5) matches the
    globally pooled, projected u_o and u_t taps. The anchors are always u_o.

    Args:
        sc_blocks, tc_blocks: blocks with Spatial / Temporal Contrast on; either
            may be empty (Table 1 ablations) but not both.
        alpha, beta: α_k, β_k of Eq. 6, one per entry of ``blocks``; a weight
            is used only where its block is on.
        temperature: τ (0.07 in §3.3).
        proj_dim: width of the linear projections (128 in §3.3).
        blocks: the block numbers ``alpha`` and ``beta`` refer to; block k is
            read from tap ``f"block{k}"``.
    """

    def __init__(
        self,
        sc_blocks=losses.HDC_BLOCKS,
        tc_blocks=losses.HDC_BLOCKS,
        alpha=losses.HDC_WEIGHTS,
        beta=losses.HDC_WEIGHTS,
        temperature=0.07,
        proj_dim=128,
        blocks=losses.HDC_BLOCKS,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.blocks = tuple(blocks)
        if len(set(self.blocks)) != len(self.blocks) or not all(isinstance(b, int) for b in self.blocks):
            raise ValueError(f"HDCObjective: blocks must be distinct integers, received {blocks!r}")
        self.sc_blocks = tuple(b for b in self.blocks if b in sc_blocks)
        self.tc_blocks = tuple(b for b in self.blocks if b in tc_blocks)
        for name, given in (("sc_blocks", sc_blocks), ("tc_blocks", tc_blocks)):
            unknown = [b for b in given if b not in self.blocks]
            if unknown:
                raise ValueError(f"HDCObjective: {name} has unknown blocks {unknown}; known blocks {self.blocks}")
        if not isinstance(temperature, (int, float)) or not temperature > 0:
            raise ValueError(f"HDCObjective: temperature must be a number > 0, received {temperature!r}")
        self.alpha, self.beta = tuple(alpha), tuple(beta)
        self.temperature = float(temperature)
        try:  # hd_nce checks the weights and that some term is on; fail here, not in training
            losses.hd_nce(dict.fromkeys(self.sc_blocks, 0.0), dict.fromkeys(self.tc_blocks, 0.0),
                          self.alpha, self.beta, self.blocks)
        except ValueError as error:
            raise ValueError(f"HDCObjective: {error}") from None
        self.proj_dim = proj_dim
        self.heads = ProjectionHeads(self._head_pairs(), proj_dim, name="heads", dtype=self.dtype_policy)

    @property
    def views(self):
        """Views needed, in pipeline order: u_o, then u_s if SC is on, u_t if TC is on."""
        return ("o",) + ("s",) * bool(self.sc_blocks) + ("t",) * bool(self.tc_blocks)

    @property
    def taps(self):
        """Backbone taps read, in block order."""
        return tuple(f"block{b}" for b in self.blocks if b in self.sc_blocks + self.tc_blocks)

    def _terms(self):
        """(kind, block) of every contrast that is on, SC first, in block order."""
        return [("sc", b) for b in self.sc_blocks] + [("tc", b) for b in self.tc_blocks]

    def _head_pairs(self):
        pairs = [("o", f"block{b}") for b in self.blocks if b in self.sc_blocks + self.tc_blocks]
        return pairs + [(_CONTRASTS[kind][1], f"block{b}") for kind, b in self._terms()]

    def build(self, view_taps_shape):
        channels = {}
        for view, tap in self.heads.pairs:
            shape = self._tap(view_taps_shape, view, tap)
            channels.setdefault(view, {})[tap] = shape[-1]
        self._tap_channels = channels
        self.heads.build(channels)
        self.built = True

    def get_build_config(self):
        return {"tap_channels": self._tap_channels} if self.built else None

    def build_from_config(self, config):
        if config:
            shapes = {v: {t: (None, None, None, None, c) for t, c in taps.items()}
                      for v, taps in config["tap_channels"].items()}
            self.build(shapes)

    def _tap(self, view_taps, view, tap):
        if view not in view_taps:
            raise ValueError(f"HDCObjective needs view {view!r}; received views {sorted(view_taps)}")
        if tap not in view_taps[view]:
            raise ValueError(f"HDCObjective needs tap {tap!r} of view {view!r}; received {sorted(view_taps[view])}")
        return view_taps[view][tap]

    def embed(self, view_taps):
        """Pooled, projected embeddings: {(kind, block): (anchors, candidates)}.

        SC ("sc") pairs are (B, N, proj_dim) (spatial pooling, one vector per
        time step); TC ("tc") pairs are (B, proj_dim) (global pooling).
        """
        pairs = {}
        for kind, block in self._terms():
            pool, view, _ = _CONTRASTS[kind]
            tap = f"block{block}"
            pairs[kind, block] = tuple(
                self.heads.project(v, tap, pool(self._tap(view_taps, v, tap))) for v in ("o", view)
            )
        return pairs

    def embedding(self, taps):
        """u_o's projection of the globally pooled deepest tap it reads (block 5 by default)."""
        last = self.taps[-1]
        return self.heads.project("o", last, global_pool(taps[last]))

    def call(self, view_taps, gather=None, replica_offset=0, context=None, training=None):
        """HD-NCE on one replica's taps (arguments: ``hdc.objectives.base``).

        Returns {"loss": Eq. 6 total, "sc_block3": L_s^3, …, "tc_block5": L_t^5,
        "sc_block3_acc": contrast accuracy, …}, float32 scalars, only for the
        terms that are on. Candidates (u_s, u_t embeddings) are passed through
        ``gather`` SC first then TC, each in block order, the same on every replica.
        """
        term_losses, metrics = {"sc": {}, "tc": {}}, {}
        for (kind, block), (anchors, candidates) in self.embed(view_taps).items():
            if gather is not None:
                candidates = gather(candidates)
            result = _CONTRASTS[kind][2](anchors, candidates, self.temperature, replica_offset)
            term_losses[kind][block] = result["loss"]
            metrics[f"{kind}_block{block}_acc"] = result["accuracy"]
        total, terms = losses.hd_nce(term_losses["sc"], term_losses["tc"], self.alpha, self.beta, self.blocks)
        return {"loss": total, **terms, **metrics}

    def get_config(self):
        return {
            **super().get_config(),
            "sc_blocks": list(self.sc_blocks),
            "tc_blocks": list(self.tc_blocks),
            "alpha": list(self.alpha),
            "beta": list(self.beta),
            "temperature": self.temperature,
            "proj_dim": self.proj_dim,
            "blocks": list(self.blocks),
        }

"""Time-equivariant contrastive learning (Jenni & Jin, time-equivariant §3,
Eqs. 1–3): relative-transformation contrast L_equi, the auxiliary speed /
direction / overlap-order classifiers L_aux and instance contrast L_inst."""

import keras
from keras import ops

from hdc import losses
from hdc.heads import mlp
from hdc.objectives.base import Objective
from hdc.pooling import global_pool

TERMS = ("inst", "equi", "speed", "direction", "order")
EQUIVARIANCES = ("temporal", "spatial", "spatiotemporal")
MAX_SPEEDS = 4  # len(data.temporal.SPEEDS): 1×, 2×, 4×, 8× (§3.2)
# Auxiliary classifiers (§3.2): the labels each reads, one per clip or one per pair,
# and its classes (None: num_speeds). Order numbering of data.temporal: 0 = q
# before p, 1 = q after p, 2 = overlap.
_AUX = {
    "speed": (("te_speed_p", "te_speed_q"), None),
    "direction": (("te_direction_p", "te_direction_q"), 2),
    "order": (("te_order",), 3),
}
_ON_PAIR = ("equi", "order")  # heads on [F(p); F(q)]; the others on F of each clip
_MLP_NAMES = {"inst": "phi", "equi": "psi"}  # the contrast MLPs ϕ, ψ (§3.3, §3.1)


@keras.saving.register_keras_serializable(package="hdc")
class TEObjective(Objective):
    """Time-equivariant contrastive learning (time-equivariant §3) on clips p, q.

    F(x) is the globally pooled block-5 feature (§3.4: "the output of the
    global pooling layer"), D its width. On each example's two clips
    (``data.recipes.TERecipe``; partners 2k, 2k + 1 of the global batch share
    the relative transformation, Fig. 3) the terms are:

    - ``"equi"``: L_equi (§3.1, Eqs. 1–2, ``hdc.losses.equivariance_contrast``)
      on ψ([F(p); F(q)]), ψ an MLP 2D → D → D → D (§3.4: "two hidden layers
      and preserve the original feature dimension"). Which rows share a
      relative transformation depends on ``equivariance`` (below).
    - ``"inst"``: L_inst (§3.3, Eq. 3, ``hdc.losses.instance_contrast``) on
      ϕ(F(p)), ϕ(F(q)), ϕ an MLP D → D → D → D, a different MLP from ψ (Fig. 4).
    - ``"speed"``, ``"direction"``: classifiers of each clip's playback speed
      (``num_speeds`` classes) and direction (2) on F of the clip, one
      classifier shared by p and q (§3.2: "a separate non-linear classifier
      on the feature representation F(x)"); the loss is the mean
      cross-entropy over the 2B clips.
    - ``"order"``: the 3-way overlap/order classifier on [F(p); F(q)] (§3.2).

    Each classifier has one hidden layer (§3.4) of width ``aux_hidden``; the
    paper gives neither that width nor the activation of any MLP, and no
    public code of the authors was found: widths default to D, the width §3.4
    gives ψ and ϕ, and every activation is ReLU, as in SimCLR's head [10]
    (``hdc.heads.mlp``).

    Batch norm in the heads' hidden layers (``head_batch_norm``, default on;
    not in the paper, which names no normalisation: SimCLR's [10] and
    SimSiam's [11] MLP heads, the works §3.1 follows, have it). Our backbones
    end in instance norm and ReLU, so the globally pooled F is nearly the same
    vector for every clip (C3D ×0.25 at 8×64×64, at initialisation: cosine
    0.996 between different videos' F, between-clip std 6% of the mean). Plain
    MLPs then give every candidate the same logit: L_inst sat at ln(2B − 1)
    exactly and no term learned (issue 24). The statistics are the global
    batch's on every replica (synchronised), so R replicas still compute one
    device's loss.

    The total is Σ weights[t]·L_t over the terms that are on; the paper gives
    no weights (its Table 1 sums the terms), so they default to 1. Outputs:
    ``loss``, every term that is on by name with its accuracy
    (``"<term>_acc"``), and ``"equi_kept"`` (the fraction of rows whose
    partner shares their transformation id; the others are left out of L_equi,
    see ``hdc.losses.equivariance_contrast``).

    Args:
        terms: the terms that are on, a non-empty subset of
            ``("inst", "equi", "speed", "direction", "order")``. Table 1:
            (a), (e) L_inst: ("inst",); (f) ("equi",); (g) L_aux: ("speed",
            "direction", "order"); (h)–(j) two of L_inst, L_equi, L_aux;
            (k) = (o) = (d): all five; (l)–(n) L_inst + L_equi with the
            classifiers "speed" / "speed", "order" / "speed", "direction".
        weights: one weight >= 0 per entry of ``TERMS`` (used where on).
        equivariance: what L_equi is equivariant to (Table 1 (b)–(d)):
            ``"temporal"`` (default, (d)): rows share a transformation iff their
            ``te_transform_id`` labels are equal: the exact relative
            transformation (speeds, directions and the signed offset between
            the clips, ``data.temporal.transform_id``), so every other pair of
            the batch is a negative unless drawn identical; σ_p, σ_q are
            independent, so F learns spatial invariance. ``"spatial"`` ((b); §4.1: "𝒯 consists
            of only spatial augmentations", with "consistent temporal
            augmentations"): the relative transformation is the spatial draw
            pair (σ_p, σ_q) of crops, scales and flips, continuous, which
            partners share and no other pair does, so each partner pair is its
            own transformation (the id is the pair's global index); the data
            must give p and q the same frames and share the geometric part of
            (σ_p, σ_q) between partners (colour jitter stays per clip: §3 puts
            it in the invariance set S). ``"spatiotemporal"``
            ((c)): both, so rows match iff they are partners and their
            temporal ids are equal; the data shares (σ_p, σ_q) between
            partners as well as the temporal transformation.
        temperature: λ of Eq. 2 (0.1, §3.1), for L_equi and L_inst.
        num_speeds: speed classes of the speed head (4: 1×, 2×, 4×, 8×; equal
            to the data recipe's ``num_speeds``).
        aux_hidden: width of the classifiers' hidden layer (None: D).
        tap: the backbone tap pooled into F (``"block5"``).
        head_batch_norm: batch norm in the hidden layers of ψ, ϕ and the
            classifiers (above).

    Views ``"p"``, ``"q"``; labels (int32, per example) only those the active
    terms read: ``te_transform_id`` (L_equi, temporal and spatio-temporal),
    ``te_speed_p/q``, ``te_direction_p/q``, ``te_order``.
    """

    views = ("p", "q")

    def __init__(self, terms=TERMS, weights=(1.0,) * len(TERMS), equivariance="temporal", temperature=0.1,
                 num_speeds=MAX_SPEEDS, aux_hidden=None, tap="block5", head_batch_norm=True, **kwargs):
        super().__init__(**kwargs)
        terms = tuple(terms)
        checks = [
            (bool(terms) and set(terms) <= set(TERMS) and len(set(terms)) == len(terms), "terms", terms,
             f"distinct names from {TERMS}, at least one"),
            (len(weights) == len(TERMS) and all(isinstance(w, (int, float)) and w >= 0 for w in weights),
             "weights", tuple(weights), f"one number >= 0 per term of {TERMS}"),
            (equivariance in EQUIVARIANCES, "equivariance", equivariance, f"one of {EQUIVARIANCES}"),
            (isinstance(temperature, (int, float)) and temperature > 0, "temperature", temperature, "> 0"),
            (isinstance(num_speeds, int) and 1 <= num_speeds <= MAX_SPEEDS, "num_speeds", num_speeds,
             f"an integer in 1..{MAX_SPEEDS}"),
            (aux_hidden is None or (isinstance(aux_hidden, int) and aux_hidden > 0), "aux_hidden", aux_hidden,
             "None or a positive integer"),
        ]
        for ok, field, value, expected in checks:
            if not ok:
                raise ValueError(f"TEObjective: {field} must be {expected}, received {value!r}")
        self.terms = tuple(t for t in TERMS if t in terms)
        self.weights_per_term = {t: float(w) for t, w in zip(TERMS, weights)}
        self.equivariance, self.temperature, self.num_speeds = equivariance, float(temperature), num_speeds
        self.aux_hidden, self.tap, self.head_batch_norm = aux_hidden, tap, bool(head_batch_norm)

    @property
    def taps(self):
        return (self.tap,)

    @property
    def labels(self):
        names = ["te_transform_id"] if "equi" in self.terms and self.equivariance != "spatial" else []
        for term in self.terms:
            if term in _AUX:
                names.extend(_AUX[term][0])
        return {name: () for name in names}

    def build(self, view_taps_shape):
        dim = view_taps_shape["p"][self.tap][-1]
        heads = {}
        for term in self.terms:
            if term in _AUX:  # one hidden layer (§3.4)
                widths, name = (self.aux_hidden or dim, _AUX[term][1] or self.num_speeds), f"{term}_head"
            else:  # ϕ, ψ: two hidden layers of width D, output D (§3.4)
                widths, name = (dim,) * 3, _MLP_NAMES[term]
            heads[term] = mlp(widths, name=name, dtype=self.dtype_policy, batch_norm=self.head_batch_norm)
            heads[term].build((None, 2 * dim if term in _ON_PAIR else dim))
        self.heads = heads
        self.built = True

    def embedding(self, taps):
        """F(x): the globally pooled tap, the representation §3.4 evaluates
        ("we always consider as learned representation F(x) the output of the
        global pooling layer"), not an MLP's output."""
        return global_pool(taps[self.tap])

    def _transform_ids(self, labels, batch, replica_offset):
        """Ids of the local rows' relative transformations (see ``equivariance``)."""
        if self.equivariance == "temporal":
            return ops.cast(labels["te_transform_id"], "int32")
        rows = ops.arange(batch, dtype="int32")
        pair = 2 * ((rows + ops.cast(replica_offset, "int32")) // 2)
        if self.equivariance == "spatial":
            return pair
        # Spatio-temporal: partners match iff their temporal ids do too (partners share a replica).
        temporal = ops.cast(labels["te_transform_id"], "int32")
        same = ops.equal(temporal, ops.take(temporal, rows + 1 - 2 * (rows % 2)))
        return pair + ops.where(same, 0, rows % 2)

    def _classify(self, term, f_p, f_q, labels):
        """Cross-entropy and accuracy of an auxiliary classifier (§3.2)."""
        names, _ = _AUX[term]
        if term in _ON_PAIR:
            features, targets = ops.concatenate([f_p, f_q], axis=-1), ops.cast(labels[names[0]], "int32")
        else:
            features = ops.concatenate([f_p, f_q], axis=0)
            targets = ops.concatenate([ops.cast(labels[n], "int32") for n in names], axis=0)
        logits = self.heads[term](features)
        logits = ops.cast(logits, losses.loss_dtype(logits))
        loss = ops.mean(ops.sparse_categorical_crossentropy(targets, logits, from_logits=True))
        hits = ops.equal(ops.cast(ops.argmax(logits, axis=-1), "int32"), targets)
        return loss, ops.mean(ops.cast(hits, logits.dtype))

    def call(self, view_taps, gather=None, replica_offset=0, context=None, training=None):
        """The weighted sum of the terms that are on (arguments: ``hdc.objectives.base``).

        Candidates (ϕ of p, ϕ of q, then ψ and its ids) go through ``gather``
        in that order, the same on every replica. Raises ValueError for an odd
        local batch when L_equi is on: partners 2k, 2k + 1 must share a replica.
        """
        f_p, f_q = (self.embedding(view_taps[v]) for v in self.views)
        labels = (context or {}).get("labels", {})
        batch = f_p.shape[0]
        if "equi" in self.terms and batch is not None and batch % 2:
            raise ValueError(
                f"TEObjective: L_equi needs partner pairs (rows 2k, 2k + 1) on one replica, so an even "
                f"local batch; received {batch} clips"
            )
        everywhere = gather if gather is not None else (lambda z: z)
        outputs = {}
        for term in self.terms:
            if term == "inst":
                phi_p, phi_q = self.heads[term](f_p), self.heads[term](f_q)
                result = losses.instance_contrast_with_metrics(
                    phi_p, phi_q, self.temperature, replica_offset, everywhere(phi_p), everywhere(phi_q))
                outputs[term], outputs[f"{term}_acc"] = result["loss"], result["accuracy"]
            elif term == "equi":
                psi = self.heads[term](ops.concatenate([f_p, f_q], axis=-1))
                ids = self._transform_ids(labels, ops.shape(f_p)[0], replica_offset)
                result = losses.equivariance_contrast_with_metrics(
                    psi, ids, self.temperature, replica_offset, everywhere(psi), everywhere(ids))
                outputs[term], outputs[f"{term}_acc"] = result["loss"], result["accuracy"]
                outputs["equi_kept"] = result["kept"]
            else:
                outputs[term], outputs[f"{term}_acc"] = self._classify(term, f_p, f_q, labels)
        total = sum(self.weights_per_term[t] * outputs[t] for t in self.terms)
        return {"loss": total, **outputs}

    def get_config(self):
        return {
            **super().get_config(),
            "terms": list(self.terms),
            "weights": [self.weights_per_term[t] for t in TERMS],
            "equivariance": self.equivariance,
            "temperature": self.temperature,
            "num_speeds": self.num_speeds,
            "aux_hidden": self.aux_hidden,
            "tap": self.tap,
            "head_batch_norm": self.head_batch_norm,
        }

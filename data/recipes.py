"""View recipes: how the named views an objective declares, and their labels,
are cut from one decoded video (tf.data side).

A recipe produces a group of related views in two phases, so that one
pipeline serves any set of recipes and decodes every frame once:

1. ``indices(key, pair_key, num_frames, frames, wanted)`` → ({clip name: int32
   frame indices}, {label: int32}) — the temporal part (``data.temporal``);
2. ``views(key, pair_key, clips, crop, wanted)`` → {view: uint8 (T', crop, crop, 3)} —
   the spatial part (``data.augment``), given the decoded clips of phase 1,
   all cut from one random sample square of the video.

``key`` is the example's stateless seed (folded with the recipe's ``tag``),
``pair_key`` is shared by examples 2k and 2k + 1 of the stream (pair-shared
transformations), ``wanted`` the names the model asks for. ``outputs(frames)``
declares {view: frame multiple} and {label: shape}; ``pair_shared`` is true
when partners 2k, 2k + 1 share a draw (the batch must then be even).
``pack`` writes one example in the layout of ``data.packing``.

| recipe | views | labels | paper |
| --- | --- | --- | --- |
| ``HDCRecipe`` "hdc" | o, s, t | — | HDC §3.1, §3.3 |
| ``PairRecipe`` "pair" | a, b | pair_<label of ``temporal.pair_views``> | thesis §3, §5.1 |
| ``TERecipe`` "te" | p, q | te_speed_p/q, te_direction_p/q, te_order, te_transform_id | time-equivariant §3.1–3.4 |
| ``LongRecipe`` "long" | long (2T), h1, h2 | long_permutation (L,) | multi-level §3.3, §4.2 |

Every view of a recipe gets its own spatial draw (key folds 3, 4, 5); temporal
draws use folds 0 and 1 (fold 2 of the base key cuts the sample square).
"""

import dataclasses
import numbers

import tensorflow as tf

from data import augment as aug
from data import packing, temporal

_fold = tf.random.experimental.stateless_fold_in

# What TE partners 2k, 2k + 1 share (TERecipe.equivariance); hdc.config.TE_EQUIVARIANCES mirrors it.
EQUIVARIANCES = ("temporal", "spatial", "spatiotemporal")


@dataclasses.dataclass(frozen=True)
class HDCRecipe:
    """HDC §3.1/§3.3: x_i is T consecutive frames at a random start; u_o = φ_o(x_i),
    u_s = φ_s(x_i); u_t = φ_t(Γ(x_i)), Γ another random T-frame window of the
    same video (same sample square). With ``augment.tc_spatial_aug`` off, u_t
    is the centre crop (HDC §4.1).

    ``tc_gap``: the least number of frames strictly between x_i's window and
    u_t's (``temporal.separated_windows``; a video too short for it puts the two
    windows at its ends). Default 0, disjoint windows (they may touch): the paper
    calls u_t's source "a new clip from the video of the query clip" (§1) and
    "another clip x'_i" (Fig. 2), one "whose spatial semantics are as different
    from the query clip as possible" (§1), and keeps shared timestamps for the
    Spatial Contrast pair; it names no distance, so every disjoint placement stays
    possible ("random temporal cropping"). -1: independent draws (the windows may
    overlap or coincide), bitwise the batches HDC had before this option. Its
    draws use the base key (folds 0, 1)."""

    augment: aug.AugmentConfig = aug.AugmentConfig()
    tc_gap: int = 0
    name = "hdc"
    tag = 0
    pair_shared = False

    def __post_init__(self):
        if not isinstance(self.tc_gap, numbers.Integral) or isinstance(self.tc_gap, bool) or self.tc_gap < -1:
            raise ValueError(f"HDCRecipe.tc_gap must be an integer >= 0, or -1 for none, received {self.tc_gap!r}")

    def outputs(self, frames):
        return {"o": 1, "s": 1, "t": 1}, {}

    def indices(self, key, pair_key, num_frames, frames, wanted):
        if self.tc_gap < 0:
            x, t = (temporal.window(_fold(key, k), num_frames, frames) for k in (0, 1))
        else:
            x, t = temporal.separated_windows(key, num_frames, frames, self.tc_gap)
        clips = {"x": x} if {"o", "s"} & wanted else {}
        if "t" in wanted:
            clips["t"] = t
        return clips, {}

    def views(self, key, pair_key, clips, crop, wanted):
        out = {}
        for name, k in (("o", 3), ("s", 4)):
            if name in wanted:
                out[name] = aug.spatial_augment(clips["x"], _fold(key, k), crop, self.augment)
        if "t" in wanted:
            if self.augment.tc_spatial_aug:
                out["t"] = aug.spatial_augment(clips["t"], _fold(key, 5), crop, self.augment)
            else:
                out["t"] = aug.center_crop(clips["t"], crop)
        return out


def _augment(clip, seed, crop, config):
    """One spatial draw from the family ``config`` describes: the thesis' or HDC's."""
    if isinstance(config, aug.ThesisAugmentConfig):
        return aug.thesis_augment(clip, seed, crop, config)
    return aug.spatial_augment(clip, seed, crop, config)


def _views(key, clips, crop, wanted, augment, names):
    """Each wanted view of ``names`` (clips of the same names), its own draw: folds 3, 4, ... by position."""
    return {
        view: _augment(clips[view], _fold(key, 3 + k), crop, augment) for k, view in enumerate(names) if view in wanted
    }


@dataclasses.dataclass(frozen=True)
class PairRecipe:
    """videoSimCLR / videoMoCo's two views (thesis §3, Fig. 2): one clip, two temporal
    transformations (``temporal.pair_views``: "none", "shift", "drop", "reverse" or
    "shuffle", one per run; §5.3–5.4 find shift best, s = 8 on UCF101, s = 4 on
    HMDB51), then a spatial transformation per view. ``augment`` is the thesis'
    family (``ThesisAugmentConfig``, chunk mode by default, §5.1) or HDC's
    (``AugmentConfig``). Labels: ``pair_<name>`` for each label of the transform.
    """

    transform: str = "shift"
    max_shift: int = 8
    augment: aug.ThesisAugmentConfig | aug.AugmentConfig = aug.ThesisAugmentConfig()
    name = "pair"
    tag = 1
    pair_shared = False

    def __post_init__(self):
        temporal.pair_label_shapes(self.transform, 1)  # raises on an unknown transform
        if not isinstance(self.max_shift, numbers.Integral) or self.max_shift < 0:
            raise ValueError(f"PairRecipe.max_shift must be a non-negative integer, received {self.max_shift!r}")

    def outputs(self, frames):
        shapes = temporal.pair_label_shapes(self.transform, frames)
        return {"a": 1, "b": 1}, {f"pair_{k}": v for k, v in shapes.items()}

    def indices(self, key, pair_key, num_frames, frames, wanted):
        a, b, labels = temporal.pair_views(_fold(key, 0), num_frames, frames, self.transform, self.max_shift)
        clips = {name: clip for name, clip in (("a", a), ("b", b)) if name in wanted}
        return clips, {f"pair_{k}": v for k, v in labels.items()}

    def views(self, key, pair_key, clips, crop, wanted):
        return _views(key, clips, crop, wanted, self.augment, ("a", "b"))


@dataclasses.dataclass(frozen=True)
class TERecipe:
    """Time-equivariant contrast's clips p, q (§3.1–3.2, Fig. 3). The relative temporal
    transformation (speeds 1×/2×/4×/8× of p and q, directions, order of q relative to
    p; ``temporal.relative_transform``) is drawn from the pair key, so examples 2k and
    2k + 1 share it ("We apply the same temporal transformations to two training
    examples in the batch"); each example places it in its own video
    (``temporal.place_pair``, which may reduce it for short videos: the labels are what
    was applied). ``num_speeds``: the first n speed classes. Spatial family: §3.4 names
    "horizontal flipping, color-jittering, and random cropping", so HDC's family
    (``AugmentConfig``) with channel replication off, one draw per clip (σ_p, σ_q).
    Labels ``te_speed_p``, ``te_speed_q``, ``te_direction_p``, ``te_direction_q``,
    ``te_order`` (``temporal`` numbering) and ``te_transform_id`` (``temporal.transform_id``).
    ``equivariance`` (§4.1, Table 1 a–d): "temporal" as above; "spatial": p and q are
    the same clip (the identity temporal transformation) and partners share the spatial
    draws (σ_p, σ_q) instead; "spatiotemporal": both shared.
    """

    num_speeds: int = len(temporal.SPEEDS)
    augment: aug.AugmentConfig = aug.AugmentConfig(channel_replication=False)
    equivariance: str = "temporal"
    max_gap: int = None
    name = "te"
    tag = 2
    pair_shared = True

    def __post_init__(self):
        if not isinstance(self.num_speeds, numbers.Integral) or not 1 <= self.num_speeds <= len(temporal.SPEEDS):
            raise ValueError(
                f"TERecipe.num_speeds must be an integer in [1, {len(temporal.SPEEDS)}], received {self.num_speeds!r}"
            )
        if self.equivariance not in EQUIVARIANCES:
            raise ValueError(f"TERecipe.equivariance must be one of {EQUIVARIANCES}, received {self.equivariance!r}")
        if self.max_gap is not None and (not isinstance(self.max_gap, numbers.Integral) or self.max_gap < 0):
            raise ValueError(f"TERecipe.max_gap must be None or an integer >= 0, received {self.max_gap!r}")

    def outputs(self, frames):
        labels = temporal.RELATIVE_LABELS + ("transform_id",)
        return {"p": 1, "q": 1}, {f"te_{k}": () for k in labels}

    def indices(self, key, pair_key, num_frames, frames, wanted):
        if self.equivariance == "spatial":  # one clip for both: the identity temporal transformation
            relative = {k: tf.constant(0, tf.int32) for k in temporal.RELATIVE_LABELS}
            relative["order"] = tf.constant(temporal.ORDER_OVERLAP, tf.int32)
        else:
            relative = temporal.relative_transform(pair_key, frames, self.num_speeds, self.max_gap)
        p, q, labels = temporal.place_pair(_fold(key, 0), num_frames, frames, relative)
        labels["transform_id"] = temporal.transform_id(labels, frames, self.num_speeds, self.max_gap)
        clips = {name: clip for name, clip in (("p", p), ("q", q)) if name in wanted}
        return clips, {f"te_{k}": v for k, v in labels.items()}

    def views(self, key, pair_key, clips, crop, wanted):
        if self.equivariance == "temporal":
            return _views(key, clips, crop, wanted, self.augment, ("p", "q"))
        # Table 1 (b), (c): the spatial transformation (crop, scale, flip) is the pair's, shared by partners;
        # colour jitter is in the invariance set S (§3), so each clip keeps its own.
        return {
            view: aug.spatial_augment(clips[view], _fold(pair_key, 3 + k), crop, self.augment, _fold(key, 3 + k))
            for k, view in enumerate(("p", "q"))
            if view in wanted
        }


@dataclasses.dataclass(frozen=True)
class LongRecipe:
    """Multi-level feature optimisation's clips (§3.3, §4.2): 2T consecutive frames,
    "uniformly split ... into two 16-frame clips" h1, h2 (the positive pair and the
    short sequences v_s of L_ret, Eq. 13) and the 2T-frame long sequence v_l (view
    ``long``, frame multiple 2; ``temporal.long_sequence``). The paper names no spatial
    augmentation; as in the authors' public code, each of the three clips gets its own
    draw of one family, the same on all its frames: ``augment`` is the thesis' family
    (the closest to that code's crop, flip, grayscale and colour jitter) or HDC's.
    (That code feeds the long span at every other frame, T frames; the paper's text,
    followed here, says 32-frame long sequences.)

    ``long_permutation`` (int32 (L,)): a per-example permutation for the
    feature-level shuffle Aug_k of L_aug (Eq. 12), never the identity
    (``temporal.shuffled_permutation``). L = ``permutation_length``, default 4: at
    the paper's T = 16, block 4 of C3D and R(2+1)D-10 and block 3 of 3D-ResNet18
    have T/4 = 4 time steps, and C3D/R(2+1)D block 3 has 8 = 2·4 (shuffled in 4
    groups of 2); the authors' code augments exactly these below-top levels. Block 5
    (2 steps, or 1 for 3D-ResNet18) has too few steps for a shuffle of 4.
    """

    permutation_length: int = 4
    augment: aug.ThesisAugmentConfig | aug.AugmentConfig = aug.ThesisAugmentConfig()
    name = "long"
    tag = 3
    pair_shared = False

    def __post_init__(self):
        if not isinstance(self.permutation_length, numbers.Integral) or self.permutation_length < 2:
            raise ValueError(
                f"LongRecipe.permutation_length must be an integer >= 2, received {self.permutation_length!r}"
            )

    def outputs(self, frames):
        return {"long": 2, "h1": 1, "h2": 1}, {"long_permutation": (self.permutation_length,)}

    def indices(self, key, pair_key, num_frames, frames, wanted):
        long, first, second = temporal.long_sequence(_fold(key, 0), num_frames, frames)
        clips = {name: clip for name, clip in (("long", long), ("h1", first), ("h2", second)) if name in wanted}
        permutation = temporal.shuffled_permutation(_fold(key, 1), self.permutation_length)
        return clips, {"long_permutation": permutation}

    def views(self, key, pair_key, clips, crop, wanted):
        return _views(key, clips, crop, wanted, self.augment, ("long", "h1", "h2"))


def full_layout(recipes, clip_shape):
    """The ``data.packing`` layout of every view and label ``recipes`` make, in order
    (for previews and benchmarks; training uses the model's layout)."""
    views, labels, frames = {}, {}, clip_shape[0]
    for recipe in recipes:
        recipe_views, recipe_labels = recipe.outputs(frames)
        views.update(recipe_views)
        labels.update(recipe_labels)
    return packing.make_layout(tuple(views), labels, clip_shape, views)


def assign(layout, recipes, frames):
    """[(recipe, wanted names)] for the recipes that produce ``layout``'s fields.

    Raises ValueError naming a field no recipe produces, or a field two produce.
    """
    owner = {}
    for recipe in recipes:
        views, labels = recipe.outputs(frames)
        for name in list(views) + list(labels):
            if name in owner:
                raise ValueError(f"Recipes {owner[name].name!r} and {recipe.name!r} both produce {name!r}")
            owner[name] = recipe
    wanted = {}
    for field in layout:
        if field.name not in owner:
            raise ValueError(
                f"No view recipe produces the {field.kind} {field.name!r}; known: {sorted(owner)}"
            )
        recipe = owner[field.name]
        views, labels = recipe.outputs(frames)
        expected = (views[field.name] * frames,) if field.kind == packing.VIEW else tuple(labels[field.name])
        if field.shape[: len(expected)] != expected:
            raise ValueError(f"{field.kind} {field.name!r}: the model expects shape {field.shape}, "
                             f"recipe {recipe.name!r} makes {expected}")
        wanted.setdefault(recipe, set()).add(field.name)
    return list(wanted.items())


def _bytes(label):
    """int32 → its 4 little-endian two's-complement bytes (data.packing)."""
    shifts = tf.constant([0, 8, 16, 24], tf.int32)
    value = tf.reshape(tf.cast(label, tf.int32), [-1, 1])
    return tf.cast(tf.bitwise.bitwise_and(tf.bitwise.right_shift(value, shifts), 255), tf.uint8)


def pack(layout, values):
    """One example's ``values`` ({field name: tensor}) → uint8 (N,) in layout order."""
    parts = []
    for field in layout:
        value = values[field.name]
        if field.kind == packing.LABEL:
            parts.append(tf.reshape(_bytes(tf.ensure_shape(value, field.shape)), [-1]))
        else:
            parts.append(tf.reshape(tf.ensure_shape(value, field.shape), [-1]))
    return tf.concat(parts, 0)

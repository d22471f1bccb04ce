"""View recipes: how the named views an objective declares, and their labels,
are cut from one decoded video (tf.data side).

A recipe produces a group of related views in two phases, so that one
pipeline serves any set of recipes and decodes every frame once:

1. ``indices(key, pair_key, num_frames, frames, wanted)`` → ({clip name: int32
   frame indices}, {label: int32}) — the temporal part (``data.temporal``);
2. ``views(key, clips, crop, wanted)`` → {view: uint8 (T', crop, crop, 3)} —
   the spatial part (``data.augment``), given the decoded clips of phase 1,
   all cut from one random sample square of the video.

``key`` is the example's stateless seed (folded with the recipe's ``tag``),
``pair_key`` is shared by examples 2k and 2k + 1 of the stream (pair-shared
transformations), ``wanted`` the names the model asks for. ``outputs(frames)``
declares {view: frame multiple} and {label: shape}. ``pack`` writes one
example in the layout of ``hdc.packing``.
"""

import dataclasses

import tensorflow as tf

from data import augment as aug
from data import temporal
from hdc import packing

_fold = tf.random.experimental.stateless_fold_in


@dataclasses.dataclass(frozen=True)
class HDCRecipe:
    """HDC §3.1/§3.3: x_i is T consecutive frames at a random start; u_o = φ_o(x_i),
    u_s = φ_s(x_i); u_t = φ_t(Γ(x_i)), Γ another random T-frame window of the
    same video (same sample square). With ``augment.tc_spatial_aug`` off, u_t
    is the centre crop (HDC §4.1). Its draws use the base key, as the three-view
    pipeline did, so HDC's batches are unchanged."""

    augment: aug.AugmentConfig = aug.AugmentConfig()
    name = "hdc"
    tag = 0

    def outputs(self, frames):
        return {"o": 1, "s": 1, "t": 1}, {}

    def indices(self, key, pair_key, num_frames, frames, wanted):
        clips = {}
        if {"o", "s"} & wanted:
            clips["x"] = temporal.window(_fold(key, 0), num_frames, frames)
        if "t" in wanted:
            clips["t"] = temporal.window(_fold(key, 1), num_frames, frames)
        return clips, {}

    def views(self, key, clips, crop, wanted):
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
    """int32 → its 4 little-endian two's-complement bytes (hdc.packing)."""
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

"""Augmentation and view-recipe settings: train.py flags → TrainConfig fields → the recipes."""

import dataclasses

import pytest

import train
from data import augment, temporal
from hdc import config as hc
from hdc.pretrain import view_recipes

def hdc_family(attr, value):
    """The edit of an HDC-family field: HDC's recipe and the time-equivariant one (recipes 0 and 2)."""
    return [(0, f"augment.{attr}", value), (2, f"augment.{attr}", value)]


def thesis_family(attr, value):
    """The edit of a thesis-family field: the pair and long recipes (1 and 3), the thesis family by default."""
    return [(1, f"augment.{attr}", value), (3, f"augment.{attr}", value)]


# flags, the TrainConfig field and value, and the recipe edits (recipe index in (hdc, pair, te, long), attribute
# path, value) that turn the default recipes into the flag's: written out here, not derived from view_recipes.
NEW_FLAGS = [
    (["--scale-min", "0.5"], "scale_min", 0.5, hdc_family("scale", (0.5, 1.0))),
    (["--flip-prob", "0.3"], "flip_prob", 0.3, hdc_family("flip_prob", 0.3)),
    (["--color-prob", "0.6"], "color_prob", 0.6, hdc_family("color_prob", 0.6)),
    (["--brightness", "0.2"], "brightness", 0.2, hdc_family("brightness", 0.2)),
    (["--contrast", "0.3"], "contrast", 0.3, hdc_family("contrast", 0.3)),
    (["--saturation", "0.1"], "saturation", 0.1, hdc_family("saturation", 0.1)),
    (["--hue", "0.05"], "hue", 0.05, hdc_family("hue", 0.05)),
    (["--replication-prob", "0.25"], "replication_prob", 0.25, hdc_family("replication_prob", 0.25)),
    (["--thesis-aug-mode", "frame"], "thesis_aug_mode", "frame", thesis_family("mode", "frame")),
    (["--thesis-scale-min", "0.2"], "thesis_scale_min", 0.2, thesis_family("scale", (0.2, 1.0))),
    (["--thesis-flip-prob", "0.1"], "thesis_flip_prob", 0.1, thesis_family("flip_prob", 0.1)),
    (["--thesis-color-prob", "0.5"], "thesis_color_prob", 0.5, thesis_family("color_prob", 0.5)),
    (["--thesis-brightness", "0.3"], "thesis_brightness", 0.3, thesis_family("brightness", 0.3)),
    (["--thesis-contrast", "0.2"], "thesis_contrast", 0.2, thesis_family("contrast", 0.2)),
    (["--thesis-saturation", "0.6"], "thesis_saturation", 0.6, thesis_family("saturation", 0.6)),
    (["--thesis-hue", "0.2"], "thesis_hue", 0.2, thesis_family("hue", 0.2)),
    (["--thesis-grayscale-prob", "0.3"], "thesis_grayscale_prob", 0.3, thesis_family("grayscale_prob", 0.3)),
    (["--thesis-blur-prob", "0.4"], "thesis_blur_prob", 0.4, thesis_family("blur_prob", 0.4)),
    (["--thesis-blur-sigma", "0.5,1.5"], "thesis_blur_sigma", (0.5, 1.5), thesis_family("blur_sigma", (0.5, 1.5))),
    (["--thesis-blur-kernel", "0.2"], "thesis_blur_kernel", 0.2, thesis_family("blur_kernel", 0.2)),
    (["--pair-transform", "drop"], "pair_transform", "drop", [(1, "transform", "drop")]),
    (["--pair-max-shift", "4"], "pair_max_shift", 4, [(1, "max_shift", 4)]),
    (["--pair-augment", "hdc"], "pair_augment", "hdc", [(1, "augment", augment.AugmentConfig())]),
    (["--te-num-speeds", "3"], "te_num_speeds", 3, [(2, "num_speeds", 3)]),
    (["--mlfo-permutation-length", "8"], "mlfo_permutation_length", 8, [(3, "permutation_length", 8)]),
    (["--mlfo-augment", "hdc"], "mlfo_augment", "hdc", [(3, "augment", augment.AugmentConfig())]),
]  # fmt: skip


def edited(recipes, edits):
    """``recipes`` with each (index, "attr" or "attr.field", value) of ``edits`` applied."""
    recipes = list(recipes)
    for index, path, value in edits:
        attr, _, field = path.partition(".")
        inner = dataclasses.replace(getattr(recipes[index], attr), **{field: value}) if field else value
        recipes[index] = dataclasses.replace(recipes[index], **{attr: inner})
    return tuple(recipes)


@pytest.mark.parametrize("flags, field, value, edits", NEW_FLAGS, ids=[row[1] for row in NEW_FLAGS])
def test_each_flag_changes_exactly_its_field_and_the_recipes(flags, field, value, edits):
    base, _ = train.config_from_args(["--backbone", "c3d"])
    changed, _ = train.config_from_args(["--backbone", "c3d"] + flags)
    diff = {f.name for f in dataclasses.fields(base) if getattr(base, f.name) != getattr(changed, f.name)}
    assert diff == {field} and getattr(changed, field) == value
    assert view_recipes(changed) == edited(view_recipes(base), edits)  # that field, to that value, nothing else


def test_recipes_carry_the_configured_settings():
    config, _ = train.config_from_args(
        ["--pair-transform", "shuffle", "--thesis-aug-mode", "frame", "--te-num-speeds", "2", "--scale-min", "0.5",
         "--mlfo-permutation-length", "6", "--mlfo-augment", "hdc", "--replication-prob", "0.1"]
    )  # fmt: skip
    hdc, pair, te, long = view_recipes(config)
    assert (hdc.name, pair.name, te.name, long.name) == ("hdc", "pair", "te", "long")
    assert hdc.augment.scale == (0.5, 1.0) and hdc.augment.replication_prob == 0.1
    assert pair.transform == "shuffle" and pair.max_shift == 8 and pair.augment.mode == "frame"
    assert isinstance(pair.augment, augment.ThesisAugmentConfig) and pair.augment.scale == (0.08, 1.0)
    assert te.num_speeds == 2 and not te.augment.channel_replication and te.augment.scale == (0.5, 1.0)
    assert long.permutation_length == 6 and long.augment == hdc.augment


def test_defaults_follow_the_papers():
    hdc, pair, te, long = view_recipes(hc.TrainConfig())
    assert hdc.augment == augment.AugmentConfig()  # HDC §3.3 family as before
    assert pair.augment == augment.ThesisAugmentConfig()  # thesis §5.1 (chunk) with its code's strengths
    assert (pair.transform, pair.max_shift) == ("shift", 8)  # thesis §5.3: shift, s = 8 on UCF101
    assert te.num_speeds == len(temporal.SPEEDS) == hc.MAX_SPEEDS
    assert te.augment == dataclasses.replace(augment.AugmentConfig(), channel_replication=False)
    assert long.permutation_length == 4


def test_names_mirror_the_data_modules():
    assert hc.PAIR_TRANSFORMS == temporal.PAIR_TRANSFORMS
    assert hc.THESIS_MODES == augment.THESIS_MODES


@pytest.mark.parametrize(
    "field, value, expected",
    [
        ("flip_prob", 1.5, "in [0, 1]"),
        ("thesis_blur_prob", -0.1, "in [0, 1]"),
        ("brightness", 1.0, "in [0, 1)"),
        ("thesis_hue", 0.7, "in [0, 0.5]"),
        ("scale_min", 0.0, "in (0, 1]"),
        ("thesis_aug_mode", "clip", "one of ('chunk', 'frame')"),
        ("thesis_blur_sigma", (2.0, 1.0), "two numbers 0 < lo <= hi"),
        ("thesis_blur_kernel", 0.0, "in (0, 1]"),
        ("pair_transform", "jitter", "one of ('none'"),
        ("pair_max_shift", -1, ">= 0"),
        ("pair_augment", "simclr", "one of ('thesis', 'hdc')"),
        ("te_num_speeds", 5, "in 1..4"),
        ("mlfo_permutation_length", 1, ">= 2"),
        ("mlfo_augment", "", "one of ('thesis', 'hdc')"),
    ],
)
def test_validate_names_the_field_and_the_value(field, value, expected):
    config = dataclasses.replace(hc.TrainConfig(), **{field: value})
    with pytest.raises(ValueError) as error:
        config.validate()
    message = str(error.value)
    assert message.startswith(f"{field} must be {expected}") and message.endswith(f"received {value!r}")


def test_settings_round_trip_through_config_json(tmp_path):
    config, _ = train.config_from_args(["--thesis-blur-sigma", "0.2,1", "--pair-transform", "reverse"])
    config.to_json(str(tmp_path / "config.json"))
    assert hc.TrainConfig.from_json(str(tmp_path / "config.json")) == config

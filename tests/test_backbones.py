"""Backbones: taps, parameter counts, instance-norm batch independence,
serialisation and argument errors."""

import math

import keras
import numpy as np
import pytest

import models

SMALL = (8, 32, 32, 3)

# (T, H, W) stride of each tap, derived by hand from the layer tables in the
# module docstrings, and the tap channels.
STRIDES = {
    "c3d": {"block1": (1, 1, 1), "block2": (1, 2, 2), "block3": (2, 4, 4), "block4": (4, 8, 8), "block5": (8, 16, 16)},
    "r3d18": {"block1": (1, 2, 2), "block2": (2, 4, 4), "block3": (4, 8, 8), "block4": (8, 16, 16), "block5": (16, 32, 32)},
    "r2plus1d10": {"block1": (1, 2, 2), "block2": (1, 2, 2), "block3": (2, 4, 4), "block4": (4, 8, 8), "block5": (8, 16, 16)},
}
CHANNELS = {
    "c3d": (64, 128, 256, 512, 512),
    "r3d18": (64, 64, 128, 256, 512),
    "r2plus1d10": (64, 64, 128, 256, 512),
}
# Parameter counts and FLOPs at 16x112x112 (HDC §3.3 backbones; docs/pretraining.md, "Backbones").
PARAMS = {"c3d": 27.66e6, "r3d18": 33.20e6, "r2plus1d10": 14.37e6}
GFLOP = {"c3d": 77.0, "r3d18": 16.6, "r2plus1d10": 42.7}


@pytest.mark.parametrize("name", sorted(models.BACKBONES))
def test_tap_shapes(name):
    input_shape = (16, 32, 32, 3)
    model = models.build_backbone(name, input_shape=input_shape)
    out = model(np.zeros((2,) + input_shape, "float32"))
    assert sorted(out) == list(models.TAP_NAMES)
    for tap, channels in zip(models.TAP_NAMES, CHANNELS[name]):
        expected = tuple(math.ceil(s / st) for s, st in zip(input_shape[:3], STRIDES[name][tap]))
        assert tuple(out[tap].shape) == (2,) + expected + (channels,), tap


@pytest.mark.parametrize("name", sorted(models.BACKBONES))
def test_parameter_and_flop_counts(name):
    model = models.build_backbone(name)
    params = sum(math.prod(w.shape) for w in model.trainable_weights)
    assert abs(params - PARAMS[name]) / PARAMS[name] < 0.01
    assert abs(models.conv_flops(model) / 1e9 - GFLOP[name]) / GFLOP[name] < 0.01


@pytest.mark.parametrize("name", sorted(models.BACKBONES))
def test_no_batch_norm_dense_or_dropout(name):
    model = models.build_backbone(name, input_shape=SMALL if name != "r3d18" else (16, 32, 32, 3))
    kinds = {type(layer).__name__ for layer in model.layers}
    assert not kinds & {"BatchNormalization", "Dense", "Dropout"}
    norms = [l for l in model.layers if isinstance(l, keras.layers.GroupNormalization)]
    # groups=-1 resolves to one group per channel when built: instance norm.
    assert norms and all(l.groups in (-1, l.gamma.shape[0]) for l in norms)


@pytest.mark.parametrize("name", sorted(models.BACKBONES))
def test_batch_independence_in_training_mode(name):
    shape = (16, 32, 32, 3)
    model = models.build_backbone(name, input_shape=shape)
    rng = np.random.default_rng(0)
    batch = rng.uniform(-1, 1, (3,) + shape).astype("float32")
    batch[1:] *= 5.0  # other clips with very different statistics
    alone = model(batch[:1], training=True)
    together = model(batch, training=True)
    for tap in models.TAP_NAMES:
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(alone[tap])[0],
            keras.ops.convert_to_numpy(together[tap])[0],
            # Batch-size-dependent conv kernels round differently (~1e-5, magnified
            # by instance norm over block5's 8 positions); leaked batch statistics
            # from 5x larger neighbours would differ by O(1).
            atol=2e-4,
            rtol=1e-3,
        )


def test_instance_norm_matches_numpy():
    from models.layers import instance_norm

    x = np.random.default_rng(1).normal(2.0, 3.0, (2, 4, 5, 6, 3)).astype("float32")
    inp = keras.Input((4, 5, 6, 3))
    model = keras.Model(inp, instance_norm(inp, "norm"))
    mean = x.mean(axis=(1, 2, 3), keepdims=True)
    var = x.var(axis=(1, 2, 3), keepdims=True)
    expected = (x - mean) / np.sqrt(var + 1e-5)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model(x)), expected, atol=1e-5)


def test_factorized_width_formula():
    from models.layers import factorized_width

    # Tran et al.: M = floor(t d^2 Nin Nout / (d^2 Nin + t Nout)); by hand:
    assert factorized_width(64, 64, (3, 3, 3)) == (3 * 9 * 64 * 64) // (9 * 64 + 3 * 64) == 144
    assert factorized_width(3, 64, (3, 7, 7)) == (3 * 49 * 3 * 64) // (49 * 3 + 3 * 64) == 83


@pytest.mark.parametrize("name", sorted(models.BACKBONES))
def test_config_round_trip_and_keras_file(name, tmp_path):
    shape = (16, 32, 32, 3)
    model = models.build_backbone(name, input_shape=shape, kernel_regularizer=5e-5)
    clone = type(model).from_config(model.get_config())
    assert clone.get_config() == model.get_config()
    assert clone.count_params() == model.count_params()
    assert len(clone.losses) == len(model.losses) > 0
    path = tmp_path / "backbone.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    x = np.random.default_rng(2).uniform(-1, 1, (2,) + shape).astype("float32")
    a, b = model(x), loaded(x)
    for tap in models.TAP_NAMES:
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a[tap]), keras.ops.convert_to_numpy(b[tap]))


def c3d_params_by_hand(width):
    """3x3x3 conv kernels + biases + instance-norm scale/offset of C3D's 8 convs."""
    channels = [3] + [round(c * width) for c in (64, 128, 256, 256, 512, 512, 512, 512)]
    return sum(27 * cin * cout + cout + 2 * cout for cin, cout in zip(channels, channels[1:]))


@pytest.mark.parametrize("width", [0.25, 0.5, 1.0])
def test_width_multiplier_scales_every_layer(width):
    model = models.build_backbone("c3d", input_shape=SMALL, width_multiplier=width)
    assert model.count_params() == c3d_params_by_hand(width)
    resnet = models.build_backbone("r3d18", input_shape=(16, 32, 32, 3), width_multiplier=width)
    expected = [round(c * width) for c in CHANNELS["r3d18"]]
    assert [resnet.tap_channels[t] for t in models.TAP_NAMES] == expected
    clone = type(resnet).from_config(resnet.get_config())
    assert clone.width_multiplier == width and clone.count_params() == resnet.count_params()


def test_unknown_spatial_dims_allowed():
    model = models.build_backbone("c3d", input_shape=(None, None, None, 3))
    out = model(np.zeros((1, 8, 16, 16, 3), "float32"))
    assert tuple(out["block5"].shape) == (1, 1, 1, 1, 512)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(name="resnet50"), "Unknown backbone 'resnet50'"),
        (dict(name="c3d", input_shape=(16, 112, 112)), "input_shape must be"),
        (dict(name="c3d", input_shape=(16, 112, 112, 1)), "3 \\(RGB\\) channels"),
        (dict(name="r3d18", input_shape=(8, 64, 64, 3)), "frames=8 .* too small to reach block5"),
        (dict(name="c3d", input_shape=(16, 8, 112, 3)), "height=8 .* too small"),
        (dict(name="c3d", width_multiplier=0), "width_multiplier must be > 0, received 0"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        models.build_backbone(kwargs.pop("name"), **kwargs)


@pytest.mark.parametrize("name", sorted(models.BACKBONES))
def test_train_configs_reach_check_is_the_backbones_own(name):
    """hdc.config.BLOCK5_STRIDES (train.py's check, before TensorFlow starts) = the smallest clip
    each backbone builds: it builds at the strides and rejects one less frame or pixel."""
    from hdc.config import BLOCK5_STRIDES

    frames, side, _ = BLOCK5_STRIDES[name]
    models.build_backbone(name, input_shape=(frames, side, side, 3), width_multiplier=0.05)
    for shape in ((frames - 1, side, side, 3), (frames, side - 1, side, 3)):
        with pytest.raises(ValueError, match="too small to reach block5"):
            models.build_backbone(name, input_shape=shape)

"""data.augment.thesis_augment: the videoSimCLR / videoMoCo thesis family (§3, §5.1), by its invariants."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from data import augment as aug

OFF = aug.ThesisAugmentConfig(
    scale=(1.0, 1.0), ratio=(1.0, 1.0), flip_prob=0.0, color_prob=0.0, grayscale_prob=0.0, blur_prob=0.0
)


def seed(k):
    return tf.constant([11, k], tf.int64)


def random_clip(frames=4, height=32, width=32, rng_seed=0):
    return np.random.default_rng(rng_seed).integers(0, 256, (frames, height, width, 3), dtype=np.uint8)


def still_clip(frames=6, side=40):
    """A clip whose frames are all the same image."""
    return np.repeat(random_clip(1, side, side), frames, axis=0)


@pytest.mark.parametrize("mode", aug.THESIS_MODES)
def test_shape_dtype_and_determinism(mode):
    config = aug.ThesisAugmentConfig(mode=mode)
    clip = random_clip(5, 40, 48)
    out = aug.thesis_augment(clip, seed(0), 24, config)
    assert out.shape == (5, 24, 24, 3) and out.dtype == tf.uint8
    np.testing.assert_array_equal(out, aug.thesis_augment(clip, seed(0), 24, config))
    assert not np.array_equal(out, aug.thesis_augment(clip, seed(1), 24, config))


@pytest.mark.parametrize("mode", aug.THESIS_MODES)
def test_everything_off_with_a_full_crop_is_the_identity(mode):
    clip = random_clip()
    out = aug.thesis_augment(clip, seed(3), 32, dataclasses.replace(OFF, mode=mode))
    np.testing.assert_array_equal(out, clip)


def test_chunk_mode_applies_one_parameter_set_to_every_frame():
    clip = still_clip()
    for k in range(8):
        out = aug.thesis_augment(clip, seed(k), 24).numpy()
        assert (out == out[:1]).all(), k


def test_frame_mode_draws_each_frame_from_its_own_seed():
    clip = still_clip()
    config = aug.ThesisAugmentConfig(mode="frame")
    out = aug.thesis_augment(clip, seed(0), 24, config).numpy()
    assert len({frame.tobytes() for frame in out}) == len(out)  # a still clip, yet every frame differs
    chunk = dataclasses.replace(config, mode="chunk")
    for t in (0, 3):
        single = aug.thesis_augment(clip[t : t + 1], tf.random.experimental.stateless_fold_in(seed(0), t), 24, chunk)
        np.testing.assert_array_equal(out[t], single[0])


def test_crop_area_follows_the_scale_field():
    clip = random_clip(2, 40, 40)
    config = dataclasses.replace(OFF, scale=(0.25, 0.25))  # a 20×20 box, copied unresized at crop 20
    for k in range(4):
        out = aug.thesis_augment(clip, seed(k), 20, config).numpy()
        hits = [
            (top, left)
            for top in range(21)
            for left in range(21)
            if np.array_equal(out, clip[:, top : top + 20, left : left + 20])
        ]
        assert hits, k


def test_flip_at_p1_mirrors():
    clip = random_clip()
    out = aug.thesis_augment(clip, seed(0), 32, dataclasses.replace(OFF, flip_prob=1.0))
    np.testing.assert_array_equal(out, clip[:, :, ::-1])


def test_grayscale_at_p1_gives_equal_channels_after_jitter():
    config = aug.ThesisAugmentConfig(grayscale_prob=1.0, color_prob=1.0)
    for mode in aug.THESIS_MODES:
        out = aug.thesis_augment(random_clip(3, 36, 36), seed(2), 24, dataclasses.replace(config, mode=mode)).numpy()
        assert (out[..., 0] == out[..., 1]).all() and (out[..., 1] == out[..., 2]).all()


def test_grayscale_is_the_bt601_luma():
    clip = random_clip()
    out = aug.thesis_augment(clip, seed(0), 32, dataclasses.replace(OFF, grayscale_prob=1.0)).numpy()
    luma = clip.astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    np.testing.assert_allclose(out[..., 0], np.floor(np.clip(luma + 0.5, 0, 255)), atol=1)


YIQ = np.array([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])


def fit_factor(out, x, centre):
    """The factor f of out ≈ centre + f·(x − centre) by least squares, and the worst residual."""
    d = x - centre
    f = (d * (out - centre)).sum() / (d * d).sum()
    return f, np.abs(out - centre - f * d).max()


def fit_hue(out, x):
    """The rotation θ of the (I, Q) chroma plane from x to out, and the worst residual of Y, I and Q."""
    yin, yout = x @ YIQ.T, out @ YIQ.T
    zin, zout = yin[..., 1] + 1j * yin[..., 2], yout[..., 1] + 1j * yout[..., 2]
    theta = np.angle((zout * np.conj(zin)).sum())
    return theta, max(np.abs(yout[..., 0] - yin[..., 0]).max(), np.abs(zout - np.exp(1j * theta) * zin).max())


@pytest.mark.parametrize("name, strength", [("brightness", 0.4), ("contrast", 0.4), ("saturation", 0.4), ("hue", 0.1)])
def test_colour_jitter_factors_follow_their_formulas_and_ranges(name, strength):
    """One factor on at a time, its value fitted per seed with numpy: brightness b·x, contrast
    m + c·(x − m) about the frame's mean intensity m, saturation g + s·(x − g) about each pixel's
    BT.601 gray g, hue a rotation of YIQ's chroma plane by 2π·h that keeps the luma; every fit
    within rounding, factors in U(1 − x, 1 + x) (hue: |h| ≤ x) and spread over the range."""
    config = dataclasses.replace(OFF, color_prob=1.0, brightness=0.0, contrast=0.0, saturation=0.0, hue=0.0)
    config = dataclasses.replace(config, **{name: strength})
    clip = np.random.default_rng(1).integers(96, 161, (2, 32, 32, 3)).astype(np.uint8)  # nothing saturates
    x = clip.astype(np.float64)
    centres = {"brightness": 0.0, "contrast": x.mean(axis=(1, 2, 3), keepdims=True), "saturation": x @ YIQ[0][:, None]}
    factors = []
    for k in range(12):
        out = aug.thesis_augment(clip, seed(k), 32, config).numpy().astype(np.float64)
        factor, residual = fit_hue(out, x) if name == "hue" else fit_factor(out, x, centres[name])
        assert residual <= (1.0 if name == "hue" else 0.75), (k, residual)  # uint8 rounding (YIQ mixes channels)
        factors.append(factor / (2 * np.pi) if name == "hue" else factor - 1)
    assert max(np.abs(factors)) <= strength + 1e-3, factors
    assert min(factors) < -strength / 3 and max(factors) > strength / 3, factors


def numpy_blur(image, sigma, size):
    """Reference: Gaussian weights, reflect-101 borders, rows then columns (one frame, float64)."""
    radius = size // 2
    x = np.arange(-radius, radius + 1)
    w = np.exp(-(x**2) / (2 * sigma**2))
    w /= w.sum()
    padded = np.pad(image.astype(np.float64), ((radius, radius), (radius, radius), (0, 0)), mode="reflect")
    h, wd = image.shape[:2]
    rows = sum(w[i] * padded[i : i + h] for i in range(size))
    return sum(w[i] * rows[:, i : i + wd] for i in range(size))


def test_gaussian_blur_matches_numpy():
    clip = random_clip(2, 17, 23).astype(np.float32)
    out = aug.gaussian_blur(tf.constant(clip), 1.3, 5).numpy()
    for t in range(2):
        np.testing.assert_allclose(out[t], numpy_blur(clip[t], 1.3, 5), atol=1e-3)


def test_blur_kernel_is_about_a_tenth_of_the_side_and_odd():
    assert [aug.blur_kernel_size(side, 0.1) for side in (10, 56, 112, 128, 224)] == [1, 7, 13, 13, 23]


def test_blur_sigma_is_drawn_from_its_range():
    """σ fitted per seed against the numpy blur (13-tap kernel: 0.4 of 32 px, odd): each draw is
    a Gaussian blur within rounding, inside blur_sigma = (0.6, 1.4), and the draws spread over it."""
    clip = random_clip(2, 32, 32)
    config = dataclasses.replace(OFF, blur_prob=1.0, blur_sigma=(0.6, 1.4), blur_kernel=0.4)
    size = aug.blur_kernel_size(32, 0.4)
    assert size == 13

    def error(out, sigma):
        return np.abs(out - np.stack([numpy_blur(frame, sigma, size) for frame in clip])).max()

    sigmas = []
    for k in range(10):
        out = aug.thesis_augment(clip, seed(k), 32, config).numpy().astype(np.float64)
        coarse = min(np.arange(0.3, 2.0, 0.05), key=lambda s: error(out, s))
        sigma = min(np.arange(coarse - 0.05, coarse + 0.05, 0.002), key=lambda s: error(out, s))
        assert error(out, sigma) <= 0.75, (k, sigma)  # uint8 rounding, float32 weights, the 0.002 grid
        sigmas.append(sigma)
    assert 0.6 - 0.005 <= min(sigmas) < 0.85 and 1.15 < max(sigmas) <= 1.4 + 0.005, sigmas


def test_blur_at_p1_lowers_a_checkerboards_variance():
    board = (np.indices((32, 32)).sum(0) % 2 * 255).astype(np.uint8)
    clip = np.repeat(board[None, :, :, None], 3, -1).repeat(2, 0)
    config = dataclasses.replace(OFF, blur_prob=1.0, blur_sigma=(1.0, 2.0))  # σ near 0.1 is almost a copy
    for k in range(4):
        out = aug.thesis_augment(clip, seed(k), 32, config).numpy()
        assert out.astype(float).var() < 0.5 * clip.astype(float).var()


@pytest.mark.parametrize(
    "field, value",
    [
        ("mode", "clip"),
        ("flip_prob", 1.5),
        ("color_prob", -0.1),
        ("grayscale_prob", 2.0),
        ("blur_prob", -1.0),
        ("scale", (0.0, 1.0)),
        ("ratio", (2.0, 1.0)),
        ("brightness", 1.0),
        ("hue", 0.7),
        ("blur_sigma", (0.0, 2.0)),
        ("blur_kernel", 0.0),
    ],
)
def test_invalid_fields_raise_naming_the_field(field, value):
    with pytest.raises(ValueError, match=f"ThesisAugmentConfig.{field}"):
        aug.ThesisAugmentConfig(**{field: value})


@pytest.mark.parametrize("mode", aug.THESIS_MODES)
def test_graph_mode_matches_eager(mode):
    config = aug.ThesisAugmentConfig(mode=mode)
    graph = tf.function(
        lambda frames, s: aug.thesis_augment(frames, s, 24, config),
        input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8), tf.TensorSpec([2], tf.int64)],
    )
    clip = random_clip(3, 30, 36)
    np.testing.assert_array_equal(graph(clip, seed(4)), aug.thesis_augment(clip, seed(4), 24, config))

"""data.augment: the per-clip spatial family of HDC §3.3, against numpy references and invariants."""

import numpy as np
import pytest
import tensorflow as tf

from data import augment as aug

OFF = aug.AugmentConfig(scale_jitter=False, flip=False, color_jitter=False, channel_replication=False)
GRAY = np.array([0.299, 0.587, 0.114])


def seed(k):
    return tf.constant([7, k], tf.int64)


def random_clip(frames=8, height=40, width=40, low=0, high=256, rng_seed=0):
    return np.random.default_rng(rng_seed).integers(low, high, (frames, height, width, 3), dtype=np.uint8)


def bilinear_reference(image, top, left, box_h, box_w, size):
    """Numpy bilinear resize with half-pixel centres and edge clamping (one frame)."""
    box = image[top : top + box_h, left : left + box_w].astype(np.float64)

    def taps(n_in):
        src = (np.arange(size) + 0.5) * n_in / size - 0.5
        lo = np.floor(src)
        return np.clip(lo, 0, n_in - 1).astype(int), np.clip(lo + 1, 0, n_in - 1).astype(int), src - lo

    y0, y1, wy = taps(box_h)
    x0, x1, wx = taps(box_w)
    rows = box[y0] * (1 - wy)[:, None, None] + box[y1] * wy[:, None, None]
    return rows[:, x0] * (1 - wx)[None, :, None] + rows[:, x1] * wx[None, :, None]


def test_exact_box_is_a_copy_and_flip_mirrors():
    frames = random_clip()
    out = aug.crop_resize(frames, [3, 5, 32, 32], 32).numpy()
    np.testing.assert_array_equal(out, frames[:, 3:35, 5:37])
    flipped = aug.crop_resize(frames, [3, 5, 32, 32], 32, flip=True).numpy()
    np.testing.assert_array_equal(flipped, frames[:, 3:35, 5:37][:, :, ::-1])


def test_resize_matches_numpy_bilinear():
    frames = random_clip(frames=2)
    out = aug.crop_resize(frames, [2, 3, 21, 15], 12).numpy()
    for t in range(2):
        np.testing.assert_allclose(out[t], bilinear_reference(frames[t], 2, 3, 21, 15, 12), atol=1e-3)


def test_flip_switch_mirrors_whole_clip():
    frames = random_clip(height=32, width=32)
    always = aug.AugmentConfig(scale_jitter=False, flip_prob=1.0, color_jitter=False, channel_replication=False)
    never = aug.AugmentConfig(scale_jitter=False, flip_prob=0.0, color_jitter=False, channel_replication=False)
    np.testing.assert_array_equal(aug.spatial_augment(frames, seed(0), 32, always).numpy(), frames[:, :, ::-1])
    np.testing.assert_array_equal(aug.spatial_augment(frames, seed(0), 32, never).numpy(), frames)


def test_all_off_is_a_plain_random_crop():
    frames = random_clip()
    out = aug.spatial_augment(frames, seed(3), 32, OFF).numpy()
    matches = [
        (top, left)
        for top in range(9)
        for left in range(9)
        if np.array_equal(out, frames[:, top : top + 32, left : left + 32])
    ]
    assert len(matches) == 1


@pytest.mark.parametrize("k", range(4))
def test_one_parameter_set_per_clip(k):
    """Identical input frames stay identical: crop, flip, colour and channel are per clip."""
    frame = random_clip(frames=1, rng_seed=k)
    frames = np.repeat(frame, 8, axis=0)
    config = aug.AugmentConfig(color_prob=1.0, replication_prob=0.5)
    out = aug.spatial_augment(frames, seed(k), 24, config).numpy()
    assert out.shape == (8, 24, 24, 3) and out.dtype == np.uint8
    for t in range(1, 8):
        np.testing.assert_array_equal(out[t], out[0])


def test_channel_replication_gives_three_equal_channels():
    frames = random_clip()
    config = aug.AugmentConfig(replication_prob=1.0, color_prob=1.0)
    for k in range(4):
        out = aug.spatial_augment(frames, seed(k), 32, config).numpy()
        np.testing.assert_array_equal(out[..., 0], out[..., 1])
        np.testing.assert_array_equal(out[..., 0], out[..., 2])
    # the replicated channel is one of the input channels, unchanged
    only = aug.AugmentConfig(scale_jitter=False, flip=False, color_jitter=False, replication_prob=1.0)
    frames = random_clip(height=32, width=32)
    out = aug.spatial_augment(frames, seed(1), 32, only).numpy()
    assert any(np.array_equal(out[..., 0], frames[..., c]) for c in range(3))


def test_no_replication_keeps_colour():
    frames = random_clip()
    out = aug.spatial_augment(frames, seed(0), 32, aug.AugmentConfig(channel_replication=False)).numpy()
    assert not np.array_equal(out[..., 0], out[..., 1])


def jitter_only(**strengths):
    values = dict(brightness=0.0, contrast=0.0, saturation=0.0, hue=0.0)
    values.update(strengths)
    return aug.AugmentConfig(
        scale_jitter=False, flip=False, channel_replication=False, color_prob=1.0, **values
    )


def test_brightness_scales_every_pixel_by_one_factor():
    frames = random_clip(height=32, width=32, low=60, high=150)
    out = aug.spatial_augment(frames, seed(2), 32, jitter_only(brightness=0.4)).numpy().astype(float)
    ratio = (out * frames).sum() / (frames.astype(float) ** 2).sum()
    assert abs(ratio - 1) > 1e-3
    assert np.abs(out - ratio * frames).max() <= 1.0


def test_contrast_keeps_each_frame_mean_and_scales_deviations():
    frames = random_clip(height=32, width=32, low=80, high=170)
    frames[1] //= 2  # a different mean per frame
    out = aug.spatial_augment(frames, seed(5), 32, jitter_only(contrast=0.4)).numpy().astype(float)
    x = frames.astype(float)
    mean = x.mean(axis=(1, 2, 3), keepdims=True)
    np.testing.assert_allclose(out.mean(axis=(1, 2, 3), keepdims=True), mean, atol=0.6)
    factor = ((out - mean) * (x - mean)).sum() / ((x - mean) ** 2).sum()
    assert abs(factor - 1) > 1e-3
    assert np.abs(out - (mean + factor * (x - mean))).max() <= 1.0


@pytest.mark.parametrize("strengths", [{"saturation": 0.4}, {"hue": 0.1}])
def test_saturation_and_hue_keep_luma(strengths):
    frames = random_clip(height=32, width=32, low=90, high=160)
    out = aug.spatial_augment(frames, seed(4), 32, jitter_only(**strengths)).numpy().astype(float)
    assert np.abs(out - frames).max() > 2
    np.testing.assert_allclose(out @ GRAY, frames @ GRAY, atol=1.0)


def test_color_prob_zero_leaves_colour_unchanged():
    frames = random_clip(height=32, width=32)
    config = aug.AugmentConfig(scale_jitter=False, flip=False, channel_replication=False, color_prob=0.0)
    np.testing.assert_array_equal(aug.spatial_augment(frames, seed(0), 32, config).numpy(), frames)


def test_same_seed_same_clip_and_other_seed_differs():
    frames = random_clip()
    first = aug.spatial_augment(frames, seed(1), 24).numpy()
    np.testing.assert_array_equal(first, aug.spatial_augment(frames, seed(1), 24).numpy())
    assert not np.array_equal(first, aug.spatial_augment(frames, seed(2), 24).numpy())


def test_scale_jitter_box_stays_in_range():
    config = aug.AugmentConfig(scale=(0.3, 1.0), ratio=(0.75, 4 / 3))
    areas = []
    for k in range(60):
        top, left, h, w = aug.random_box(seed(k), 40, 50, 32, config).numpy()
        assert 0 <= top and top + h <= 40 and 0 <= left and left + w <= 50
        areas.append(h * w / (40 * 50))
        if h < 40 and w < 50:  # not clipped to the image: aspect within the range (up to rounding)
            assert 0.75 - 0.06 <= w / h <= 4 / 3 + 0.06
    assert min(areas) >= 0.3 - 0.03 and max(areas) <= 1.0
    assert max(areas) - min(areas) > 0.3
    fixed = aug.random_box(seed(0), 40, 50, 32, aug.AugmentConfig(scale_jitter=False)).numpy()
    assert tuple(fixed[2:]) == (32, 32)


def test_center_crop():
    frames = random_clip(height=40, width=52)
    np.testing.assert_array_equal(aug.center_crop(frames, 32).numpy(), frames[:, 4:36, 10:42])


@pytest.mark.parametrize(
    "kwargs",
    [{"flip_prob": 1.5}, {"color_prob": -0.1}, {"scale": (0.0, 1.0)}, {"scale": (0.8, 0.5)}, {"ratio": (2.0, 1.0)},
     {"brightness": 1.0}, {"hue": 0.6}],
)
def test_config_rejects_bad_values(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        aug.AugmentConfig(**kwargs)

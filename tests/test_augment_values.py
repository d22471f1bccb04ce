"""data.augment's colour draws over many seeds: every factor in its range and
covering it, the hue angle recovered from a pure colour, the combined
contrast·brightness mean term against numpy, and empirical probabilities near
their settings."""

import math

import numpy as np
import tensorflow as tf

from data import augment as aug

SEEDS = 600
YIQ = np.array([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])  # NTSC RGB → YIQ


def colour_draws(config, n=SEEDS):
    """(matrix (n, 3, 3), mean_weight (n,)) for seeds (3, k)."""

    @tf.function
    def draw(k):
        return aug.color_params(tf.stack([tf.constant(3, tf.int64), k]), config)

    pairs = [draw(tf.constant(k, tf.int64)) for k in range(n)]
    return np.stack([p[0].numpy() for p in pairs]), np.array([float(p[1]) for p in pairs])


def only(**kwargs):
    """Colour jitter always on, every strength 0 but those given; no replication."""
    base = dict(brightness=0.0, contrast=0.0, saturation=0.0, hue=0.0, color_prob=1.0, channel_replication=False)
    return aug.AugmentConfig(**{**base, **kwargs})


def assert_covers(values, lo, hi):
    """Inside [lo, hi] and spread over it (600 uniform draws reach within 2% of both ends)."""
    assert values.min() >= lo - 1e-6 and values.max() <= hi + 1e-6, (values.min(), values.max())
    assert values.min() < lo + 0.02 * (hi - lo) and values.max() > hi - 0.02 * (hi - lo)
    assert abs(values.mean() - (lo + hi) / 2) < 0.05 * (hi - lo)


def test_brightness_and_contrast_factors_and_their_mean_term():
    matrices, mean_weights = colour_draws(only(brightness=0.4, contrast=0.3))
    cb = matrices[:, 0, 0]
    np.testing.assert_allclose(matrices, cb[:, None, None] * np.eye(3), atol=1e-6)  # no chroma change
    b = cb + mean_weights  # matrix = c·b·I and mean_weight = (1 − c)·b
    c = cb / b
    assert_covers(b, 0.6, 1.4)
    assert_covers(c, 0.7, 1.3)
    # y = c·b·x + (1 − c)·b·mean(frame), per frame
    clip = np.random.default_rng(0).uniform(0, 255, (3, 4, 4, 3)).astype("float32")
    got = aug.apply_color(tf.constant(clip), tf.constant(matrices[7]), tf.constant(mean_weights[7], tf.float32)).numpy()
    want = c[7] * b[7] * clip + (1 - c[7]) * b[7] * clip.mean(axis=(1, 2, 3), keepdims=True)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-3)


def test_saturation_factor_range():
    matrices, _ = colour_draws(only(saturation=0.5))
    # S = s·I + (1 − s)·1·grayᵀ: pure red's red output is s + (1 − s)·0.299
    red_out = matrices[:, 0, 0]
    s = (red_out - YIQ[0, 0]) / (1 - YIQ[0, 0])
    assert_covers(s, 0.5, 1.5)


def test_hue_angle_recovered_from_a_pure_colour():
    hue = 0.1
    matrices, _ = colour_draws(only(hue=hue))
    colour = np.array([200.0, 40.0, 90.0])
    before = YIQ @ colour
    after = np.einsum("ij,njk,k->ni", YIQ, matrices, colour)
    np.testing.assert_allclose(after[:, 0], before[0], rtol=1e-5)  # luma kept
    np.testing.assert_allclose(np.hypot(after[:, 1], after[:, 2]), np.hypot(before[1], before[2]), rtol=1e-4)
    angle = np.arctan2(after[:, 2], after[:, 1]) - np.arctan2(before[2], before[1])
    angle = (angle + math.pi) % (2 * math.pi) - math.pi
    assert_covers(angle, -2 * math.pi * hue, 2 * math.pi * hue)


def test_colour_and_replication_probabilities():
    n = 2000
    jittered, _ = colour_draws(aug.AugmentConfig(color_prob=0.3, channel_replication=False), n)
    rate = np.mean(np.any(np.abs(jittered - np.eye(3)) > 1e-6, axis=(1, 2)))
    assert abs(rate - 0.3) < 3 * math.sqrt(0.3 * 0.7 / n), rate
    replicated, _ = colour_draws(aug.AugmentConfig(color_jitter=False, replication_prob=0.7), n)
    one_source = np.all(np.abs(replicated - replicated[:, :1, :]) < 1e-6, axis=(1, 2))  # every row the same
    assert abs(one_source.mean() - 0.7) < 3 * math.sqrt(0.7 * 0.3 / n), one_source.mean()
    channels = replicated[one_source].argmax(axis=2)[:, 0]
    assert set(np.unique(channels)) == {0, 1, 2}


def test_flip_probability():
    n = 400
    config = aug.AugmentConfig(scale_jitter=False, color_jitter=False, channel_replication=False, flip_prob=0.25)
    frame = np.tile(np.arange(8, dtype=np.uint8)[None, :, None] * 30, (8, 1, 3))[None]  # left-to-right ramp

    @tf.function
    def first_column(k):
        return aug.spatial_augment(tf.constant(frame), tf.stack([tf.constant(5, tf.int64), k]), 8, config)[0, 0, 0, 0]

    flipped = np.mean([int(first_column(tf.constant(k, tf.int64))) == 210 for k in range(n)])
    assert abs(flipped - 0.25) < 3 * math.sqrt(0.25 * 0.75 / n), flipped

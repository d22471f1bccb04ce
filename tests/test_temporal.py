"""data.temporal: every label decoded independently from the frame indices it comes with.

Draws run inside ``tf.data.Dataset.map`` (graph mode, num_frames a tensor), many seeds
and video lengths at once, including videos too short for the requested spans.
"""

import itertools

import numpy as np
import pytest
import tensorflow as tf

from data import temporal as tt

LENGTHS = (1, 3, 7, 12, 16, 24, 31, 32, 45, 64, 100, 121, 200, 241, 242, 500)


def run(fn, lengths, repeats, tag=0):
    """fn(seed_a, seed_b, num_frames) mapped over (seeds, lengths): a dict of numpy arrays stacked on axis 0."""
    lengths = np.repeat(np.asarray(lengths, np.int32), repeats)
    count = len(lengths)
    seeds = np.stack([np.full(count, tag), np.arange(count)], 1).astype(np.int64)
    pairs = np.stack([np.full(count, 99), np.arange(count) // 2], 1).astype(np.int64)
    data = tf.data.Dataset.from_tensor_slices((seeds, pairs, lengths)).map(fn).batch(count)
    return {k: np.asarray(v) for k, v in data.get_single_element().items()}, lengths


def consecutive(indices, num_frames):
    """True where each row is start, start + 1, ... modulo num_frames (no wrap when it fits)."""
    steps = np.diff(indices, axis=-1) % num_frames[:, None] == 1 % num_frames[:, None]
    fits = indices.shape[-1] <= num_frames
    no_wrap = indices.max(-1) - indices.min(-1) == indices.shape[-1] - 1
    return steps.all(-1) & (no_wrap | ~fits)


def span(speed_class, frames):
    return (frames - 1) * np.asarray(tt.SPEEDS)[speed_class] + 1


def decode_clip(indices, num_frames):
    """(speed class, direction) read from a row's stride; looped rows (video shorter than the clip)
    read modulo the length, where a direction is only visible in videos of 3 frames or more."""
    step = np.diff(indices)
    if len(indices) > num_frames:
        forward = (step % num_frames == 1 % num_frames).all()
        backward = (-step % num_frames == 1 % num_frames).all()
        assert forward or backward, indices
        return 0, None if num_frames <= 2 else int(backward)
    assert (step == step[0]).all() and step[0] != 0, indices
    return tt.SPEEDS.index(abs(int(step[0]))), int(step[0] < 0)


def decode_order(p, q):
    if q.max() < p.min():
        return tt.ORDER_BEFORE
    if q.min() > p.max():
        return tt.ORDER_AFTER
    return tt.ORDER_OVERLAP


def oracle_id(speed_p, speed_q, direction_p, direction_q, offset, frames, num_speeds=4, max_gap=None):
    """The exact transformation's id from decoded values: mixed radix, offset shifted by its bound."""
    bound = (frames - 1) * tt.SPEEDS[num_speeds - 1] + 1 + (frames if max_gap is None else max_gap)
    coarse = ((speed_p * num_speeds + speed_q) * 2 + direction_p) * 2 + direction_q
    return coarse * (2 * bound + 1) + offset + bound


def pair_draw(frames, share_pairs=True, max_gap=None):
    def fn(seed, pair_seed, num_frames):
        relative = tt.relative_transform(pair_seed if share_pairs else seed, frames, max_gap=max_gap)
        p, q, labels = tt.place_pair(tf.random.experimental.stateless_fold_in(seed, 1), num_frames, frames, relative)
        requested = {f"requested_{k}": v for k, v in relative.items()}
        return {"p": p, "q": q, "id": tt.transform_id(labels, frames, max_gap=max_gap), **labels, **requested}

    return fn


@pytest.mark.parametrize("frames", [4, 16])
def test_place_pair_labels_are_what_the_indices_show(frames):
    out, lengths = run(pair_draw(frames, share_pairs=False), LENGTHS, 60)
    for i, n in enumerate(lengths):
        p, q = out["p"][i], out["q"][i]
        assert p.shape == q.shape == (frames,)
        assert (p >= 0).all() and (p < n).all() and (q >= 0).all() and (q < n).all()
        decoded = {}
        for clip, name in ((p, "p"), (q, "q")):
            speed, direction = decode_clip(clip, n)
            assert speed == out[f"speed_{name}"][i] and direction in (None, out[f"direction_{name}"][i])
            decoded[name] = (speed, direction)
        if frames <= n:
            offset = int(q.min()) - int(p.min())
            assert decode_order(p, q) == out["order"][i] and offset == out["offset"][i]
            if n >= 3:
                assert out["id"][i] == oracle_id(*decoded["p"][:1], *decoded["q"][:1], decoded["p"][1],
                                                 decoded["q"][1], offset, frames)
        else:  # looped: both clips are the whole video from frame 0
            assert out["order"][i] == tt.ORDER_OVERLAP and p.min() == q.min() == 0 and out["offset"][i] == 0


@pytest.mark.parametrize("frames", [4, 16])
def test_place_pair_reduces_only_what_does_not_fit(frames):
    out, lengths = run(pair_draw(frames, share_pairs=False), LENGTHS, 60)
    sp, sq = span(out["requested_speed_p"], frames), span(out["requested_speed_q"], frames)
    offset = out["requested_offset"]
    fits = np.maximum(sp, offset + sq) - np.minimum(0, offset) <= lengths  # the pair's extent
    for name in tt.RELATIVE_LABELS:
        np.testing.assert_array_equal(out[name][fits], out[f"requested_{name}"][fits])
        if name.startswith("speed"):
            assert (out[name] <= out[f"requested_{name}"]).all()
    assert (np.abs(out["offset"]) <= np.abs(offset)).all()  # clamping moves the offset towards 0
    # The order changes only when two speed-1 clips cannot be disjoint, and then to overlap.
    changed = out["order"] != out["requested_order"]
    assert (lengths[changed] < 2 * frames).all() and (out["order"][changed] == tt.ORDER_OVERLAP).all()
    # Speeds drop only where the order's least extent does not fit.
    separate = out["requested_order"] != tt.ORDER_OVERLAP
    speeds_fit = np.where(separate, sp + sq, np.maximum(sp, sq)) <= lengths
    for name in ("speed_p", "speed_q"):
        np.testing.assert_array_equal(out[name][speeds_fit], out[f"requested_{name}"][speeds_fit])
    assert (~fits).sum() > 100 and fits.sum() > 100


@pytest.mark.parametrize(
    "num_frames, requested, expected",
    [  # T = 16: spans 16, 31, 61, 121 for speed classes 0..3; (speed_p, speed_q, order, offset)
        (300, (3, 3, 0, -130), (3, 3, 0, -130)),  # extent 251 fits: as asked
        (200, (3, 3, 0, -130), (2, 2, 0, -130)),  # 242 > 200: both drop to 4x; -130 in [61 - 200, -61]
        (200, (3, 3, 0, -150), (2, 2, 0, -139)),  # the same, offset clamped to that range
        (200, (3, 1, 1, 125), (3, 1, 1, 125)),  # extent 156 fits as asked
        (140, (3, 1, 1, 125), (2, 1, 1, 109)),  # 152 > 140: p to 4x; offset clamped to [61, 140 - 31]
        (100, (3, 0, 2, -15), (2, 0, 2, -15)),  # overlap needs the longer span, 121 > 100, 61 fits
        (100, (0, 3, 2, 10), (0, 2, 2, 10)),  # q 121 > 100 -> 61; offset 10 in [-60, 15]
        (70, (0, 2, 2, 12), (0, 2, 2, 9)),  # extent 12 + 61 = 73 > 70: offset clamped to 70 - 61
        (30, (1, 2, 0, -70), (0, 0, 2, -14)),  # 2T = 32 > 30: overlap; both to 1x; offset to [1 - 16, 30 - 16] ∩
        (10, (2, 3, 1, 70), (0, 0, 2, 0)),  # shorter than one clip: looped speed-1 windows, offset 0
    ],
)
def test_short_video_policy_by_hand(num_frames, requested, expected):
    relative = dict(zip(tt.RELATIVE_LABELS, (requested[0], requested[1], 1, 0, requested[2], requested[3])))
    p, q, labels = tt.place_pair(tf.constant([3, 4]), tf.constant(num_frames), 16, relative)
    got = tuple(int(labels[k]) for k in ("speed_p", "speed_q", "order", "offset"))
    assert got == expected and int(labels["direction_p"]) == 1 and int(labels["direction_q"]) == 0
    if num_frames >= 16:
        assert int(np.min(q)) - int(np.min(p)) == expected[3]


def test_partners_share_the_exact_relative_transformation_not_the_frames():
    out, lengths = run(pair_draw(16), [1000], 200)
    for name in tt.RELATIVE_LABELS + ("id",):
        np.testing.assert_array_equal(out[name][0::2], out[name][1::2])
    np.testing.assert_array_equal(out["q"].min(-1) - out["p"].min(-1), out["offset"])
    same_frames = (out["p"][0::2] == out["p"][1::2]).all(-1) & (out["q"][0::2] == out["q"][1::2]).all(-1)
    assert same_frames.mean() < 0.05
    assert len(np.unique(out["id"][0::2])) > 90  # pair seeds vary the transformation, offsets included


def test_every_class_is_drawn_and_offsets_follow_their_class():
    out, _ = run(pair_draw(16, share_pairs=False), [2000], 1500)
    for name, classes in zip(tt.RELATIVE_LABELS, (4, 4, 2, 2, 3)):
        counts = np.bincount(out[name], minlength=classes)
        assert len(counts) == classes and counts.min() > 0.6 * len(out[name]) / classes, (name, counts)
    sp, sq, offset, order = span(out["speed_p"], 16), span(out["speed_q"], 16), out["offset"], out["order"]
    gap = np.where(order == tt.ORDER_AFTER, offset - sp, -offset - sq)  # frames strictly between disjoint clips
    disjoint = order != tt.ORDER_OVERLAP
    assert gap[disjoint].min() == 0 and gap[disjoint].max() == 16  # max_gap defaults to T
    assert ((offset > -sq) & (offset < sp))[~disjoint].all()
    # Overlap offsets are uniform over [1 - sq, sp - 1]: their mean is (sp - sq) / 2.
    assert abs(np.mean(offset[~disjoint] - (sp - sq)[~disjoint] / 2)) < 3


def test_max_gap_bounds_the_gap():
    out, _ = run(pair_draw(8, share_pairs=False, max_gap=3), [2000], 400)
    sp, sq, offset, order = span(out["speed_p"], 8), span(out["speed_q"], 8), out["offset"], out["order"]
    gap = np.where(order == tt.ORDER_AFTER, offset - sp, -offset - sq)[order != tt.ORDER_OVERLAP]
    assert set(np.unique(gap)) == {0, 1, 2, 3}


def test_transform_id_is_a_documented_bijection():
    labels = dict(speed_p=1, speed_q=2, direction_p=1, direction_q=0, order=2, offset=-5)
    bound = 15 * 8 + 1 + 16  # T = 16: the longest span, 121, plus the default gap bound T
    assert tt.max_offset(16) == bound
    assert tt.transform_id(labels, 16) == (((1 * 4 + 2) * 2 + 1) * 2 + 0) * (2 * bound + 1) - 5 + bound
    for num_speeds, max_gap in ((4, 2), (3, 0)):
        bound = 3 * tt.SPEEDS[num_speeds - 1] + 1 + max_gap  # T = 4
        grid = itertools.product(range(num_speeds), range(num_speeds), range(2), range(2), range(-bound, bound + 1))
        grid = np.array(list(grid))
        fields = dict(zip(("speed_p", "speed_q", "direction_p", "direction_q", "offset"), grid.T))
        ids = tt.transform_id(fields, 4, num_speeds, max_gap)
        np.testing.assert_array_equal(np.sort(ids), np.arange(4 * num_speeds**2 * (2 * bound + 1)))


def test_same_seed_same_draw():
    first, _ = run(pair_draw(8), LENGTHS, 3)
    again, _ = run(pair_draw(8), LENGTHS, 3)
    other, _ = run(pair_draw(8), LENGTHS, 3, tag=5)
    for key in first:
        np.testing.assert_array_equal(first[key], again[key])
    assert not all(np.array_equal(first[k], other[k]) for k in ("p", "q"))


def views_draw(frames, transform, max_shift=4):
    def fn(seed, _, num_frames):
        a, b, labels = tt.pair_views(seed, num_frames, frames, transform, max_shift=max_shift)
        return {"a": a, "b": b, **labels}

    return fn


def test_none_gives_one_window_twice():
    out, lengths = run(views_draw(8, "none"), LENGTHS, 10)
    np.testing.assert_array_equal(out["a"], out["b"])
    assert consecutive(out["a"], lengths).all() and (out["a"] < lengths[:, None]).all()


def test_shift_label_is_the_start_difference():
    s = 4
    out, lengths = run(views_draw(8, "shift", s), LENGTHS, 40)
    a, b = out["a"], out["b"]
    assert consecutive(a, lengths).all() and consecutive(b, lengths).all()
    assert (a < lengths[:, None]).all() and (b < lengths[:, None]).all() and (a >= 0).all()
    fits = lengths >= 8
    np.testing.assert_array_equal(out["shift"][fits], b[fits, 0] - a[fits, 0])
    assert (out["shift"][~fits] == 0).all()  # looped videos cannot shift
    assert (np.abs(out["shift"]) <= 2 * s).all()  # each view moves at most s from the original clip
    # Clamped to the video: at most num_frames − T apart.
    assert (np.abs(out["shift"][fits]) <= lengths[fits] - 8).all()
    roomy = lengths >= 8 + 2 * s
    values = np.unique(out["shift"][roomy])
    np.testing.assert_array_equal(values, np.arange(-2 * s, 2 * s + 1))


def test_drop_takes_even_and_odd_positions_of_one_window():
    out, lengths = run(views_draw(8, "drop"), LENGTHS, 20)
    both = np.empty((len(lengths), 16), np.int64)
    even = np.where(out["parity_a"][:, None] == 0, out["a"], out["b"])
    odd = np.where(out["parity_a"][:, None] == 0, out["b"], out["a"])
    both[:, 0::2], both[:, 1::2] = even, odd
    assert consecutive(both, lengths).all() and (both < lengths[:, None]).all()
    assert set(out["parity_a"]) == {0, 1}


def test_reverse_reverses_the_labelled_view():
    out, lengths = run(views_draw(8, "reverse"), LENGTHS, 20)
    np.testing.assert_array_equal(out["a"], out["b"][:, ::-1])
    forward = np.where(out["reversed_view"][:, None] == 0, out["b"], out["a"])
    assert consecutive(forward, lengths).all()
    assert set(out["reversed_view"]) == {0, 1}


def test_shuffle_views_are_the_labelled_permutations_of_one_window():
    out, lengths = run(views_draw(8, "shuffle"), LENGTHS, 20)
    rows = np.arange(len(lengths))[:, None]
    for view in ("a", "b"):
        perm = out[f"permutation_{view}"]
        np.testing.assert_array_equal(np.sort(perm, -1), np.tile(np.arange(8), (len(lengths), 1)))
        window = np.empty_like(out[view])
        window[rows, perm] = out[view]  # view[i] = window[perm[i]]
        assert consecutive(window, lengths).all()
        if view == "a":
            first = window
    np.testing.assert_array_equal(window, first)
    assert (out["permutation_a"] != out["permutation_b"]).any(-1).mean() > 0.9


def test_long_sequence_and_its_halves():
    def fn(seed, _, num_frames):
        long, first, second = tt.long_sequence(seed, num_frames, 8)
        return {"long": long, "first": first, "second": second}

    out, lengths = run(fn, LENGTHS, 10)
    assert out["long"].shape[1] == 16 and consecutive(out["long"], lengths).all()
    assert (out["long"] < lengths[:, None]).all()
    np.testing.assert_array_equal(np.concatenate([out["first"], out["second"]], 1), out["long"])


def test_random_permutation_is_uniform_and_stateless():
    def fn(seed, _, num_frames):
        return {"perm": tt.random_permutation(seed, 6)}

    out, _ = run(fn, [1], 1200)
    perms = out["perm"]
    np.testing.assert_array_equal(np.sort(perms, -1), np.tile(np.arange(6), (1200, 1)))
    counts = np.stack([np.bincount(perms[:, i], minlength=6) for i in range(6)])
    assert counts.min() > 150 and counts.max() < 250  # each value at each position ≈ 200
    again, _ = run(fn, [1], 1200)
    np.testing.assert_array_equal(perms, again["perm"])


@pytest.mark.parametrize("speed", [1, 2])
def test_window_start_is_uniform_over_the_starts_that_fit(speed):
    """The pipeline's rule: a T-frame window at ``speed`` spans (T − 1)·speed + 1 frames and starts
    uniformly in [0, n − span]; a shorter video starts at 0 and loops. Frequencies are compared with
    1 / (n − span + 1) over 2000 draws per length (5 standard errors)."""
    def fn(seed, _, num_frames):
        return {"w": tt.window(seed, num_frames, 8, speed)}

    lengths = (5, 20, 31)
    out, drawn = run(fn, lengths, 2000)
    span = 7 * speed + 1
    steps = np.diff(out["w"], axis=-1) % drawn[:, None]
    assert (steps == speed % drawn[:, None]).all() and (out["w"] < drawn[:, None]).all()
    for n in lengths:
        starts = out["w"][drawn == n, 0]
        if n < span:
            assert (starts == 0).all()
            continue
        count = n - span + 1
        frequency = np.bincount(starts, minlength=count) / len(starts)
        assert len(frequency) == count, frequency  # no start beyond n − span
        assert np.abs(frequency - 1 / count).max() < 5 * np.sqrt(1 / count * (1 - 1 / count) / len(starts))


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: tt.pair_views([1, 2], 50, 8, "jitter"), "jitter"),
        (lambda: tt.pair_views([1, 2], 50, 8, "shift", max_shift=-1), "max_shift"),
        (lambda: tt.window([1, 2], 50, 0), "frames"),
        (lambda: tt.long_sequence([1, 2], 50, 2.5), "frames"),
        (lambda: tt.relative_transform([1, 2], 8, num_speeds=5), "num_speeds"),
        (lambda: tt.relative_transform([1, 2], 8, max_gap=-1), "max_gap"),
    ],
)
def test_bad_arguments_raise_value_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()

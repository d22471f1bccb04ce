"""HDC's ``tc_gap`` (data.temporal.separated_windows, data.recipes.HDCRecipe): every sample
against a brute-force numpy reference of the admissible placements, and through the
pipeline on frames that encode their index.

Reference: starts range over [0, m], m = max(n − T, 0); a pair (a, b) is admissible when
|a − b| >= T + gap (``gap`` frames strictly between the windows). x's start is uniform over
the starts with an admissible partner, then u_t's uniform over that start's partners; with
no admissible pair, the two ends {0, m} in either order, each with probability 1/2.
"""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from data import packing
from data import pipelines as pl
from data import recipes as rc
from data import temporal as tt
from tests.test_pipelines import OFF, coded_video, frame_ids, video_id, write
from tests.test_temporal import run

T = 4
# gap 2 (D = 6): < T, = T, too short (m < 6), just long enough (m = 6), x restricted (m = 8),
# first long enough for every x (m = 2D − 1 = 11), long; gap 0 (D = 4): < T, 7 < 2T, 8 = 2T, 10, long
CASES = {2: (2, 4, 9, 10, 12, 15, 20), 0: (3, 7, 8, 10, 20)}


def reference(n, gap):
    """{(a, b): probability} of the documented draw, by enumeration."""
    m, distance = max(n - T, 0), T + gap
    partners = {a: [b for b in range(m + 1) if abs(a - b) >= distance] for a in range(m + 1)}
    firsts = [a for a in partners if partners[a]]
    if not firsts:
        ends = sorted({0, m})
        return {(a, m - a): 1 / len(ends) for a in ends}
    return {(a, b): 1 / len(firsts) / len(partners[a]) for a in firsts for b in partners[a]}


def start_of(indices, n):
    """Start of a T-frame window (indices start + k mod n), checked."""
    start = int(indices[0])
    np.testing.assert_array_equal(indices, (start + np.arange(T)) % n)
    return start


def frames_between(x, t):
    """Frames strictly between two windows, -1 if they share a frame."""
    return int(np.abs(x[:, None] - t[None, :]).min()) - 1


def draws(gap, repeats):
    def fn(seed, pair_seed, num_frames):
        x, t = tt.separated_windows(seed, num_frames, T, gap)
        return {"x": x, "t": t, "window": tt.window(tf.random.experimental.stateless_fold_in(seed, 0), num_frames, T)}

    return run(fn, CASES[gap], repeats, tag=gap)


@pytest.mark.parametrize("gap", sorted(CASES))
def test_every_sample_respects_the_gap_or_the_fallback_and_the_draw_is_the_reference(gap):
    repeats = 3000
    out, lengths = draws(gap, repeats)
    for n in CASES[gap]:
        rows = np.flatnonzero(lengths == n)
        pairs = [(start_of(out["x"][i], n), start_of(out["t"][i], n)) for i in rows]
        expected = reference(n, gap)
        m = max(n - T, 0)
        for (a, b), i in zip(pairs, rows):
            if n >= 2 * T + gap:
                assert frames_between(out["x"][i], out["t"][i]) >= gap, (n, a, b)
            else:  # as far apart as the video allows
                assert {a, b} == {0, m} and abs(a - b) == m, (n, a, b)
        counts = {pair: pairs.count(pair) for pair in set(pairs)}
        assert set(counts) == set(expected), n  # every admissible placement is reached, nothing else
        observed = np.array([counts[p] for p in expected])
        wanted = repeats * np.array(list(expected.values()))
        chi2, dof = ((observed - wanted) ** 2 / wanted).sum(), len(expected) - 1
        assert chi2 <= dof + 6 * np.sqrt(2 * max(dof, 1)), (n, chi2, dof)
        if n >= 3 * T + 2 * gap - 1:  # every start has a partner: x_i is window()'s draw, unchanged
            np.testing.assert_array_equal(out["x"][rows], out["window"][rows])


def test_a_larger_gap_keeps_x_i_on_long_videos():
    key, n = tf.constant([4, 9]), tf.constant(60)
    x0, _ = tt.separated_windows(key, n, T, 0)
    for gap in (3, 10, 20):  # 2·(T + gap) − 1 <= 56 starts: every x has a partner
        x, t = tt.separated_windows(key, n, T, gap)
        np.testing.assert_array_equal(x, x0)
        assert frames_between(x.numpy(), t.numpy()) >= gap


def test_tc_gap_minus_one_is_the_independent_draws_bitwise():
    recipe, key = rc.HDCRecipe(tc_gap=-1), tf.constant([7, 11])
    for n in (3, 12, 50):
        clips, labels = recipe.indices(key, key, tf.constant(n), T, {"o", "s", "t"})
        assert labels == {}
        for name, fold in (("x", 0), ("t", 1)):  # the draws HDC made before tc_gap existed
            expected = tt.window(tf.random.experimental.stateless_fold_in(key, fold), n, T)
            np.testing.assert_array_equal(clips[name], expected)
    with pytest.raises(ValueError, match="gap must be a non-negative integer, received -1"):
        tt.separated_windows(key, 10, T, -1)  # -1 is the recipe's switch, not a gap


def test_the_default_is_disjoint_windows():
    assert rc.HDCRecipe().tc_gap == 0
    clips, _ = rc.HDCRecipe().indices(tf.constant([1, 2]), None, tf.constant(2 * T), T, {"t"})
    assert set(clips) == {"t"} and start_of(clips["t"].numpy(), 2 * T) in (0, T)


@pytest.mark.parametrize("gap", [-2, 1.5, True, "3"])
def test_bad_gaps_raise_naming_the_value(gap):
    with pytest.raises(ValueError, match=f"HDCRecipe.tc_gap must be an integer >= 0, or -1.*{gap!r}"):
        rc.HDCRecipe(tc_gap=gap)
    from hdc.config import TrainConfig

    with pytest.raises(ValueError, match=f"tc_gap must be an integer >= 0.*received {gap!r}"):
        TrainConfig(tc_gap=gap).validate()


def test_the_flag_reaches_the_recipe():
    import train
    from hdc.pretrain import view_recipes

    config, _ = train.config_from_args(["--backbone", "c3d", "--tc-gap", "5"])
    assert config.tc_gap == 5 and view_recipes(config)[0].tc_gap == 5
    with pytest.raises(SystemExit):
        train.config_from_args(["--backbone", "c3d", "--tc-gap", "-3"])


LENGTHS = (30, 10, 12, 7, 3)  # gap 2: long, just long enough, x restricted, too short, < T


@pytest.mark.parametrize("gap", [2, -1])
def test_pipeline_u_t_keeps_the_gap_from_x(tmp_path, gap):
    files = [write(tmp_path / "v.tfrecord", [(v, coded_video(v, n)) for v, n in enumerate(LENGTHS)])]
    clip = pl.ClipSpec(frames=T, sample_size=40, crop=32)
    recipe = rc.HDCRecipe(dataclasses.replace(OFF, tc_spatial_aug=False), tc_gap=gap)
    layout = rc.full_layout((recipe,), (T, 32, 32, 3))
    overlaps, seen = 0, set()
    for batch in pl.pretrain_dataset(files, 5, clip, seed=1, layout=layout, recipes=(recipe,)).take(6):
        views, _ = packing.unpack(batch, layout)
        for u_o, u_s, u_t in zip(*(np.asarray(views[k]) for k in "ost")):
            n = LENGTHS[video_id(u_o)]
            x, t = frame_ids(u_o), frame_ids(u_t)
            np.testing.assert_array_equal(x, frame_ids(u_s))
            a, b = start_of(x, n), start_of(t, n)
            seen.add(n)
            overlaps += frames_between(x, t) < 0
            if gap >= 0 and n >= 2 * T + gap:
                assert frames_between(x, t) >= gap, (n, x, t)
            elif gap >= 0:
                assert {a, b} == {0, max(n - T, 0)}, (n, x, t)
    assert seen == set(LENGTHS)
    if gap < 0:  # independent draws do overlap: the check above can see it
        assert overlaps > 0

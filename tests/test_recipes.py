"""data.recipes through data.prepare and data.pipelines: every label decoded from the pixels.

Frame k of video v is flat: red 8 + 16 (k mod 16), green 8 + 16 (k div 16), blue 12 + 24 v
(steps of 16 and 24 survive Motion JPEG, the stored JPEGs and resizing; crops and flips do
not change a flat frame). Colour transforms are off, so each view's frame numbers and its
video are read back from its pixels and compared with the labels the pipeline packed.
"""

import dataclasses
import itertools

import numpy as np
import pytest
import tensorflow as tf

from data import augment as aug
from data import packing
from data import pipelines as pl
from data import recipes as rc
from data import temporal as tt
from data.prepare import PrepareConfig, prepare
from data.records import encode_example, shard_files
from data.video import write_video
from tests.test_temporal import consecutive, decode_clip, decode_order, oracle_id

T = 4
CLIP = pl.ClipSpec(frames=T, sample_size=24, crop=16)
LENGTHS = (60, 56, 30, 6, 3, 52)  # 8x before/after at T = 4 needs 50 frames; 6 < 2T; 3 < T
LONG_ENOUGH = 2 * ((T - 1) * tt.SPEEDS[-1] + 1)
HDC_OFF = aug.AugmentConfig(color_jitter=False, channel_replication=False)  # crops, scale jitter, flips stay
THESIS_OFF = aug.ThesisAugmentConfig(color_prob=0.0, grayscale_prob=0.0)  # crops, flips, blur stay


def coded_video(video, count, height=30, width=40):
    k = np.arange(count)
    frames = np.empty((count, height, width, 3), np.uint8)
    frames[..., 0] = (8 + 16 * (k % 16))[:, None, None]
    frames[..., 1] = (8 + 16 * (k // 16))[:, None, None]
    frames[..., 2] = 12 + 24 * video
    return frames


def frame_numbers(view):
    mean = view.reshape(len(view), -1, 3).astype(float).mean(axis=1)
    return np.round((mean[:, 0] - 8) / 16).astype(int) + 16 * np.round((mean[:, 1] - 8) / 16).astype(int)


def video_of(view):
    return int(np.round((view[..., 2].astype(float).mean() - 12) / 24))


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    root = tmp_path_factory.mktemp("recipes")
    (root / "videos" / "c").mkdir(parents=True)
    for video, count in enumerate(LENGTHS):
        write_video(str(root / "videos" / "c" / f"v{video}.avi"), coded_video(video, count))
    config = PrepareConfig(videos=str(root / "videos"), out=str(root / "out"), short_side=24, videos_per_shard=3,
                           progress=False)  # fmt: skip
    assert prepare(config).ok == len(LENGTHS)
    return shard_files(str(root / "out"), "unsplit")


def examples(files, recipes, steps, batch_size=4, seed=0, start_step=0):
    """One dict per example: {view: frame numbers}, "videos": {view: video}, "labels": {name: value}."""
    layout = rc.full_layout(recipes, (T, CLIP.crop, CLIP.crop, 3))
    dataset = pl.pretrain_dataset(files, batch_size, CLIP, seed=seed, start_step=start_step, layout=layout,
                                  recipes=recipes)  # fmt: skip
    out = []
    for batch in dataset.take(steps):
        views, labels = packing.unpack(batch, layout)
        views = {k: np.asarray(v) for k, v in views.items()}
        for row in range(batch_size):
            out.append({
                "ids": {k: frame_numbers(v[row]) for k, v in views.items()},
                "videos": {k: video_of(v[row]) for k, v in views.items()},
                "labels": {k: np.asarray(v[row]) for k, v in labels.items()},
            })  # fmt: skip
    return out


def window_start(ids, length):
    """First frame of a consecutive (looping) window, checked."""
    assert consecutive(ids[None], np.array([length]))[0], (ids, length)
    return int(ids[0])


@pytest.mark.parametrize("transform", tt.PAIR_TRANSFORMS)
def test_pair_labels_decode_from_pixels(shards, transform):
    recipe = rc.PairRecipe(transform, max_shift=3, augment=THESIS_OFF)
    for ex in examples(shards, (recipe,), 5):
        a, b, labels = ex["ids"]["a"], ex["ids"]["b"], ex["labels"]
        assert ex["videos"]["a"] == ex["videos"]["b"]
        n = LENGTHS[ex["videos"]["a"]]
        assert set(labels) == set(recipe.outputs(T)[1])
        if transform == "none":
            window_start(a, n)
            np.testing.assert_array_equal(a, b)
        elif transform == "shift":
            shift = window_start(b, n) - window_start(a, n)
            assert labels["pair_shift"] == shift and abs(shift) <= 2 * 3
            assert n >= T or a[0] == b[0] == 0  # a video shorter than T loops from frame 0
        elif transform == "drop":
            even, odd = (a, b) if labels["pair_parity_a"] == 0 else (b, a)
            window_start(np.stack([even, odd], 1).reshape(-1), n)
        elif transform == "reverse":
            backward, forward = (a, b) if labels["pair_reversed_view"] == 0 else (b, a)
            window_start(forward, n)
            np.testing.assert_array_equal(backward, forward[::-1])
        else:
            perm_a, perm_b = labels["pair_permutation_a"], labels["pair_permutation_b"]
            assert sorted(perm_a) == sorted(perm_b) == list(range(T))
            clip = np.empty(T, int)
            clip[perm_a] = a  # a[i] = clip[perm_a[i]]
            window_start(clip, n)
            np.testing.assert_array_equal(b, clip[perm_b])


def fits(labels, n):
    """Whether the relative transformation ``labels`` fits an n-frame video (data.temporal's rule)."""
    span_p, span_q = ((T - 1) * tt.SPEEDS[labels[f"te_speed_{c}"]] + 1 for c in "pq")
    offset = labels["te_offset"]
    extent = max(span_p, offset + span_q) - min(0, offset)
    return extent <= n and (labels["te_order"] == tt.ORDER_OVERLAP or 2 * T <= n)


def test_te_labels_decode_from_pixels_and_partners_share_the_exact_transformation(shards):
    """Frame numbers read from the pixels of p and q (index-coded videos, the real pipeline): the
    labels and an id built here from them alone; partners in videos long enough for every
    transformation share (speed p, speed q, direction p, direction q, start of q − start of p)."""
    gap = 2  # an 8x/8x pair with the largest gap spans 2·25 + 2 = 52 frames: three videos hold every pair
    recipe = rc.TERecipe(augment=HDC_OFF, max_gap=gap)
    long_enough = LONG_ENOUGH + gap
    out = examples(shards, (recipe,), 40)
    seen = {name: set() for name in ("te_speed_p", "te_direction_p", "te_order")}
    decoded = []
    for ex in out:
        p, q, labels = ex["ids"]["p"], ex["ids"]["q"], {k: int(v) for k, v in ex["labels"].items()}
        assert ex["videos"]["p"] == ex["videos"]["q"]
        n = LENGTHS[ex["videos"]["p"]]
        (speed_p, direction_p), (speed_q, direction_q) = decode_clip(p, n), decode_clip(q, n)
        offset = int(q.min()) - int(p.min()) if n >= T else 0
        decoded.append((speed_p, speed_q, direction_p, direction_q, offset))
        assert (labels["te_speed_p"], labels["te_speed_q"], labels["te_offset"]) == (speed_p, speed_q, offset)
        assert direction_p is None or labels["te_direction_p"] == direction_p
        assert direction_q is None or labels["te_direction_q"] == direction_q
        assert labels["te_order"] == decode_order(p, q)
        if n >= long_enough:
            assert labels["te_transform_id"] == oracle_id(*decoded[-1], frames=T, max_gap=gap)
            for name in seen:
                seen[name].add(labels[name])
    assert seen == {"te_speed_p": {0, 1, 2, 3}, "te_direction_p": {0, 1}, "te_order": {0, 1, 2}}
    offsets = set()
    for k, (first, second) in enumerate(zip(out[0::2], out[1::2])):  # stream positions 2k, 2k + 1 (even batches)
        (n1, n2) = (LENGTHS[ex["videos"]["p"]] for ex in (first, second))
        ids = [int(ex["labels"]["te_transform_id"]) for ex in (first, second)]
        if min(n1, n2) >= long_enough:
            assert decoded[2 * k] == decoded[2 * k + 1] and ids[0] == ids[1]
            offsets.add(decoded[2 * k][4])
        elif ids[0] != ids[1]:  # a short-video reduction, visible in the labels
            longer, shorter = (first, n2) if n1 >= n2 else (second, n1)
            assert not fits({k: int(v) for k, v in longer["labels"].items()}, shorter)
    assert len(offsets) >= 4  # the offset is part of the drawn transformation, not a constant


def test_te_spatial_rows_share_crop_and_flip_between_partners_not_colour(shards):
    """Table 1 (b), (c): a partner pair's spatial transformation is the pair's (crop, scale, flip)
    and colour jitter is per clip. Each clip's colour factors and box are recovered from the
    augmentation's own seeds here; the views of partners must then crop and flip alike, and the
    colour draws must differ."""
    for equivariance in ("spatial", "spatiotemporal"):
        config = aug.AugmentConfig(channel_replication=False, color_prob=1.0)
        recipe = rc.TERecipe(augment=config, equivariance=equivariance)
        frames = tf.constant(np.random.default_rng(0).integers(0, 256, (T, 24, 32, 3)), tf.uint8)
        keys = [tf.constant([1, 2 + row], tf.int64) for row in range(2)]
        pair_key = tf.constant([7, 7], tf.int64)
        views = [recipe.views(key, pair_key, {"p": frames, "q": frames}, 16, {"p", "q"}) for key in keys]
        gray = [{v: np.asarray(tf.image.rgb_to_grayscale(tf.cast(x[v], tf.float32))) for v in "pq"} for x in views]
        for v in "pq":
            a, b = np.asarray(views[0][v], float), np.asarray(views[1][v], float)
            assert not np.allclose(a, b, atol=2)  # colours differ between partners
            # Same geometry: per-frame spatial structure agrees after standardising away the colour transform.
            za, zb = ((g[v] - g[v].mean()) / g[v].std() for g in gray)
            assert np.corrcoef(za.ravel(), zb.ravel())[0, 1] > 0.9, (equivariance, v)
        # And p and q of one clip differ in geometry (their own draws), so the test can see a difference.
        zp, zq = ((gray[0][v] - gray[0][v].mean()) / gray[0][v].std() for v in "pq")
        assert np.corrcoef(zp.ravel(), zq.ravel())[0, 1] < 0.5


def test_long_sequence_halves_and_permutations_decode_from_pixels(shards):
    recipe = rc.LongRecipe(augment=THESIS_OFF)
    out = examples(shards, (recipe,), 4)
    for ex in out:
        ids = ex["ids"]
        assert len(set(ex["videos"].values())) == 1
        n = LENGTHS[ex["videos"]["long"]]
        assert len(ids["long"]) == 2 * T
        window_start(ids["long"], n)
        np.testing.assert_array_equal(ids["h1"], ids["long"][:T])
        np.testing.assert_array_equal(ids["h2"], ids["long"][T:])
        permutation = ex["labels"]["long_permutation"]
        assert sorted(permutation) == [0, 1, 2, 3] and list(permutation) != [0, 1, 2, 3]
    assert len({tuple(ex["labels"]["long_permutation"]) for ex in out}) > 5


def test_shuffled_permutation_is_uniform_over_the_non_identities():
    seeds = tf.data.Dataset.range(1200).map(lambda i: tt.shuffled_permutation(tf.stack([i, i * 0 + 7]), 3))
    counts = {}
    for perm in seeds.as_numpy_iterator():
        counts[tuple(perm)] = counts.get(tuple(perm), 0) + 1
    assert set(counts) == set(itertools.permutations(range(3))) - {(0, 1, 2)}
    assert min(counts.values()) > 190 and max(counts.values()) < 290  # 240 each


def ramp_shard(path):
    """Red codes the frame index; green 4 x and blue 5 y code the pixel position."""
    frames = np.empty((8, 40, 52, 3), np.uint8)
    frames[..., 0] = (8 + 16 * np.arange(8))[:, None, None]
    frames[..., 1] = 4 * np.arange(52)[None, None, :]
    frames[..., 2] = 5 * np.arange(40)[None, :, None]
    with tf.io.TFRecordWriter(str(path)) as writer:
        writer.write(encode_example(frames, quality=95))
    return [str(path)]


@pytest.mark.parametrize("mode", aug.THESIS_MODES)
def test_chunk_mode_one_crop_per_clip_frame_mode_one_per_frame(tmp_path, mode):
    config = dataclasses.replace(THESIS_OFF, mode=mode, blur_prob=0.0)
    recipe = rc.PairRecipe("none", augment=config)
    layout = rc.full_layout((recipe,), (T, 16, 16, 3))
    files = ramp_shard(tmp_path / "ramp.tfrecord")
    clip = pl.ClipSpec(frames=T, sample_size=40, crop=16)
    spread = []
    for batch in pl.pretrain_dataset(files, 1, clip, layout=layout, recipes=(recipe,), num_videos=1).take(6):
        views, _ = packing.unpack(batch, layout)
        for view in np.asarray(views["a"]).astype(float).reshape(-1, T, 16, 16, 3):
            position = view[..., 1:]  # green and blue: where the crop came from
            spread.append(np.abs(position - position[:1]).mean(axis=(1, 2, 3)).max())
    if mode == "chunk":
        assert max(spread) < 3, spread  # JPEG noise only
    else:
        assert min(spread) > 5, spread


def test_resumed_pipeline_gives_identical_batches_of_every_recipe(shards):
    recipes = (rc.HDCRecipe(), rc.PairRecipe(), rc.TERecipe(), rc.LongRecipe())
    layout = rc.full_layout(recipes, (T, CLIP.crop, CLIP.crop, 3))

    def batches(start_step, steps):
        dataset = pl.pretrain_dataset(shards, 2, CLIP, seed=5, start_step=start_step, layout=layout, recipes=recipes)
        return [np.asarray(b) for b in dataset.take(steps)]

    full, resumed = batches(0, 5), batches(3, 2)  # 6 videos, 2 per step: steps 3, 4 are in data-epoch 1
    assert full[0].shape == (2, packing.element_size(layout))
    for a, b in zip(full[3:], resumed):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "recipe",
    [rc.HDCRecipe(), *(rc.PairRecipe(t) for t in tt.PAIR_TRANSFORMS), rc.TERecipe(num_speeds=2), rc.LongRecipe(5)],
    ids=lambda r: f"{r.name}-{getattr(r, 'transform', '')}",
)
def test_outputs_declare_exactly_what_indices_return(recipe):
    views, label_shapes = recipe.outputs(T)
    clips, labels = recipe.indices(tf.constant([1, 2]), tf.constant([3, 4]), tf.constant(40), T, set(views))
    assert {k: tuple(v.shape) for k, v in labels.items()} == label_shapes
    assert all(v.dtype == tf.int32 for v in labels.values())
    if recipe.name != "hdc":  # HDC's u_o and u_s share one clip
        assert {k: v.shape[0] for k, v in clips.items()} == {k: m * T for k, m in views.items()}


def test_pair_shared_recipes_need_an_even_batch(shards):
    te = rc.TERecipe()
    with pytest.raises(ValueError, match="batch_size must be even with recipe 'te'.*received 3"):
        pl.pretrain_dataset(shards, 3, CLIP, layout=rc.full_layout((te,), (T, 16, 16, 3)), recipes=(te,))
    pair = rc.PairRecipe()
    pl.pretrain_dataset(shards, 3, CLIP, layout=rc.full_layout((pair,), (T, 16, 16, 3)), recipes=(pair,))


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: rc.PairRecipe("jitter"), "jitter"),
        (lambda: rc.PairRecipe(max_shift=-2), "max_shift.*-2"),
        (lambda: rc.TERecipe(num_speeds=5), "num_speeds.*5"),
        (lambda: rc.LongRecipe(permutation_length=1), "permutation_length.*1"),
    ],
)
def test_bad_recipe_settings_raise_naming_the_value(make, message):
    with pytest.raises(ValueError, match=message):
        make()

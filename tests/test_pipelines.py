"""data.pipelines on tiny shards whose frames encode (video, frame index) in their colour."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from data import pipelines as pl
from data.augment import AugmentConfig
from data.records import encode_example

CLIP = pl.ClipSpec(frames=8, sample_size=40, crop=32)
LENGTHS = [12, 5, 20, 9, 30]  # video v has LENGTHS[v] frames; 5 < T loops
OFF = AugmentConfig(scale_jitter=False, flip=False, color_jitter=False, channel_replication=False)


def coded_video(video, length, height=40, width=52):
    """Frame i is flat: red 8 i + 4, green 20 v + 10, blue 128 (JPEG keeps flat colours)."""
    frames = np.empty((length, height, width, 3), np.uint8)
    frames[..., 0] = (8 * np.arange(length) + 4)[:, None, None]
    frames[..., 1] = 20 * video + 10
    frames[..., 2] = 128
    return frames


def ramp_video(length=10, height=40, width=52):
    """Red codes the frame index; green = 4 x and blue = 5 y code the pixel position."""
    frames = np.empty((length, height, width, 3), np.uint8)
    frames[..., 0] = (8 * np.arange(length) + 4)[:, None, None]
    frames[..., 1] = 4 * np.arange(width)[None, None, :]
    frames[..., 2] = 5 * np.arange(height)[None, :, None]
    return frames


def write(path, videos):
    with tf.io.TFRecordWriter(str(path)) as writer:
        for video, frames in videos:
            writer.write(encode_example(frames, label=video, label_name=f"c{video}", video_id=f"v{video}", quality=95))
    return str(path)


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    root = tmp_path_factory.mktemp("shards")
    videos = [(v, coded_video(v, n)) for v, n in enumerate(LENGTHS)]
    return [write(root / "a.tfrecord", videos[:3]), write(root / "b.tfrecord", videos[3:])]


@pytest.fixture(scope="module")
def ramp_shard(tmp_path_factory):
    return [write(tmp_path_factory.mktemp("ramp") / "r.tfrecord", [(0, ramp_video())])]


def frame_ids(clip):
    """Frame index of each frame of a (T, H, W, 3) clip from its red level."""
    return np.round((clip[..., 0].astype(float).mean(axis=(1, 2)) - 4) / 8).astype(int)


def video_id(clip):
    return int(np.round((clip[..., 1].astype(float).mean() - 10) / 20))


def batches(dataset, count):
    return [tuple(np.asarray(x) for x in b) if isinstance(b, tuple) else np.asarray(b) for b in dataset.take(count)]


def is_window(ids, length, frames=8):
    start = ids[0]
    return 0 <= start <= max(length - frames, 0) and list(ids) == [(start + k) % length for k in range(frames)]


@pytest.mark.parametrize("tc_spatial_aug", [True, False])
def test_views_with_augmentations_off(shards, tc_spatial_aug):
    config = AugmentConfig(
        scale_jitter=False, flip=False, color_jitter=False, channel_replication=False, tc_spatial_aug=tc_spatial_aug
    )
    seen_t_differs = False
    for batch in batches(pl.pretrain_dataset(shards, 2, CLIP, config, seed=3), 6):
        assert batch.shape == (2, 3, 8, 32, 32, 3) and batch.dtype == np.uint8
        for u_o, u_s, u_t in batch:
            video = video_id(u_o)
            assert video_id(u_s) == video_id(u_t) == video
            np.testing.assert_array_equal(frame_ids(u_o), frame_ids(u_s))  # same timestamps
            np.testing.assert_array_equal(u_o, u_s)  # flat frames: no spatial difference either
            assert is_window(frame_ids(u_o), LENGTHS[video])
            assert is_window(frame_ids(u_t), LENGTHS[video])  # another contiguous window
            seen_t_differs |= not np.array_equal(frame_ids(u_t), frame_ids(u_o))
    assert seen_t_differs


def test_short_video_loops(shards):
    ids = [
        frame_ids(view)
        for batch in batches(pl.pretrain_dataset(shards, 1, CLIP, OFF, shuffle=False), 5)
        for view in batch[0]
        if video_id(view) == 1
    ]
    assert ids and all(list(i) == [0, 1, 2, 3, 4, 0, 1, 2] for i in ids)


def test_each_data_epoch_visits_every_video_once(shards):
    order = [video_id(b[0, 0]) for b in batches(pl.pretrain_dataset(shards, 1, CLIP, OFF, seed=1), 15)]
    epochs = [order[i : i + 5] for i in range(0, 15, 5)]
    assert all(sorted(e) == [0, 1, 2, 3, 4] for e in epochs)
    assert len({tuple(e) for e in epochs}) > 1  # reshuffled per epoch
    unshuffled = [video_id(b[0, 0]) for b in batches(pl.pretrain_dataset(shards, 1, CLIP, OFF, shuffle=False), 5)]
    assert unshuffled == [0, 1, 2, 3, 4]  # the records of both shards in file order


def test_full_augmentation_shapes_range_and_determinism(shards):
    first = batches(pl.pretrain_dataset(shards, 2, CLIP, seed=5), 2)
    again = batches(pl.pretrain_dataset(shards, 2, CLIP, seed=5), 2)
    other = batches(pl.pretrain_dataset(shards, 2, CLIP, seed=6), 2)
    for a, b in zip(first, again):
        assert a.shape == (2, 3, 8, 32, 32, 3) and a.dtype == np.uint8
        np.testing.assert_array_equal(a, b)
    assert not all(np.array_equal(a, c) for a, c in zip(first, other))
    assert any(not np.array_equal(b[:, 0], b[:, 1]) for b in first)  # u_o and u_s are different draws


def test_start_step_resumes_the_same_batches(shards):
    full = batches(pl.pretrain_dataset(shards, 2, CLIP, seed=9), 6)
    resumed = batches(pl.pretrain_dataset(shards, 2, CLIP, seed=9, start_step=3), 3)
    for a, b in zip(full[3:], resumed):  # steps 3..5 span data-epochs 1 and 2 (4 of the 5 videos per epoch, 2 per step)
        np.testing.assert_array_equal(a, b)
    ft_full = batches(pl.finetune_train_dataset(shards, 2, CLIP, seed=2), 4)
    ft_resumed = batches(pl.finetune_train_dataset(shards, 2, CLIP, seed=2, start_step=2, num_videos=5), 2)
    for (a, la), (b, lb) in zip(ft_full[2:], ft_resumed):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(la, lb)


def test_tc_spatial_aug_switch(ramp_shard):
    """With flips forced, u_o and u_s are mirrored; without spatial aug of TC, u_t is not."""
    config = AugmentConfig(scale_jitter=False, flip_prob=1.0, color_jitter=False, channel_replication=False)
    for tc, expect_t_flipped in ((True, True), (False, False)):
        batch = batches(pl.pretrain_dataset(ramp_shard, 1, CLIP, dataclasses.replace(config, tc_spatial_aug=tc)), 1)[0]
        for view, flipped in zip(batch[0], (True, True, expect_t_flipped)):
            green = view[0, 16, :, 1].astype(float)  # 4 x along a row
            assert (green[-1] < green[0]) == flipped


def test_finetune_labels_match_videos(shards):
    for clips, labels in batches(pl.finetune_train_dataset(shards, 2, CLIP, seed=4), 5):
        assert clips.shape == (2, 8, 32, 32, 3) and clips.dtype == np.uint8 and labels.dtype == np.int32
        for clip, label in zip(clips, labels):
            assert video_id(clip) == label
            np.testing.assert_allclose(clip[..., 2].mean(axis=(1, 2)), 128, atol=1.5)  # no colour jitter
            assert is_window(frame_ids(clip), LENGTHS[label])


def test_count_records(shards, tmp_path):
    assert pl.count_records(shards) == 5
    truncated = tmp_path / "t.tfrecord"
    truncated.write_bytes(open(shards[0], "rb").read()[:-10])
    with pytest.raises(ValueError, match="Truncated"):
        pl.count_records([str(truncated)])


def test_clip_starts_hand_computed():
    assert pl.clip_starts(40, 16, "dense") == [0, 16]
    assert pl.clip_starts(47, 16, "dense") == [0, 16]
    assert pl.clip_starts(16, 16, "dense") == [0]
    assert pl.clip_starts(10, 16, "dense") == [0]
    assert pl.clip_starts(40, 16, "retrieval") == [0, 2, 5, 8, 10, 13, 16, 18, 21, 24]  # centres linspace(8, 32, 10)
    assert pl.clip_starts(25, 16, "retrieval") == list(range(10))
    assert pl.clip_starts(10, 16, "retrieval") == [0] * 10
    assert pl.clip_starts(40, 16, "10x3") == [0, 2, 5, 8, 10, 13, 16, 18, 21, 24]
    with pytest.raises(ValueError, match="mode"):
        pl.clip_starts(40, 16, "sparse")


def test_crop_boxes_hand_computed():
    assert pl.crop_boxes(128, 171, 112, 128, "dense") == [
        (8, 29, 112, 112), (0, 21, 112, 112), (0, 37, 112, 112), (16, 21, 112, 112), (16, 37, 112, 112)
    ]
    assert pl.crop_boxes(128, 171, 112, 128, "retrieval") == [(8, 29, 112, 112)]
    assert pl.crop_boxes(128, 171, 112, 128, "10x3") == [(8, 0, 112, 112), (8, 29, 112, 112), (8, 59, 112, 112)]
    assert pl.crop_boxes(171, 128, 112, 128, "10x3") == [(0, 8, 112, 112), (29, 8, 112, 112), (59, 8, 112, 112)]


@pytest.mark.parametrize(
    "mode, starts",
    [
        ("dense", {0: [0], 1: [0], 2: [0, 8], 3: [0], 4: [0, 8, 16]}),
        ("retrieval", {0: [0, 0, 0, 1, 1, 2, 2, 3, 3, 4], 1: [0] * 10, 4: [0, 2, 4, 7, 9, 12, 14, 17, 19, 22]}),
    ],
)
def test_video_clips_dataset_counts_and_frames(shards, mode, starts):
    crops = 5 if mode == "dense" else 1
    videos = list(pl.video_clips_dataset(shards, CLIP, mode).as_numpy_iterator())
    assert [v["label"] for v in videos] == [0, 1, 2, 3, 4]
    for video in videos:
        label, length = int(video["label"]), LENGTHS[int(video["label"])]
        assert video["video_id"] == f"v{label}".encode() and video["num_frames"] == length
        if label not in starts:
            continue
        clips = video["clips"]
        assert clips.shape == (len(starts[label]) * crops, 8, 32, 32, 3) and clips.dtype == np.uint8
        for k, clip in enumerate(clips):
            start = starts[label][k // crops]
            assert list(frame_ids(clip)) == [(start + t) % length for t in range(8)]


@pytest.mark.parametrize(
    "mode, corners",
    [
        # frame 40×52, square 40 at left 6, crop 32: centre, TL, TR, BL, BR
        ("dense", [(4, 10), (0, 6), (0, 14), (8, 6), (8, 14)]),
        ("retrieval", [(4, 10)]),
        ("10x3", [(4, 0), (4, 10), (4, 20)]),
    ],
)
def test_video_clips_dataset_crop_positions(ramp_shard, mode, corners):
    clips = next(pl.video_clips_dataset(ramp_shard, CLIP, mode).as_numpy_iterator())["clips"]
    boxes = len(corners)
    for k, clip in enumerate(clips):
        top, left = corners[k % boxes]
        assert abs(clip[..., 1].astype(float).mean() - 4 * (left + 15.5)) < 2.5
        assert abs(clip[..., 2].astype(float).mean() - 5 * (top + 15.5)) < 2.5


def test_bad_arguments():
    with pytest.raises(ValueError, match="crop"):
        pl.ClipSpec(frames=8, sample_size=32, crop=40)
    with pytest.raises(ValueError, match="frames"):
        pl.ClipSpec(frames=0)
    with pytest.raises(ValueError, match="batch_size"):
        pl.pretrain_dataset(["x.tfrecord"], 0)
    with pytest.raises(ValueError, match="empty"):
        pl.pretrain_dataset([], 2, num_videos=3)
    with pytest.raises(ValueError, match="mode"):
        pl.video_clips_dataset(["x.tfrecord"], mode="sparse")

"""Test-time clip/crop enumeration (hand-computed positions, short videos
loop) and ``evaluate.py extract`` on a folder of small videos and on shards."""

import keras
import numpy as np
import pytest

import evaluate
from data.pipelines import ClipSpec
from data.video import write_video
from evaluation_data import class_video, decoded_videos, make_dataset, write_split
from hdc.evaluation.extract import evaluation_clips
from hdc.evaluation.features import per_video_means

CLIP = ClipSpec(frames=16, sample_size=40, crop=32)


def coded_video(num_frames, height=40, width=48):
    """Pixel (t, y, x) = (6t, 4y, 4x): a clip's top-left pixel tells its frame and box."""
    t, y, x = np.meshgrid(np.arange(num_frames), np.arange(height), np.arange(width), indexing="ij")
    return np.stack([6 * t, 4 * y, 4 * x], axis=-1).astype(np.uint8)


# Hand-computed: 40×48 frames, square 40 centred at left 4, crop 32, far = 8.
DENSE_BOXES = [(4, 8), (0, 4), (0, 12), (8, 4), (8, 12)]  # centre, TL, TR, BL, BR (top, left)
RETRIEVAL_BOX = (4, 8)  # centre crop of the frame
TEN_BY_THREE_BOXES = [(4, 0), (4, 8), (4, 16)]  # left, centre, right along the 48-wide side
# 40 frames, T = 16: clip centres linspace(8, 32, 10) → starts floor(k·24/9).
RETRIEVAL_STARTS_40 = [0, 2, 5, 8, 10, 13, 16, 18, 21, 24]


def frame_and_box(clips):
    """(frame indices (K, T), top-left (K, 2)) read back from coded clips."""
    return clips[:, :, 0, 0, 0] // 6, clips[:, 0, 0, 0, 1:] // 4


@pytest.mark.parametrize(
    "num_frames, mode, starts, boxes",
    [
        (40, "dense", [0, 16], DENSE_BOXES),
        (10, "dense", [0], DENSE_BOXES),
        (40, "retrieval", RETRIEVAL_STARTS_40, [RETRIEVAL_BOX]),
        (10, "retrieval", [0] * 10, [RETRIEVAL_BOX]),
        (40, "10x3", RETRIEVAL_STARTS_40, TEN_BY_THREE_BOXES),
        (10, "10x3", [0] * 10, TEN_BY_THREE_BOXES),
    ],
)
def test_clip_enumeration_positions(num_frames, mode, starts, boxes):
    clips = evaluation_clips(coded_video(num_frames), CLIP, mode)
    assert clips.shape == (len(starts) * len(boxes), 16, 32, 32, 3)
    frames, corners = frame_and_box(clips)
    expected_frames = [[(s + i) % num_frames for i in range(16)] for s in starts for _ in boxes]
    np.testing.assert_array_equal(frames, expected_frames)  # clip-major, crop-minor; short videos loop
    np.testing.assert_array_equal(corners, [box for _ in starts for box in boxes])


def test_shard_pipeline_gives_the_same_clips_and_counts(tmp_path):
    from data.pipelines import video_clips_dataset

    videos = [(coded_video(40), 0, "long"), (coded_video(10), 1, "short")]
    write_split(str(tmp_path), "test", videos)
    files = [str(p) for p in (tmp_path / "test").iterdir()]
    for mode, counts in (("dense", [10, 5]), ("retrieval", [10, 10]), ("10x3", [30, 30])):
        elements = list(video_clips_dataset(files, clip=CLIP, mode=mode).as_numpy_iterator())
        for element, decoded in zip(elements, decoded_videos(files)):
            np.testing.assert_array_equal(element["clips"], evaluation_clips(decoded, CLIP, mode))
        means = per_video_means(
            lambda x: x[:, :, 0, 0, 0].mean(axis=1, keepdims=True),
            video_clips_dataset(files, clip=CLIP, mode=mode),
            batch_size=7,
        )
        np.testing.assert_array_equal(means["num_clips"], counts)
        np.testing.assert_array_equal(means["num_frames"], [40, 10])
        assert list(means["video_ids"]) == ["long", "short"] and list(means["labels"]) == [0, 1]


def test_extract_folder_of_videos(tmp_path, capsys):
    rng = np.random.default_rng(0)
    folder = tmp_path / "videos"
    (folder / "sub").mkdir(parents=True)
    same = class_video(0, 12, rng)
    write_video(str(folder / "a.mp4"), same)
    write_video(str(folder / "sub" / "b.mp4"), same)
    write_video(str(folder / "c.mp4"), class_video(1, 20, rng))
    (folder / "broken.mp4").write_bytes(b"not a video at all")
    out = tmp_path / "out"
    argv = ["extract", "--videos", str(folder), "--random-init", "--backbone", "r2plus1d10", "--frames", "8",
            "--crop", "32", "--sample-size", "40", "--batch-size", "5", "--out", str(out)]
    assert evaluate.main(argv) == 0
    assert "3 videos" in capsys.readouterr().out
    saved = np.load(out / "features.npz")
    assert list(saved["video_ids"]) == ["a", "c", "sub/b"]
    assert saved["features"].shape == (3, 512) and list(saved["num_frames"]) == [12, 20, 12]
    np.testing.assert_allclose(saved["features"][0], saved["features"][2], rtol=1e-5, atol=1e-6)
    assert not np.allclose(saved["features"][0], saved["features"][1])
    assert "broken.mp4" in (out / "extract_skipped.txt").read_text()


def test_extract_from_shards(tmp_path):
    data = make_dataset(str(tmp_path / "data"))
    out = tmp_path / "out"
    argv = ["extract", "--data", data, "--extract-split", "train", "--random-init", "--backbone", "r2plus1d10",
            "--frames", "8", "--crop", "32", "--sample-size", "40", "--feature", "vcop", "--out", str(out)]
    assert evaluate.main(argv) == 0
    saved = np.load(out / "features.npz")
    # vcop: block5 of an 8×32×32 clip is 1×2×2×512, max-pooled (1,2,2) → 1×1×1×512.
    assert saved["features"].shape == (9, 512)
    assert sorted(saved["labels"]) == [0, 0, 0, 1, 1, 1, 2, 2, 2]


def test_extract_rejects_an_empty_folder(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    argv = ["extract", "--videos", str(tmp_path / "empty"), "--random-init", "--backbone", "r2plus1d10",
            "--frames", "8", "--crop", "32", "--out", str(tmp_path / "out")]
    assert evaluate.main(argv) == 2
    assert "holds no video files" in capsys.readouterr().err


def test_vcop_feature_is_the_unpadded_pool5_of_a_16x112_clip():
    """VCOP's C3D retrieval feature is 2×3×3×512 (9216-d): block5 2×7×7, (1, 2, 2) max-pool, no padding."""
    import models
    from hdc.evaluation.features import feature_model

    backbone = models.build_backbone("c3d", input_shape=(16, 112, 112, 3), width_multiplier=0.125)
    assert tuple(backbone.output["block5"].shape[1:4]) == (2, 7, 7)
    model = feature_model(backbone, "vcop")
    clips = np.random.default_rng(0).integers(0, 256, (1, 16, 112, 112, 3), dtype=np.uint8)
    got = model.predict_on_batch(clips)
    block5 = keras.ops.convert_to_numpy(backbone(clips.astype("float32") / 127.5 - 1.0)["block5"])[0]
    want = block5[:, :6, :6].reshape(2, 3, 2, 3, 2, -1).max(axis=(2, 4))  # windows (0,1) (2,3) (4,5); row 6 dropped
    assert got.shape == (1, 2 * 3 * 3 * 64)
    np.testing.assert_allclose(got[0], want.reshape(-1), rtol=1e-4, atol=1e-4)  # float32 conv rounding

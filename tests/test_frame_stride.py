"""Clips at a frame stride (time-equivariant §3.4: "we skip three frames during
transfer learning"): T frames taken every stride-th frame, checked against
hand-computed frame numbers on videos whose frame k shows its own number."""

import json

import numpy as np
import pytest

import evaluate
from data import pipelines as pl
from data.records import shard_files
from evaluation_data import make_dataset, write_split
from hdc.evaluation.config import EvalConfig
from hdc.evaluation.encoders import EncoderSource
from hdc.evaluation.extract import evaluation_clips

CLIP = pl.ClipSpec(frames=4, sample_size=24, crop=16, stride=4)  # a clip spans 3·4 + 1 = 13 frames
LENGTHS = {0: 40, 1: 20, 2: 10}  # label → frames; 10 < 13 loops

# Hand-computed frame numbers per clip (T = 4, stride 4).
# dense: slots of T·stride = 16 frames, starts 16k for k < max(n // 16, 1).
DENSE = {
    0: [[0, 4, 8, 12], [16, 20, 24, 28]],  # 40 // 16 = 2 clips; frames 32..39 fill no slot
    1: [[0, 4, 8, 12]],  # 20 // 16 = 1
    2: [[0, 4, 8, 2]],  # 10 < 16: one clip at 0, frame 12 loops to 2
}
# retrieval: starts floor(k·max(n − 13, 0)/9), k = 0..9.
RETRIEVAL_STARTS = {
    0: [0, 3, 6, 9, 12, 15, 18, 21, 24, 27],  # 27k/9 = 3k; the last clip is 27, 31, 35, 39
    1: [0, 0, 1, 2, 3, 3, 4, 5, 6, 7],  # floor(7k/9)
    2: [0] * 10,  # shorter than the span
}
RETRIEVAL = {
    label: [[(s + 4 * t) % LENGTHS[label] for t in range(4)] for s in starts]
    for label, starts in RETRIEVAL_STARTS.items()
}


def numbered_video(num_frames, size=24):
    """Frame k is flat grey 6·k (k < 43)."""
    values = (6 * np.arange(num_frames)).astype(np.uint8)
    return np.broadcast_to(values[:, None, None, None], (num_frames, size, size, 3)).copy()


def frame_numbers(clips):
    """(..., T) frame numbers of (..., T, H, W, 3) clips of ``numbered_video`` frames."""
    return np.round(clips.astype(float).mean(axis=(-3, -2, -1)) / 6).astype(int)


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("numbered"))
    write_split(root, "train", [(numbered_video(n), label, f"v{label}") for label, n in LENGTHS.items()])
    return shard_files(root, "train")


def test_clip_starts_by_hand():
    assert pl.clip_starts(40, 4, "dense", stride=4) == [0, 16]
    assert pl.clip_starts(127, 16, "dense", stride=4) == [0]  # one 64-frame slot
    assert pl.clip_starts(128, 16, "dense", stride=4) == [0, 64]
    assert pl.clip_starts(40, 16, "dense", stride=4) == [0]  # shorter than the span 61: loops
    assert pl.clip_starts(40, 4, "retrieval", stride=4) == RETRIEVAL_STARTS[0]
    # T = 16 at stride 4 spans 61 frames: starts floor(39k/9) in a 100-frame video
    assert pl.clip_starts(100, 16, "retrieval", stride=4) == [0, 4, 8, 13, 17, 21, 26, 30, 34, 39]
    assert pl.clip_starts(100, 16, "10x3", stride=4) == [0, 4, 8, 13, 17, 21, 26, 30, 34, 39]
    assert pl.clip_starts(61, 16, "retrieval", stride=4) == [0] * 10
    assert pl.clip_starts(40, 16, "dense") == pl.clip_starts(40, 16, "dense", stride=1) == [0, 16]


@pytest.mark.parametrize("mode, expected, crops", [("dense", DENSE, 5), ("retrieval", RETRIEVAL, 1)])
def test_video_clips_dataset_frames(shards, mode, expected, crops):
    videos = list(pl.video_clips_dataset(shards, CLIP, mode).as_numpy_iterator())
    assert [int(v["label"]) for v in videos] == [0, 1, 2]
    for video in videos:
        want = np.repeat(expected[int(video["label"])], crops, axis=0)  # clip-major, crop-minor
        assert video["clips"].shape == (len(want), 4, 16, 16, 3)
        np.testing.assert_array_equal(frame_numbers(video["clips"]), want)


@pytest.mark.parametrize("mode, expected", [("dense", DENSE), ("retrieval", RETRIEVAL)])
def test_extract_clips_of_a_decoded_video(mode, expected):
    crops = 5 if mode == "dense" else 1
    for label, n in LENGTHS.items():
        clips = evaluation_clips(numbered_video(n), CLIP, mode)
        np.testing.assert_array_equal(frame_numbers(clips), np.repeat(expected[label], crops, axis=0))


def test_finetune_clips_take_every_stride_th_frame_from_a_uniform_start(shards):
    starts = {label: [] for label in LENGTHS}
    for clips, labels in pl.finetune_train_dataset(shards, 3, CLIP, seed=3).take(16).as_numpy_iterator():
        for numbers, label in zip(frame_numbers(clips), labels):
            n, start = LENGTHS[label], numbers[0]
            assert list(numbers) == [(start + 4 * t) % n for t in range(4)]
            starts[label].append(start)
    assert set(starts[2]) == {0}  # 10 frames < span 13: starts at 0 and loops (0, 4, 8, 2)
    assert 0 <= min(starts[1]) and max(starts[1]) <= 7  # 20 − 13
    assert 0 <= min(starts[0]) and max(starts[0]) <= 27  # 40 − 13
    assert len(set(starts[0])) > 4  # random starts


def test_bad_strides_raise_naming_the_value(capsys):
    with pytest.raises(ValueError, match=r"ClipSpec.stride must be a positive integer, received 0"):
        pl.ClipSpec(stride=0)
    with pytest.raises(ValueError, match="stride"):
        pl.clip_starts(40, 4, "dense", stride=0)
    with pytest.raises(ValueError, match="stride must be 1, received 4"):
        pl.pretrain_dataset(["x.tfrecord"], 2, CLIP)
    source = EncoderSource(random_init=True, backbone="c3d")
    with pytest.raises(ValueError, match="--frame-stride must be positive, received 0"):
        EvalConfig(out="eval", source=source, frame_stride=0).validate()
    with pytest.raises(SystemExit) as exit_info:
        evaluate.main(["linear", "--random-init", "--backbone", "c3d", "--frame-stride", "0"])
    assert exit_info.value.code == 2
    assert "--frame-stride: expected a positive integer, received 0" in capsys.readouterr().err


def test_linear_command_records_the_stride(tmp_path):
    data = make_dataset(str(tmp_path / "data"), classes=2, train_per_class=1, test_per_class=1)
    out = tmp_path / "out"
    argv = ["linear", "--data", data, "--random-init", "--backbone", "r2plus1d10", "--frames", "8", "--crop", "32",
            "--sample-size", "40", "--width-multiplier", "0.25", "--probe-epochs", "1", "--frame-stride", "4",
            "--out", str(out)]
    assert evaluate.main(argv) == 0
    assert json.loads((out / "linear.json").read_text())["settings"]["frame_stride"] == 4

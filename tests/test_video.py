"""data.video: decoding to RGB uint8, frame counting, resizing, odd inputs."""

import os

import numpy as np
import pytest
from video_corpus import frame_indices, grab_count, indexed_frames

from data.video import VideoDecodeError, read_video, resized_shape, write_video


@pytest.mark.parametrize("suffix", [".mp4", ".avi"])
def test_frame_i_decodes_as_i_and_counts_match(tmp_path, suffix):
    path = str(tmp_path / f"indexed{suffix}")
    write_video(path, indexed_frames(20), fps=12.0)
    frames, fps = read_video(path)
    assert frames.dtype == np.uint8 and frames.shape == (20, 48, 64, 3)
    assert frame_indices(frames) == list(range(20))
    assert grab_count(path) == 20
    assert fps == 12.0


def test_rgb_channel_order(tmp_path):
    frames = np.zeros((3, 32, 32, 3), np.uint8)
    frames[..., 0] = 230  # red
    path = str(tmp_path / "red.avi")
    write_video(path, frames)
    decoded, _ = read_video(path)
    assert decoded[..., 0].mean() > 200 and decoded[..., 1:].mean() < 30


def test_grayscale_video_gives_three_equal_channels(tmp_path):
    path = str(tmp_path / "gray.mp4")
    write_video(path, indexed_frames(8)[..., 0])
    frames, _ = read_video(path)
    assert frames.shape == (8, 48, 64, 3)
    assert np.array_equal(frames[..., 0], frames[..., 1]) and np.array_equal(frames[..., 0], frames[..., 2])
    assert frame_indices(frames) == list(range(8))


def test_odd_size_and_short_side_resize(tmp_path):
    path = str(tmp_path / "odd.avi")
    write_video(path, indexed_frames(4, height=77, width=101))
    assert read_video(path)[0].shape == (4, 77, 101, 3)
    # short side 32: 77 -> 32, 101 -> round(101 * 32 / 77) = 42
    frames, _ = read_video(path, short_side=32)
    assert frames.shape == (4, 32, 42, 3)
    assert frame_indices(frames) == [0, 1, 2, 3]
    assert resized_shape(48, 64, 24) == (24, 32) and resized_shape(64, 48, 128) == (171, 128)


def test_non_ascii_file_name(tmp_path):
    path = str(tmp_path / "ñandú_видео_视频.mp4")
    write_video(path, indexed_frames(6))
    frames, _ = read_video(path)
    assert frame_indices(frames) == list(range(6))


def test_truncated_avi_keeps_the_frames_before_the_damage(tmp_path):
    path = str(tmp_path / "whole.avi")
    write_video(path, indexed_frames(20))
    data = open(path, "rb").read()
    cut = str(tmp_path / "cut.avi")
    with open(cut, "wb") as f:
        f.write(data[: len(data) // 2])
    frames, _ = read_video(cut)
    assert 0 < len(frames) < 20
    assert frame_indices(frames) == list(range(len(frames)))
    assert grab_count(cut) == len(frames)


def test_bad_files_raise_clear_errors(tmp_path):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    text = tmp_path / "text.mp4"
    text.write_text("this is not a video\n" * 20)
    with pytest.raises(VideoDecodeError, match="empty"):
        read_video(str(empty))
    with pytest.raises(VideoDecodeError, match="cannot open"):
        read_video(str(text))
    with pytest.raises(FileNotFoundError, match="absent.mp4"):
        read_video(str(tmp_path / "absent.mp4"))


def test_writer_rejects_bad_input_and_leaves_nothing(tmp_path):
    with pytest.raises(ValueError, match="even"):
        write_video(str(tmp_path / "odd.mp4"), indexed_frames(2, height=33, width=64))
    with pytest.raises(ValueError, match="uint8"):
        write_video(str(tmp_path / "float.mp4"), indexed_frames(2).astype(np.float32))
    with pytest.raises(ValueError, match=".mov"):
        write_video(str(tmp_path / "x.mov"), indexed_frames(2))
    assert os.listdir(tmp_path) == []

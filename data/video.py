"""Reading and writing video files with OpenCV's FFmpeg backend.

Frames come out as RGB uint8 arrays (T, H, W, 3), resized so that the short
side has a given length with the aspect ratio kept (HDC §3.3: "We resize
frames, preserving aspect ratio, so that the shorter side is 128 pixels").
Frames are counted by decoding every one of them: container metadata
(``CAP_PROP_FRAME_COUNT``) is wrong for truncated or re-muxed files.
"""

import contextlib
import math
import os
import shutil
import tempfile

import cv2
import numpy as np

# Writers by file suffix: (backend, FourCC). OpenCV's FFmpeg backend has no
# H.264 encoder in the opencv-python-headless wheels, so .mp4 gets MPEG-4
# Part 2 ("mp4v"); OpenCV's built-in MJPEG writer accepts any frame size.
WRITERS = {".mp4": (cv2.CAP_FFMPEG, "mp4v"), ".avi": (cv2.CAP_OPENCV_MJPEG, "MJPG")}


class VideoDecodeError(ValueError):
    """A file that exists but gives no decodable frame."""


def resized_shape(height, width, short_side):
    """(height, width) scaled so that the shorter side is ``short_side``."""
    scale = short_side / min(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


@contextlib.contextmanager
def _ascii_path(path):
    """Yield a path OpenCV can open: ``path`` itself, or an ASCII-named alias.

    OpenCV passes file names to FFmpeg as narrow strings, which breaks on
    non-ASCII names on some platforms (Windows), so such files are opened
    through a symlink (or, where links are not allowed, a copy) in a
    temporary folder.
    """
    path = os.path.abspath(path)  # also keeps FFmpeg from reading "x:" as a protocol
    if path.isascii():
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="hdc-video-") as tmp:
        alias = os.path.join(tmp, "video" + os.path.splitext(path)[1].encode("ascii", "ignore").decode())
        try:
            os.symlink(path, alias)
        except OSError:
            shutil.copyfile(path, alias)
        yield alias


def _to_rgb(frame):
    if frame.dtype != np.uint8:
        raise VideoDecodeError(f"unsupported frame type {frame.dtype}; expected 8-bit frames")
    if frame.ndim == 2 or frame.shape[2] == 1:
        return cv2.cvtColor(frame, cv2.COLOR_GRAY2RGB)
    if frame.shape[2] == 4:
        return cv2.cvtColor(frame, cv2.COLOR_BGRA2RGB)
    return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)


def read_video(path, short_side=None):
    """Decode every frame of the video at ``path``.

    Args:
      path: video file; any container and codec OpenCV's FFmpeg can read.
      short_side: resize each frame so its shorter side has this many
        pixels, keeping the aspect ratio (area interpolation when shrinking,
        bilinear when enlarging); None keeps the decoded size.

    Returns:
      (frames, fps): uint8 array (T, H, W, 3) in RGB order, with T counted by
      decoding; fps from the container, 0.0 when it does not say. Grayscale
      videos come out with three equal channels. A truncated file gives the
      frames before the damage. A stream that changes size mid-way is resized
      to the size of its first frame.

    Raises:
      FileNotFoundError: ``path`` does not exist.
      VideoDecodeError: the file is empty, cannot be opened as a video, or
        gives no frame.
    """
    if short_side is not None and short_side < 1:
        raise ValueError(f"short_side must be a positive number of pixels or None, received {short_side!r}")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such file")
    if os.path.getsize(path) == 0:
        raise VideoDecodeError(f"{path}: empty file (0 bytes)")
    with _ascii_path(path) as readable:
        capture = cv2.VideoCapture(readable, cv2.CAP_FFMPEG)
        try:
            if not capture.isOpened():
                raise VideoDecodeError(
                    f"{path}: OpenCV/FFmpeg cannot open it as a video (not a video, or a damaged container)"
                )
            fps = capture.get(cv2.CAP_PROP_FPS)
            frames, size = [], None
            while True:
                ok, frame = capture.read()
                if not ok:
                    break
                frame = _to_rgb(frame)
                if size is None:
                    h, w = frame.shape[:2]
                    size = (w, h) if short_side is None else resized_shape(h, w, short_side)[::-1]
                if frame.shape[1::-1] != size:
                    shrink = size[0] < frame.shape[1]
                    frame = cv2.resize(frame, size, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
                frames.append(frame)
        finally:
            capture.release()
    if not frames:
        raise VideoDecodeError(f"{path}: no decodable frame")
    fps = float(fps) if math.isfinite(fps) and fps > 0 else 0.0
    return np.stack(frames), fps


def write_video(path, frames, fps=25.0):
    """Write frames to ``path`` (.mp4: MPEG-4 Part 2; .avi: Motion JPEG).

    Args:
      path: output file; its suffix picks the codec (see ``WRITERS``).
      frames: uint8 array (T, H, W, 3) in RGB order, or (T, H, W) grayscale.
        MPEG-4 needs even H and W; Motion JPEG takes any size.
      fps: frames per second stored in the container.

    The file is written under a temporary name in the same folder and renamed
    when complete, so ``path`` never holds a half-written video.
    """
    frames = np.asarray(frames)
    suffix = os.path.splitext(path)[1].lower()
    if suffix not in WRITERS:
        raise ValueError(f"{path}: cannot write {suffix!r} files; use one of {sorted(WRITERS)}")
    if frames.dtype != np.uint8 or frames.ndim not in (3, 4) or (frames.ndim == 4 and frames.shape[3] != 3):
        raise ValueError(f"frames must be uint8 (T, H, W, 3) or (T, H, W), received {frames.dtype} {frames.shape}")
    if len(frames) == 0:
        raise ValueError(f"{path}: no frames to write")
    height, width = frames.shape[1:3]
    backend, fourcc = WRITERS[suffix]
    if fourcc == "mp4v" and (height % 2 or width % 2):
        raise ValueError(f"{path}: MPEG-4 needs an even frame size, received {width}x{height}; use .avi for odd sizes")
    color = frames.ndim == 4
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".partial" + suffix, dir=folder)
    os.close(fd)
    try:
        # Encode under an ASCII name (see _ascii_path), then move next to the
        # target and rename, so the move across file systems is not seen half-done.
        with tempfile.TemporaryDirectory(prefix="hdc-video-") as scratch:
            encoded = os.path.join(scratch, "video" + suffix)
            codec = cv2.VideoWriter_fourcc(*fourcc)
            writer = cv2.VideoWriter(encoded, backend, codec, float(fps), (width, height), color)
            if not writer.isOpened():
                raise ValueError(f"{path}: OpenCV could not open a {fourcc} writer")
            for frame in frames:
                writer.write(np.ascontiguousarray(frame[..., ::-1]) if color else frame)
            writer.release()
            shutil.move(encoded, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)

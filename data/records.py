"""The TFRecord schema: one ``tf.train.Example`` per video, frames as JPEG.

Prepared datasets look like this on disk (written by ``python -m data.prepare``)::

    OUT/
      manifest.jsonl            one JSON object per input video (ok / skipped)
      classes.txt               class names, one per line, line i = label i
      train/shard-00000-of-00004.tfrecord
      test/shard-00000-of-00001.tfrecord
      unsplit/...               videos with no split (plain folders, unlabeled)

Fields of each record:

| key        | type              | meaning                                   |
| ---------- | ----------------- | ----------------------------------------- |
| frames     | bytes list        | one JPEG per frame, in order              |
| num_frames | int64             | number of frames (decoded, not metadata)  |
| height     | int64             | frame height after resizing               |
| width      | int64             | frame width after resizing                |
| fps        | float             | frames per second of the source           |
| label      | int64             | class index, -1 when unlabeled            |
| label_name | bytes             | class name, empty when unlabeled          |
| video_id   | bytes             | stable id (relative path without suffix)  |
| path       | bytes             | source path                               |
"""

import glob
import os

import numpy as np

SPLITS = ("train", "test", "unsplit")
SHARD_PATTERN = "shard-{index:05d}-of-{count:05d}.tfrecord"


def encode_jpegs(frames, quality=90, name=""):
    """JPEG bytes of each frame of a uint8 (T, H, W, 3) RGB array.

    OpenCV only (no TensorFlow), so decoding workers stay light; ``name``
    only labels errors.
    """
    import cv2

    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or len(frames) == 0:
        raise ValueError(
            f"frames must be a non-empty uint8 array (T, H, W, 3), received {frames.dtype} {frames.shape}"
        )
    jpegs = []
    for frame in frames:
        ok, buf = cv2.imencode(".jpg", frame[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:
            raise ValueError(f"JPEG encoding failed for {name}")
        jpegs.append(buf.tobytes())
    return jpegs


def example_from_jpegs(jpegs, height, width, label=-1, label_name="", video_id="", path="", fps=25.0):
    """Serialise one video given as JPEG frames (``encode_jpegs``) to Example bytes."""
    import tensorflow as tf

    def _bytes(values):
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=values))

    def _int(value):
        return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(value)]))

    feature = {
        "frames": _bytes(list(jpegs)),
        "num_frames": _int(len(jpegs)),
        "height": _int(height),
        "width": _int(width),
        "fps": tf.train.Feature(float_list=tf.train.FloatList(value=[float(fps)])),
        "label": _int(label),
        "label_name": _bytes([label_name.encode()]),
        "video_id": _bytes([video_id.encode()]),
        "path": _bytes([str(path).encode()]),
    }
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def encode_example(frames, label=-1, label_name="", video_id="", path="", fps=25.0, quality=90):
    """Serialise one video (uint8 array (T, H, W, 3), RGB) to Example bytes."""
    frames = np.asarray(frames)
    jpegs = encode_jpegs(frames, quality, path or video_id)
    return example_from_jpegs(jpegs, frames.shape[1], frames.shape[2], label, label_name, video_id, path, fps)


def feature_spec():
    """The parsing spec for ``tf.io.parse_single_example``."""
    import tensorflow as tf

    return {
        "frames": tf.io.VarLenFeature(tf.string),
        "num_frames": tf.io.FixedLenFeature([], tf.int64),
        "height": tf.io.FixedLenFeature([], tf.int64),
        "width": tf.io.FixedLenFeature([], tf.int64),
        "fps": tf.io.FixedLenFeature([], tf.float32),
        "label": tf.io.FixedLenFeature([], tf.int64, default_value=-1),
        "label_name": tf.io.FixedLenFeature([], tf.string, default_value=""),
        "video_id": tf.io.FixedLenFeature([], tf.string, default_value=""),
        "path": tf.io.FixedLenFeature([], tf.string, default_value=""),
    }


def parse_example(serialized):
    """Parse Example bytes into a dict; ``frames`` is a dense (T,) string tensor of JPEGs."""
    import tensorflow as tf

    parsed = tf.io.parse_single_example(serialized, feature_spec())
    parsed["frames"] = tf.sparse.to_dense(parsed["frames"], default_value=b"")
    return parsed


def shard_files(root, split):
    """Sorted shard paths of ``split`` under a prepared dataset ``root``.

    Raises ``ValueError`` naming the folder when there are none.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, received {split!r}")
    files = sorted(glob.glob(os.path.join(root, split, "shard-*-of-*.tfrecord")))
    if not files:
        raise ValueError(
            f"No TFRecord shards for split {split!r} in {os.path.join(root, split)}; "
            f"run `python -m data.prepare --videos DIR --out {root}` first"
        )
    return files


def read_classes(root):
    """Class names of a prepared dataset (``classes.txt``), or [] if absent."""
    path = os.path.join(root, "classes.txt")
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f if line.strip()]

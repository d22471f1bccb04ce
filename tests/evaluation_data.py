"""Tiny prepared datasets and run directories for the evaluation tests, the
shards' frames as the pipeline decodes them, and a brute-force retrieval top-k."""

import json
import os

import numpy as np
import tensorflow as tf

from data.records import SHARD_PATTERN, encode_example, parse_example


def index_video(num_frames, height=40, width=48):
    """Frame i is flat grey with value 8·i (so a decoded clip tells its frame indices)."""
    values = (8 * np.arange(num_frames)).astype(np.uint8)
    return np.broadcast_to(values[:, None, None, None], (num_frames, height, width, 3)).copy()


def class_video(label, num_frames, rng, size=40):
    """A video of class ``label``: a bright square moving along one axis per class."""
    frames = rng.integers(0, 40, (num_frames, size, size, 3), dtype=np.uint8)
    for t in range(num_frames):
        offset = (3 * t) % (size - 12)
        top, left = (offset, 14) if label % 2 else (14, offset)
        frames[t, top : top + 12, left : left + 12, label % 3] = 255
    return frames


def write_split(root, split, videos):
    """``videos``: list of (frames, label, video_id); one shard."""
    folder = os.path.join(root, split)
    os.makedirs(folder, exist_ok=True)
    with tf.io.TFRecordWriter(os.path.join(folder, SHARD_PATTERN.format(index=0, count=1))) as writer:
        for frames, label, video_id in videos:
            writer.write(encode_example(frames, label, f"class{label}", video_id, f"{video_id}.mp4"))


def make_dataset(root, classes=3, train_per_class=3, test_per_class=2, seed=0):
    """A prepared root with train/ and test/ shards and classes.txt; videos of 12–20 frames."""
    rng = np.random.default_rng(seed)
    for split, per_class in (("train", train_per_class), ("test", test_per_class)):
        videos = [
            (class_video(c, int(rng.integers(12, 21)), rng), c, f"{split}/c{c}_v{i}")
            for c in range(classes)
            for i in range(per_class)
        ]
        write_split(root, split, videos)
    with open(os.path.join(root, "classes.txt"), "w") as f:
        f.write("".join(f"class{c}\n" for c in range(classes)))
    return root


def make_run(run_dir, backbone="r2plus1d10", frames=8, crop=32, sample_size=40, seed=1):
    """A train.py-like run dir: config.json and encoder.keras with seeded random weights."""
    import keras

    import models

    os.makedirs(run_dir, exist_ok=True)
    keras.utils.set_random_seed(seed)
    encoder = models.build_backbone(backbone, (frames, crop, crop, 3))
    encoder.save(os.path.join(run_dir, "encoder.keras"))
    config = dict(backbone=backbone, frames=frames, crop=crop, resize=sample_size, seed=seed, data="synthetic")
    with open(os.path.join(run_dir, "config.json"), "w") as f:
        json.dump(config, f)
    return encoder


def decoded_videos(files):
    """The shards' frames as the pipeline sees them (after JPEG), one array per video."""
    for record in tf.data.TFRecordDataset(files):
        jpegs = parse_example(record)["frames"]
        yield np.stack([tf.io.decode_jpeg(j, channels=3).numpy() for j in jpegs])


def brute_force_topk(query, query_labels, gallery, gallery_labels, k):
    """Loop over queries; cosine distance 1 − q·g/(|q||g|); hit if any of the k nearest match."""
    hits = 0
    for q, label in zip(query, query_labels):
        distances = [1 - np.dot(q, g) / (np.linalg.norm(q) * np.linalg.norm(g)) for g in gallery]
        nearest = sorted(range(len(gallery)), key=lambda j: distances[j])[:k]
        hits += any(gallery_labels[j] == label for j in nearest)
    return hits / len(query)

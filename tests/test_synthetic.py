"""data.synthetic: deterministic, classes need shape and motion, built through data.prepare."""

import dataclasses
import json
import os
import time

import cv2
import numpy as np
import tensorflow as tf

from data import synthetic
from data.records import parse_example, read_classes, shard_files


def first_of_each_class(size="small", seed=0):
    specs = synthetic.video_specs(size, seed)
    return {name: spec for split, name, index, spec in specs if split == "train" and index == 0}


def object_masks(spec):
    """Pixels that differ from the background, on a noise-free rendering."""
    frames = synthetic.render(dataclasses.replace(spec, noise=0.0)).astype(int)
    return (np.abs(frames - np.array(spec.background)).max(axis=-1) > 20)


def test_same_seed_same_frames_other_seed_other_frames():
    a, b = synthetic.video_specs("small", 0), synthetic.video_specs("small", 0)
    assert a == b
    spec = a[7][3]
    assert np.array_equal(synthetic.render(spec), synthetic.render(b[7][3]))
    other = synthetic.video_specs("small", 1)[7][3]
    assert other.shape == spec.shape and other.motion == spec.motion and other != spec


def test_classes_need_both_shape_and_motion_and_split_sizes():
    assert len(synthetic.CLASSES) == 16
    shapes = [name.split("_")[0] for name in synthetic.CLASSES]
    motions = [name.split("_")[1] for name in synthetic.CLASSES]
    # every shape moves in several ways, every motion carries several shapes
    assert min(shapes.count(s) for s in set(shapes)) >= 2 and min(motions.count(m) for m in set(motions)) >= 2
    specs = synthetic.video_specs("small", 0)
    size = synthetic.SIZES["small"]
    for split, per_class in (("train", size.train_per_class), ("test", size.test_per_class)):
        names = [name for s, name, _, _ in specs if s == split]
        assert sorted(set(names)) == list(synthetic.CLASSES) and len(names) == 16 * per_class
    for _, name, _, spec in specs:
        assert (spec.shape, spec.motion) == tuple(name.split("_"))
        assert spec.num_frames >= 40 and spec.height % 2 == 0 and spec.width % 2 == 0
        # grey, and the object at least 80 levels brighter than the background
        assert len(set(spec.color)) == 1 and len(set(spec.background)) == 1
        assert spec.color[0] - spec.background[0] >= 80
    # grey levels are drawn per video, not per class ...
    backgrounds = [spec.background for _, name, _, spec in specs if name == "square_zoom"]
    assert len(set(backgrounds)) >= 3
    # ... and no other per-video appearance cue: one noise level, one size for shapes that do not zoom
    assert len({spec.noise for *_, spec in specs}) == 1
    assert len({spec.radius for *_, spec in specs if spec.motion != "zoom"}) == 1


def test_motion_families_move_as_named():
    for name, spec in first_of_each_class().items():
        masks = object_masks(spec)
        areas = masks.sum(axis=(1, 2))
        ys, xs = zip(*(np.argwhere(m).mean(axis=0) for m in masks))
        assert areas.min() >= 100, name  # radius >= 8 px in the rendered video
        still_x, still_y = np.ptp(xs) < 1.5, np.ptp(ys) < 1.5  # pixelation wobble; translations sweep > 10 px
        if spec.motion == "horizontal":
            assert np.ptp(xs) > 10 and np.ptp(ys) < 0.5 and areas.max() / areas.min() < 1.2, name
        elif spec.motion == "vertical":
            assert np.ptp(ys) > 10 and np.ptp(xs) < 0.5 and areas.max() / areas.min() < 1.2, name
        elif spec.motion == "rotation":
            overlap = (masks[0] & masks[2]).sum() / (masks[0] | masks[2]).sum()
            assert still_x and still_y and areas.max() / areas.min() < 1.2 and overlap < 0.95, name
        else:
            assert still_x and still_y and areas.max() / areas.min() > 2, name


def test_ensure_dataset_builds_once_through_prepare(tmp_path, monkeypatch):
    tiny = synthetic.Size(train_per_class=1, test_per_class=1, videos_per_shard=8)
    monkeypatch.setitem(synthetic.SIZES, "tiny", tiny)
    monkeypatch.setenv("HDC_CACHE_DIR", str(tmp_path))
    root = synthetic.ensure_dataset("tiny", seed=3, workers=1)
    assert root == str(tmp_path / f"synthetic-tiny-v{synthetic.VERSION}-seed3")
    assert read_classes(root) == list(synthetic.CLASSES)
    assert [p for p in os.listdir(tmp_path) if p.startswith(".")] == []  # no staging folder left
    with open(os.path.join(root, "manifest.jsonl"), encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    assert len(rows) == 32 and all(r["status"] == "ok" for r in rows)

    specs = {(split, name): spec for split, name, _, spec in synthetic.video_specs("tiny", 3)}
    for split in ("train", "test"):
        examples = [parse_example(raw) for raw in tf.data.TFRecordDataset(shard_files(root, split))]
        assert len(examples) == 16
        for example in examples[:3]:
            name = example["label_name"].numpy().decode()
            assert synthetic.CLASSES[int(example["label"])] == name
            spec = specs[(split, name)]
            frames = np.stack([tf.io.decode_jpeg(j).numpy() for j in example["frames"]])
            assert len(frames) == spec.num_frames and min(frames.shape[1:3]) == synthetic.SHORT_SIDE
            # the stored frames are the rendered ones, resized, after mp4 and JPEG coding
            rendered = synthetic.render(spec)
            resized = np.stack([cv2.resize(f, frames.shape[2:0:-1], interpolation=cv2.INTER_AREA) for f in rendered])
            assert np.abs(resized.astype(int) - frames).mean() < 12

    stamp = os.stat(os.path.join(root, "classes.txt")).st_mtime_ns
    start = time.perf_counter()
    assert synthetic.ensure_dataset("tiny", seed=3, workers=1) == root
    assert time.perf_counter() - start < 1.0
    assert os.stat(os.path.join(root, "classes.txt")).st_mtime_ns == stamp

"""Which prepared shards an evaluation reads: the built-in synthetic dataset,
or a ``python -m data.prepare`` output (one split), or a folder holding one
prepared dataset per official split (``split1/``, ``split2/``, ``split3/``)."""

import os

import numpy as np

from data.pipelines import ClipSpec, count_records, video_clips_dataset
from data.records import parse_example, read_classes, shard_files
from hdc.evaluation import reports


def split_roots(data, split):
    """[(split name, prepared root)] for ``--data`` and ``--split``.

    ``split`` is "1", "2", "3" or "all". A prepared root holds ``train/`` and
    ``test/`` shards; the three official splits live in ``DATA/split{N}``.
    """
    if data == "synthetic":
        from data.synthetic import ensure_dataset

        if split not in ("1", "all"):
            raise ValueError(f"the synthetic dataset has one split; received --split {split}")
        return [("1", ensure_dataset())]
    names = ["1", "2", "3"] if split == "all" else [split]
    nested = [os.path.join(data, f"split{n}") for n in names]
    if all(os.path.isdir(root) for root in nested):
        return list(zip(names, nested))
    if os.path.isdir(os.path.join(data, "train")) and split != "all":
        return [(split, data)]
    raise ValueError(
        f"--data {data} has no prepared split {split}: expected train/ and test/ shards in {data} "
        f"or in {', '.join(nested)} (run `python -m data.prepare ... --split N --out {data}/splitN`)"
    )


def num_classes(root, labels=()):
    """Number of classes: ``classes.txt`` if present, else 1 + the largest label."""
    classes = read_classes(root)
    if classes:
        return len(classes)
    if len(labels) == 0:
        raise ValueError(f"{root} has no classes.txt and no labels to count classes from")
    return int(max(labels)) + 1


def clip_spec(config):
    return ClipSpec(
        frames=config.frames, sample_size=config.sample_size, crop=config.crop, stride=config.frame_stride
    )


def evaluation_videos(config, root, split, mode):
    """(one-element-per-video dataset of test-time clips, number of videos)."""
    files = shard_files(root, split)
    return video_clips_dataset(files, clip=clip_spec(config), mode=mode), count_records(files)


def label_names(root, labels):
    """Class names for ``labels`` (from ``classes.txt``; the index if absent)."""
    classes = read_classes(root)
    return [classes[i] if 0 <= i < len(classes) else str(i) for i in labels]


def run_over_splits(config, evaluate_split, result_name, settings):
    """Run ``evaluate_split(config, root, out_dir) -> results`` on every split of
    ``--data``/``--split``; with several splits each writes to ``out/split{N}``,
    and the numeric results are averaged (HDC §4 reports the mean over the
    three splits) and written to ``out/result_name`` with ``settings(config, data)``."""
    roots = split_roots(config.data, config.split)
    if len(roots) == 1:
        return evaluate_split(config, roots[0][1], config.out)
    per_split = {name: evaluate_split(config, root, os.path.join(config.out, f"split{name}")) for name, root in roots}
    numeric = [k for k, v in next(iter(per_split.values())).items() if isinstance(v, float)]
    mean = {k: float(np.mean([r[k] for r in per_split.values()])) for k in numeric}
    result = dict(mean, splits=per_split)
    reports.write_json(os.path.join(config.out, result_name), dict(result, settings=settings(config, config.data)))
    return result


def common_settings(config, root):
    """The settings every result file records: encoder, data, clip shape and frame stride."""
    return {
        "encoder": config.source.describe(),
        "data": root,
        "clip": [config.frames, config.crop, config.crop],
        "sample_size": config.sample_size,
        "frame_stride": config.frame_stride,
    }


def thumbnails(files, video_ids, height=64, frames=3):
    """{video_id: uint8 strip of ``frames`` evenly spaced frames, side by side}
    for the wanted ``video_ids`` (others are skipped without decoding JPEGs)."""
    import cv2
    import tensorflow as tf

    wanted = set(video_ids)
    only_id = {"video_id": tf.io.FixedLenFeature([], tf.string, default_value="")}
    found = {}
    for record in tf.data.TFRecordDataset(files):
        video_id = tf.io.parse_single_example(record, only_id)["video_id"].numpy().decode()
        if video_id not in wanted or video_id in found:
            continue
        jpegs = parse_example(record)["frames"].numpy()
        picks = np.linspace(0, len(jpegs) - 1, frames + 2)[1:-1].round().astype(int)
        images = [tf.io.decode_jpeg(jpegs[i], channels=3).numpy() for i in picks]
        width = max(1, round(images[0].shape[1] * height / images[0].shape[0]))
        found[video_id] = np.concatenate([cv2.resize(im, (width, height)) for im in images], axis=1)
        if len(found) == len(wanted):
            break
    return found

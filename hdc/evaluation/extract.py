"""``evaluate.py extract``: per-video features from any encoder, for users'
own pipelines. Reads a folder of video files (decoded with ``data.video``)
or the shards of a prepared dataset; writes ``OUT/features.npz``.

Clips and crops follow the same enumeration as the shard pipelines
(``data.pipelines.clip_starts`` / ``crop_boxes``); features are averaged per
video. Files that cannot be decoded are skipped, counted and listed in
``OUT/extract_skipped.txt``.
"""

import os

import cv2
import numpy as np

from data.pipelines import clip_starts, crop_boxes
from hdc.evaluation import datasets, reports
from hdc.evaluation.features import clip_feature_fn, per_video_means
from hdc.evaluation.metrics import require_finite

STORED_SHORT_SIDE = 128  # frames are resized like data.prepare's shards (HDC §3.3)
VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v", ".mpg", ".mpeg")


def evaluation_clips(frames, clip, mode):
    """uint8 (K, T, crop, crop, 3) evaluation clips of one decoded video
    (T', H, W, 3), clip-major and crop-minor like ``video_clips_dataset``;
    short videos loop their frames, boxes smaller than ``crop`` are resized."""
    num_frames, height, width = frames.shape[:3]
    clips = []
    for start in clip_starts(num_frames, clip.frames, mode, clip.stride):
        window = frames[(start + clip.stride * np.arange(clip.frames)) % num_frames]
        for top, left, h, w in crop_boxes(height, width, clip.crop, clip.sample_size, mode):
            patch = window[:, top : top + h, left : left + w]
            if (h, w) != (clip.crop, clip.crop):
                patch = np.stack([cv2.resize(f, (clip.crop, clip.crop), interpolation=cv2.INTER_AREA) for f in patch])
            clips.append(patch)
    return np.stack(clips)


def find_videos(folder):
    """Video files under ``folder`` (recursive, sorted)."""
    paths = []
    for root, _, names in os.walk(folder):
        paths += [os.path.join(root, n) for n in names if n.lower().endswith(VIDEO_SUFFIXES)]
    if not paths:
        raise ValueError(f"--videos {folder} holds no video files ({', '.join(VIDEO_SUFFIXES)})")
    return sorted(paths)


def folder_features(config, fn):
    """Features of every decodable video under ``config.videos``; returns (arrays, skipped)."""
    from tqdm import tqdm

    from data.video import read_video

    clip = datasets.clip_spec(config)
    rows, ids, counts, skipped = [], [], [], []
    for path in tqdm(find_videos(config.videos), desc="videos", unit="video"):
        try:
            frames, _ = read_video(path, short_side=STORED_SHORT_SIDE)
        except (ValueError, OSError) as e:
            skipped.append(f"{path}\t{e}")
            continue
        clips = evaluation_clips(frames, clip, config.clips)
        outputs = [fn(clips[i : i + config.batch_size]) for i in range(0, len(clips), config.batch_size)]
        rows.append(np.concatenate(outputs).mean(axis=0))
        ids.append(os.path.splitext(os.path.relpath(path, config.videos))[0])
        counts.append(len(frames))
    if not rows:
        raise ValueError(f"no video under {config.videos} could be decoded ({len(skipped)} skipped)")
    features = require_finite(np.stack(rows), f"encoder outputs for the videos in {config.videos}", ids)
    arrays = {
        "features": features.astype(np.float32),
        "video_ids": np.array(ids),
        "labels": np.full(len(ids), -1),
        "num_frames": np.array(counts),
    }
    return arrays, skipped


def shard_features(config, fn):
    root = datasets.split_roots(config.data, config.split)[0][1]
    videos, count = datasets.evaluation_videos(config, root, config.extract_split, config.clips)
    means = per_video_means(fn, videos, config.batch_size, count, config.extract_split)
    keys = ("video_ids", "labels", "num_frames")
    return dict({"features": means["outputs"]}, **{k: means[k] for k in keys}), []


def run_extract(config):
    """Write ``OUT/features.npz`` (features, video_ids, labels, num_frames)."""
    fn = clip_feature_fn(config.source, config.clip_shape, config.feature)
    arrays, skipped = (folder_features if config.videos else shard_features)(config, fn)
    path = reports.write_npz(os.path.join(config.out, "features.npz"), **arrays)
    if skipped:
        listing = reports.write_text(os.path.join(config.out, "extract_skipped.txt"), "\n".join(skipped) + "\n")
        print(f"skipped {len(skipped)} videos that could not be decoded; see {listing}")
    return {"num_videos": len(arrays["video_ids"]), "skipped": len(skipped), "path": path}

"""The built-in synthetic motion dataset: runs everything with no download.

Each class is a shape x a motion family (``SHAPES`` x ``MOTIONS``), so
neither one frame (which shows the shape, never the motion) nor the motion
alone (shared by every shape) names the class. The design follows the
lessons of earlier prototypes (below) so that classes survive HDC's
augmentations (§3.3) and offer no shortcut:

- motion families are unchanged by a horizontal flip: back-and-forth along
  x, along y, rotation (either way) and zoom (pulsing size); a flip turns
  "left" into "right", so direction is never a class;
- nothing but shape and motion tells one video from another beyond what
  HDC's augmentations already vary: instance contrast learns whatever cue
  survives them, so a per-video cue that no class shares (a random RGB
  colour pair, a noise level, a shape size) becomes the cheapest way to
  tell instances apart and crowds out shape and motion (measured in
  issue 7: with random colours the objective fell while kNN stayed near
  chance). Hence grey levels, random per video (background 0-100, object
  80-155 brighter, within the range brightness/contrast jitter covers),
  one noise level (std ``NOISE``) with fresh noise on every frame, and one
  shape radius (``RADIUS_STILL``; zoom sweeps ``RADIUS``);
- a still shape's radius is 11 px (zoom: 8-14 px) at the stored short side
  of 64 px, which the demo (48-px crops) and the quality benchmark (64-px
  clips) feed without downscaling, and every motion shows within 8 frames (translation 1.5-3 px/frame,
  rotation 8-15 degrees/frame, zoom cycle 10-20 frames);
- positions, orientations, speeds, directions, sizes (80-112 px wide,
  64-80 px high) and lengths (40-80 frames) are random per video.

Videos are rendered deterministically from (seed, split, class, index),
written as real .mp4 files, and ingested through the same path as any
dataset (``data.prepare`` with the ``folder`` layout, ``train/`` and
``test/``), at short side ``SHORT_SIDE``.
"""

import argparse
import dataclasses
import json
import math
import os
import shutil
import tempfile

import cv2
import numpy as np

from data.prepare import PrepareConfig, prepare
from data.video import write_video

SHAPES = ("square", "triangle", "plus", "tee")
MOTIONS = ("horizontal", "vertical", "rotation", "zoom")
CLASSES = tuple(sorted(f"{shape}_{motion}" for shape in SHAPES for motion in MOTIONS))
SHORT_SIDE = 64  # short side of the prepared frames
FPS = 25.0
RADIUS = (8.0, 14.0)  # shape radius in pixels of the rendered video (zoom sweeps this range)
RADIUS_STILL = 11.0  # radius of the shapes that do not zoom
BACKGROUND = (0, 100)  # grey level of the background
CONTRAST = (80, 155)  # object grey level minus background grey level
NOISE = 6.0  # standard deviation of the per-frame Gaussian noise
VERSION = 2  # bump whenever rendering changes: it names the cache folder

# Polygons of each shape at radius 1, area centroid at the origin (y points down).
_TRIANGLE = [(1.1 * math.cos(a), 1.1 * math.sin(a)) for a in np.radians([-90, 30, 150])]
POLYGONS = {
    "square": [[(-0.8, -0.8), (0.8, -0.8), (0.8, 0.8), (-0.8, 0.8)]],
    "triangle": [_TRIANGLE],
    "plus": [[(-1, -0.3), (1, -0.3), (1, 0.3), (-1, 0.3)], [(-0.3, -1), (0.3, -1), (0.3, 1), (-0.3, 1)]],
    "tee": [
        [(-0.9, -0.65), (0.9, -0.65), (0.9, -0.1), (-0.9, -0.1)],
        [(-0.28, -0.1), (0.28, -0.1), (0.28, 1.15), (-0.28, 1.15)],
    ],
}
EXTENT = 1.3  # no polygon point lies farther than EXTENT * radius from the centre


@dataclasses.dataclass(frozen=True)
class Size:
    train_per_class: int
    test_per_class: int
    videos_per_shard: int


SIZES = {
    "small": Size(train_per_class=5, test_per_class=2, videos_per_shard=16),  # 112 videos
    "large": Size(train_per_class=40, test_per_class=10, videos_per_shard=40),  # 800 videos
}


@dataclasses.dataclass(frozen=True)
class VideoSpec:
    """Everything that determines one rendered video."""

    shape: str
    motion: str
    num_frames: int
    height: int
    width: int
    radius: float  # px; zoom ignores it and sweeps RADIUS
    center: tuple  # (x, y) px at frame 0
    angle: float  # degrees at frame 0
    speed: float  # px/frame (translations), degrees/frame (rotation), frames per cycle (zoom)
    direction: int  # +1 or -1 (translations, rotation)
    phase: float  # radians, zoom cycle at frame 0
    background: tuple  # RGB
    color: tuple  # RGB
    noise: float  # standard deviation of the per-frame Gaussian noise
    noise_seed: int


def sample_spec(shape, motion, rng):
    """Draw the random parameters of one video of class shape_motion."""
    height, width = 2 * int(rng.integers(32, 41)), 2 * int(rng.integers(40, 57))
    margin = EXTENT * (RADIUS[1] if motion == "zoom" else RADIUS_STILL)
    center = (float(rng.uniform(margin, width - margin)), float(rng.uniform(margin, height - margin)))
    speed = {"horizontal": (1.5, 3.0), "vertical": (1.5, 3.0), "rotation": (8.0, 15.0), "zoom": (10.0, 20.0)}[motion]
    background = int(rng.integers(BACKGROUND[0], BACKGROUND[1] + 1))
    color = background + int(rng.integers(CONTRAST[0], CONTRAST[1] + 1))
    return VideoSpec(
        shape=shape,
        motion=motion,
        num_frames=int(rng.integers(40, 81)),
        height=height,
        width=width,
        radius=RADIUS_STILL,
        center=center,
        angle=float(rng.uniform(0, 360)),
        speed=float(rng.uniform(*speed)),
        direction=int(rng.choice([-1, 1])),
        phase=float(rng.uniform(0, 2 * math.pi)),
        background=(background,) * 3,
        color=(color,) * 3,
        noise=NOISE,
        noise_seed=int(rng.integers(2**31)),
    )


def video_specs(size="small", seed=0):
    """[(split, class name, index, VideoSpec)] of a dataset size; deterministic in ``seed``."""
    if size not in SIZES:
        raise ValueError(f"size must be one of {sorted(SIZES)}, received {size!r}")
    counts = {"train": SIZES[size].train_per_class, "test": SIZES[size].test_per_class}
    specs = []
    for split_id, (split, count) in enumerate(counts.items()):
        for class_id, name in enumerate(CLASSES):
            shape, motion = name.split("_")
            for index in range(count):
                rng = np.random.default_rng([seed, split_id, class_id, index])
                specs.append((split, name, index, sample_spec(shape, motion, rng)))
    return specs


def _bounce(position, low, high):
    """Position moving freely from ``low``, reflected into [low, high] (triangle wave)."""
    span = high - low
    u = (position - low) % (2 * span)
    return low + (u if u <= span else 2 * span - u)


def pose(spec, t):
    """(x, y, radius, angle in degrees) of the shape at frame ``t``."""
    x, y = spec.center
    radius, angle = spec.radius, spec.angle
    margin = EXTENT * radius
    step = spec.direction * spec.speed * t
    if spec.motion == "horizontal":
        x = _bounce(x + step, margin, spec.width - margin)
    elif spec.motion == "vertical":
        y = _bounce(y + step, margin, spec.height - margin)
    elif spec.motion == "rotation":
        angle += step
    else:  # zoom: the radius sweeps RADIUS sinusoidally, one cycle every `speed` frames
        phase = 2 * math.pi * t / spec.speed + spec.phase
        radius = (RADIUS[0] + RADIUS[1]) / 2 + (RADIUS[1] - RADIUS[0]) / 2 * math.sin(phase)
    return x, y, radius, angle


def render(spec):
    """The frames of ``spec``: uint8 (T, H, W, 3), RGB."""
    rng = np.random.default_rng(spec.noise_seed)
    frames = np.empty((spec.num_frames, spec.height, spec.width, 3), np.uint8)
    for t in range(spec.num_frames):
        x, y, radius, angle = pose(spec, t)
        c, s = math.cos(math.radians(angle)), math.sin(math.radians(angle))
        rotation = np.array([[c, -s], [s, c]]) * radius
        canvas = np.empty((spec.height, spec.width, 3), np.uint8)
        canvas[:] = spec.background
        for polygon in POLYGONS[spec.shape]:
            points = np.asarray(polygon) @ rotation.T + (x, y)
            # 4 fractional bits: sub-pixel positions, so slow motions move smoothly.
            cv2.fillPoly(canvas, [np.round(points * 16).astype(np.int32)], spec.color, cv2.LINE_AA, shift=4)
        noisy = canvas + rng.normal(0.0, spec.noise, canvas.shape)
        frames[t] = np.clip(np.round(noisy), 0, 255).astype(np.uint8)
    return frames


def default_cache_dir():
    """``$HDC_CACHE_DIR``, or ``~/.cache/hdc``."""
    return os.environ.get("HDC_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "hdc")


def ensure_dataset(size="small", seed=0, cache_dir=None, workers=None, progress=False):
    """Build the synthetic dataset once; return its prepared root.

    The root, ``<cache_dir>/synthetic-<size>-v<VERSION>-seed<seed>/``, holds
    train/ and test/ shards, classes.txt and manifest.jsonl (see
    ``data.records``); the .mp4 files sit beside it in ``<root>-videos/``. A
    call that finds the root returns at once. The root appears by renaming a
    finished staging folder, so concurrent callers never see half a dataset
    (two may both build it; one rename wins and the other copy is dropped).

    Args:
      size: a key of ``SIZES``: "small" (demo) or "large" (quality benchmark).
      seed: picks every random choice of the dataset.
      cache_dir: default ``default_cache_dir()``.
      workers: decoding processes of the prepare step (default: all cores).
      progress: show the prepare progress bar.
    """
    specs = video_specs(size, seed)
    cache_dir = cache_dir or default_cache_dir()
    name = f"synthetic-{size}-v{VERSION}-seed{seed}"
    root = os.path.join(cache_dir, name)
    if os.path.isdir(root):
        return root
    videos = os.path.join(cache_dir, name + "-videos")
    for split, class_name, index, spec in specs:
        folder = os.path.join(videos, split, class_name)
        os.makedirs(folder, exist_ok=True)
        write_video(os.path.join(folder, f"{class_name}_{index:03d}.mp4"), render(spec), FPS)
    staging = tempfile.mkdtemp(prefix=f".{name}.", dir=cache_dir)
    try:
        config = PrepareConfig(
            videos=videos,
            out=staging,
            short_side=SHORT_SIDE,
            videos_per_shard=SIZES[size].videos_per_shard,
            workers=workers or os.cpu_count() or 1,
            progress=progress,
        )
        summary = prepare(config)
        if summary.ok != len(specs) or summary.skipped:
            raise RuntimeError(f"synthetic dataset {name}: {summary}; expected {len(specs)} ok")
        try:
            os.rename(staging, root)
        except OSError:
            if not os.path.isdir(root):  # not a lost race with another builder
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return root


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m data.synthetic", description="Build the synthetic motion dataset.")
    p.add_argument("--size", choices=sorted(SIZES), default="small", help="dataset size (default: small)")
    p.add_argument("--seed", type=int, default=0, help="random seed of the dataset (default: 0)")
    p.add_argument("--cache-dir", help="cache folder (default: $HDC_CACHE_DIR or ~/.cache/hdc)")
    p.add_argument("--workers", type=int, help="decoding processes (default: all cores)")
    args = p.parse_args(argv)
    if args.workers is not None and args.workers < 1:
        p.error(f"--workers must be >= 1, received {args.workers}")
    root = ensure_dataset(args.size, args.seed, args.cache_dir, args.workers, progress=True)
    with open(os.path.join(root, "manifest.jsonl"), encoding="utf-8") as f:
        records = [json.loads(line) for line in f]
    splits = {s: sum(r.get("split") == s for r in records) for s in ("train", "test")}
    frames = sum(r.get("frames", 0) for r in records)
    size = sum(os.path.getsize(os.path.join(d, n)) for d, _, names in os.walk(root) for n in names)
    videos = f"{splits['train']} train + {splits['test']} test videos"
    print(f"{root}: {len(CLASSES)} classes, {videos}, {frames} frames, {size / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

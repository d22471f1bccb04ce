"""Time-equivariant contrast learns what it is told to, through the real pipeline and train.py.

The videos have a trivially visible arrow of time: a per-video random texture that only ever
moves down, one pixel a frame, so a clip played backwards moves up (horizontal flips, in the
augmentation, cannot turn one into the other). ``--te-terms speed,direction,order`` must then
classify playback direction well above chance (0.5) within about a hundred steps: the check that the
labels reach the rows they describe and that the heads learn (issue 24).

(A brightness ramp is not such a case: instance norm removes a channel's mean over the clip, and
the two-valued responses of a clip brightening or darkening normalise to the same distribution.)
"""

import csv
import os
import subprocess
import sys

import cv2
import numpy as np

from data.prepare import PrepareConfig, prepare
from data.video import write_video

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def falling_video(seed, count=48, height=32, width=40):
    rng = np.random.default_rng(seed)
    tall = cv2.GaussianBlur(rng.uniform(0, 255, (height + count, width)), (0, 0), 1.5)
    tint = rng.uniform(0.6, 1.0, 3)
    frames = np.stack([tall[count - k : count - k + height] for k in range(count)])  # row y of frame k: y - k
    return np.clip((frames - frames.mean()) * 3 + 128, 0, 255)[..., None] * tint


def test_direction_is_learned_on_an_arrow_of_time(tmp_path):
    videos = tmp_path / "videos" / "falling"
    videos.mkdir(parents=True)
    for seed in range(12):
        write_video(str(videos / f"v{seed}.avi"), falling_video(seed).astype(np.uint8))
    shards = str(tmp_path / "shards")
    assert prepare(PrepareConfig(videos=str(tmp_path / "videos"), out=shards, short_side=32, progress=False)).ok == 12
    out = tmp_path / "run"
    flags = ["--data", shards, "--out", str(out), "--objectives", "te", "--te-terms", "speed,direction,order",
             "--backbone", "c3d", "--width-multiplier", "0.125", "--frames", "8", "--crop", "32", "--resize", "32",
             "--batch-size", "8", "--epochs", "4", "--steps-per-epoch", "30", "--te-num-speeds", "2", "--optimizer", "adam", "--lr", "1e-3",
             "--schedule", "cosine", "--seed", "1", "--deterministic"]  # fmt: skip
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run([sys.executable, "train.py", *flags], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    with open(out / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    accuracy = [float(row["te/direction_acc"]) for row in rows]
    # Chance is 0.5; the last epoch scores 2B·30 = 480 clips, so 0.6 is 4.4 standard errors above it.
    # Deterministic ops: 0.53, 0.61, 0.71, 0.66 on every run here; 0.51-0.53 without head batch norm.
    assert accuracy[-1] > 0.6 and accuracy[-1] > accuracy[0], accuracy

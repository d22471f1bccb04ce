"""Test videos whose frame i encodes i, and a frame counter independent of data.video."""

import cv2
import numpy as np

STEP = 12  # frame i is flat grey 10 + STEP * i: survives lossy coding and resizing


def indexed_frames(count, height=48, width=64):
    return np.stack([np.full((height, width, 3), 10 + STEP * i, np.uint8) for i in range(count)])


def frame_indices(frames):
    return np.round((np.asarray(frames).reshape(len(frames), -1).mean(axis=1) - 10) / STEP).astype(int).tolist()


def grab_count(path):
    """Frames counted by a second, independent pass (grab only, no retrieve)."""
    capture = cv2.VideoCapture(path, cv2.CAP_FFMPEG)
    count = 0
    while capture.grab():
        count += 1
    capture.release()
    return count

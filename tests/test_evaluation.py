"""Fine-tuning, linear probe and feature extraction (evaluate.py, HDC §4)."""

import os

import cv2
import keras
import numpy as np

import evaluate
import models
from hdc.evaluation.encoders import EncoderSource, load_backbone
from hdc.evaluation.finetune import build_classifier, compile_classifier
from hdc.evaluation.linear_probe import train_linear_probe

SHAPE = (8, 32, 32, 3)


def test_linear_probe_separates_linearly_separable_features():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(4, 16)) * 5.0
    labels = np.repeat(np.arange(4), 30)
    features = (centres[labels] + rng.normal(size=(120, 16))).astype("float32")
    # Independent check that the data is separable: nearest centre classifies all.
    assert (np.argmin(((features[:, None] - centres[None]) ** 2).sum(-1), axis=1) == labels).all()
    probe = train_linear_probe(features, labels, 4, epochs=60, learning_rate=1e-2)
    assert (np.argmax(probe.predict(features, verbose=0), axis=1) == labels).mean() == 1.0


def test_finetune_starts_from_the_encoder_and_trains(tmp_path):
    keras.utils.set_random_seed(0)
    encoder = models.build_backbone("c3d", input_shape=SHAPE)
    path = str(tmp_path / "encoder.keras")
    encoder.save(path)
    backbone = load_backbone(EncoderSource(encoder=path), SHAPE, kernel_regularizer=5e-5)
    for saved, loaded in zip(encoder.get_weights(), backbone.get_weights()):
        np.testing.assert_array_equal(saved, loaded)
    random_init = models.build_backbone("c3d", input_shape=SHAPE)
    assert not np.array_equal(random_init.get_weights()[0], backbone.get_weights()[0])
    model = compile_classifier(build_classifier(backbone, 3), 3)
    clips = np.random.default_rng(1).integers(0, 256, (4,) + SHAPE, dtype=np.uint8)
    before = [w.copy() for w in backbone.get_weights()]
    model.fit(clips, np.array([0, 1, 2, 0]), epochs=1, batch_size=4, verbose=0)
    assert any(not np.array_equal(a, b) for a, b in zip(before, backbone.get_weights()))
    probabilities = model.predict(clips, verbose=0)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_extract_writes_one_feature_row_per_video(tmp_path):
    videos = tmp_path / "videos"
    (videos / "a").mkdir(parents=True)
    rng = np.random.default_rng(2)
    for i, length in enumerate((20, 6, 40)):  # 6 frames: shorter than a clip
        writer = cv2.VideoWriter(str(videos / "a" / f"v{i}.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 25, (48, 40))
        for _ in range(length):
            writer.write(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8))
        writer.release()
    (videos / "broken.mp4").write_bytes(b"not a video")
    out = tmp_path / "out"
    code = evaluate.main(
        ["extract", "--random-init", "--backbone", "c3d", "--frames", "8", "--crop", "32",
         "--sample-size", "32", "--videos", str(videos), "--out", str(out)]
    )  # fmt: skip
    assert code == 0
    saved = np.load(out / "features.npz")
    assert saved["features"].shape == (3, 512) and np.isfinite(saved["features"]).all()
    assert sorted(saved["num_frames"].tolist()) == [6, 20, 40]

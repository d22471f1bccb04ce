"""Linear probe: 100% on linearly separable features; classification top-k
against hand-computed values; ``evaluate.py linear`` end to end."""

import json

import keras
import numpy as np
import pytest

import evaluate
import models
from data.pipelines import ClipSpec
from data.records import shard_files
from evaluation_data import decoded_videos, make_dataset
from hdc.evaluation.extract import evaluation_clips
from hdc.evaluation.linear_probe import train_linear_probe
from hdc.evaluation.metrics import classification_topk


def pooled(backbone, clips):
    """(C,): block 5 of every clip averaged over time, space and the clips, by hand."""
    taps = backbone(clips.astype("float32") / 127.5 - 1.0)
    return keras.ops.convert_to_numpy(taps["block5"]).mean(axis=(0, 1, 2, 3))


def separable(n_per_class, classes, dim, rng):
    """Classes along random directions with a large margin, shifted and scaled
    so that standardisation matters."""
    centres = 10 * rng.normal(size=(classes, dim))
    labels = np.repeat(np.arange(classes), n_per_class)
    features = centres[labels] + rng.normal(size=(len(labels), dim))
    return (features * 50 + 300).astype(np.float32), labels


def test_probe_reaches_100_percent_on_separable_features():
    rng = np.random.default_rng(0)
    train_x, train_y = separable(20, 5, 16, rng)
    test_x, test_y = separable(10, 5, 16, np.random.default_rng(0))  # same centres, other noise draws
    test_x = test_x + rng.normal(scale=20, size=test_x.shape).astype(np.float32)
    probe = train_linear_probe(train_x, train_y, 5, epochs=60, learning_rate=1e-2, batch_size=32)
    assert classification_topk(probe.predict(train_x, verbose=0), train_y)["top1"] == 1.0
    assert classification_topk(probe.predict(test_x, verbose=0), test_y)["top1"] == 1.0


def test_classification_topk_by_hand():
    scores = np.array(
        [
            [0.1, 0.7, 0.2],  # label 1: rank 1
            [0.5, 0.3, 0.2],  # label 2: rank 3
            [0.4, 0.4, 0.2],  # label 0: tied with 1 → rank 2 (ties count against)
        ]
    )
    assert classification_topk(scores, [1, 2, 0], ks=(1, 2, 5)) == {"top1": 1 / 3, "top2": 2 / 3, "top5": 1.0}
    with pytest.raises(ValueError, match="labels must lie"):
        classification_topk(scores, [0, 1, 3])


def test_linear_command_end_to_end(tmp_path, capsys):
    """What ``evaluate.py linear`` reports, recomputed: the seeded random-init backbone run by hand
    on each video's 10 retrieval clips (pooled block 5, averaged per video, numpy), a probe fitted
    on those features gives the test scores it saved, and numpy counts the accuracies it reports."""
    classes, per_class = 3, {"train": 3, "test": 2}
    data = make_dataset(str(tmp_path / "data"), classes, per_class["train"], per_class["test"])
    out = tmp_path / "out"
    argv = ["linear", "--data", data, "--random-init", "--backbone", "r2plus1d10", "--frames", "8",
            "--crop", "32", "--sample-size", "40", "--probe-epochs", "20", "--seed", "5", "--out", str(out)]
    assert evaluate.main(argv) == 0
    assert "linear: top1" in capsys.readouterr().out
    result = json.loads((out / "linear.json").read_text())
    assert result["num_test"] == 6 and result["num_train"] == 9 and result["settings"]["standardized"] is True

    keras.utils.set_random_seed(5)  # the --random-init backbone: seeded, then built
    backbone = models.build_backbone("r2plus1d10", (8, 32, 32, 3))
    spec = ClipSpec(frames=8, sample_size=40, crop=32)
    features, labels = {}, {}
    for split, n in per_class.items():  # make_dataset writes class by class
        videos = decoded_videos(shard_files(data, split))
        features[split] = np.stack([pooled(backbone, evaluation_clips(v, spec, "retrieval")) for v in videos])
        labels[split] = np.repeat(np.arange(classes), n)
    probe = train_linear_probe(features["train"], labels["train"], classes, epochs=20, seed=5)
    saved = np.load(out / "scores.npz")
    np.testing.assert_array_equal(saved["labels"], labels["test"])
    np.testing.assert_allclose(saved["scores"], probe.predict(features["test"], verbose=0), atol=1e-4)
    for split, key in (("test", "top1"), ("train", "train_top1")):
        predicted = probe.predict(features[split], verbose=0).argmax(axis=1)
        assert result[key] == pytest.approx(np.mean(predicted == labels[split])), key

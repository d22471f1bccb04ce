"""Linear probe: 100% on linearly separable features; classification top-k
against hand-computed values; ``evaluate.py linear`` end to end."""

import json

import numpy as np
import pytest

import evaluate
from evaluation_data import make_dataset
from hdc.evaluation.linear_probe import train_linear_probe
from hdc.evaluation.metrics import classification_topk


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
    data = make_dataset(str(tmp_path / "data"))
    out = tmp_path / "out"
    argv = ["linear", "--data", data, "--random-init", "--backbone", "r2plus1d10", "--frames", "8",
            "--crop", "32", "--sample-size", "40", "--probe-epochs", "20", "--out", str(out)]
    assert evaluate.main(argv) == 0
    assert "linear: top1" in capsys.readouterr().out
    result = json.loads((out / "linear.json").read_text())
    assert 0.0 <= result["top1"] <= 1.0 and result["num_test"] == 6 and result["num_train"] == 9
    assert result["settings"]["standardized"] is True

"""Fine-tuning: the encoder's weights are loaded (not a fresh init), the head
is HDC §4's, a training step runs, outputs are written and a re-run resumes."""

import json
import os

import keras
import numpy as np
import pytest

import evaluate
from evaluation_data import make_dataset, make_run
from hdc.evaluation.encoders import EncoderSource, load_backbone
from hdc.evaluation.finetune import build_classifier, compile_classifier

CLIP = (8, 32, 32, 3)


def test_encoder_weights_are_loaded_into_the_classifier(tmp_path):
    saved = make_run(str(tmp_path / "run"), seed=1)
    backbone = load_backbone(EncoderSource(run=str(tmp_path / "run")), CLIP, kernel_regularizer=5e-5)
    fresh = load_backbone(EncoderSource(random_init=True, backbone="r2plus1d10", seed=2), CLIP)
    model = build_classifier(backbone, num_classes=3)
    inner = model.get_layer(backbone.name)
    assert len(inner.weights) == len(saved.weights)
    for loaded, reference, random in zip(inner.get_weights(), saved.get_weights(), fresh.get_weights()):
        np.testing.assert_array_equal(loaded, reference)
    kernels = [(a, b) for a, b in zip(saved.get_weights(), fresh.get_weights()) if a.ndim == 5]
    assert all(not np.allclose(a, b) for a, b in kernels)  # the comparison above could fail
    # HDC §4 head: global pool → dropout 0.5 → one Dense softmax with L2 5e-5; L2 on every conv kernel.
    assert model.get_layer("dropout").rate == 0.5
    head = model.get_layer("classifier")
    assert head.units == 3 and head.activation.__name__ == "softmax"
    assert float(head.kernel_regularizer.l2) == 5e-5
    convs = [layer for layer in inner.layers if isinstance(layer, keras.layers.Conv3D)]
    assert convs and all(float(layer.kernel_regularizer.l2) == 5e-5 for layer in convs)


def test_learning_rate_follows_keras_time_decay():
    model = build_classifier(load_backbone(EncoderSource(random_init=True, backbone="r2plus1d10"), CLIP), 3)
    compile_classifier(model, 3, learning_rate=0.01, decay=1e-4)
    model.optimizer.build(model.trainable_variables)
    for step in (0, 1, 5000):
        model.optimizer.iterations.assign(step)
        assert np.isclose(float(model.optimizer.learning_rate), 0.01 / (1 + 1e-4 * step), rtol=1e-6)
    assert float(model.optimizer.momentum) == 0.9


def test_finetune_command_resumes_trains_tests_and_reruns(tmp_path, capsys):
    data = make_dataset(str(tmp_path / "data"), classes=7, train_per_class=1, test_per_class=1)
    run = str(tmp_path / "run")
    make_run(run, seed=1)
    out = tmp_path / "out"
    # An interrupted run: BackupAndRestore's backup says epoch 1 of 2 is done.
    backup = out / "backup"
    backup.mkdir(parents=True)
    model = build_classifier(load_backbone(EncoderSource(run=run), CLIP), 7)
    compile_classifier(model, 7)
    model.optimizer.build(model.trainable_variables)
    model.save_weights(str(backup / "latest.weights.h5"))
    (backup / "training_metadata.json").write_text(json.dumps({"epoch": 1, "batch": 0}))
    argv = ["finetune", "--run", run, "--data", data, "--epochs", "2", "--steps-per-epoch", "1",
            "--batch-size", "4", "--out", str(out)]
    assert evaluate.main(argv) == 0
    printed = capsys.readouterr().out
    assert "resuming fine-tuning at epoch 2/2" in printed and "finetune: top1" in printed
    history = (out / "history.csv").read_text().strip().splitlines()
    assert [line.split(",")[0] for line in history[1:]] == ["1"]  # epoch 0 was not redone
    assert not backup.exists()
    result = json.loads((out / "finetune.json").read_text())
    assert result["num_test"] == 7 and result["epochs"] == 1
    saved = np.load(out / "scores.npz")  # per-video class scores; 7 classes, so top-5 can miss
    assert list(saved["labels"]) == list(range(7)) and saved["scores"].shape == (7, 7)
    for k in (1, 5):
        hits = [label in np.argsort(-row)[:k] for row, label in zip(saved["scores"], saved["labels"])]
        assert result[f"top{k}"] == pytest.approx(np.mean(hits))
    assert result["settings"]["clip"] == [8, 32, 32]  # taken from the run's config.json
    assert result["settings"]["sample_size"] == 40  # train.py calls it "resize"
    assert os.path.getsize(out / "finetune_curve.png") > 1000
    weights = out / "classifier.weights.h5"
    stamp = os.path.getmtime(weights)
    # Re-run with the same --out: training is finished, so it only tests again.
    assert evaluate.main(argv) == 0
    assert "testing only" in capsys.readouterr().out
    assert os.path.getmtime(weights) == stamp
    assert json.loads((out / "finetune.json").read_text())["top1"] == result["top1"]

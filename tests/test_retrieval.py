"""Retrieval: top-k against a brute-force reference (incl. the k = 50 cap), and
``evaluate.py retrieval`` end to end on a tiny prepared dataset, its numbers
recomputed independently from the saved features."""

import json
import os

import numpy as np
import pytest

import evaluate
from evaluation_data import brute_force_topk, make_dataset
from hdc.evaluation.metrics import RETRIEVAL_KS, topk_hits


@pytest.mark.parametrize("gallery_size", [7, 30, 80])
def test_topk_matches_brute_force(gallery_size):
    rng = np.random.default_rng(gallery_size)
    query, gallery = rng.normal(size=(25, 6)), rng.normal(size=(gallery_size, 6))
    query_labels, gallery_labels = rng.integers(0, 10, 25), rng.integers(0, 10, gallery_size)
    result = topk_hits(query, query_labels, gallery, gallery_labels)
    assert sorted(result) == sorted(f"top{k}" for k in RETRIEVAL_KS)
    for k in RETRIEVAL_KS:
        assert result[f"top{k}"] == pytest.approx(brute_force_topk(query, query_labels, gallery, gallery_labels, k))


def test_k_is_capped_at_the_gallery_size():
    # Gallery of 3: top20 and top50 look at all 3 videos; query 1's label is absent.
    gallery = np.eye(3)
    query = np.array([[1.0, 0.1, 0.0], [0.0, 0.0, 1.0]])
    result = topk_hits(query, [2, 9], gallery, [0, 1, 2])
    assert result == {"top1": 0.0, "top5": 0.5, "top10": 0.5, "top20": 0.5, "top50": 0.5}


def test_cosine_ignores_feature_scale():
    gallery = np.array([[1.0, 0.0], [10.0, 10.0]])
    # Euclidean nearest of (2, 1.5) would be [1, 0]; cosine nearest is [10, 10].
    assert topk_hits([[2.0, 1.9]], [1], gallery, [0, 1], ks=(1,)) == {"top1": 1.0}


def test_mismatched_inputs_are_rejected():
    with pytest.raises(ValueError, match="feature sizes differ"):
        topk_hits(np.ones((2, 3)), [0, 1], np.ones((2, 4)), [0, 1])
    with pytest.raises(ValueError, match="labels must match"):
        topk_hits(np.ones((2, 3)), [0], np.ones((2, 3)), [0, 1])


def test_retrieval_command_end_to_end(tmp_path, capsys):
    data = make_dataset(str(tmp_path / "data"))
    out = tmp_path / "out"
    argv = ["retrieval", "--data", data, "--random-init", "--backbone", "r2plus1d10", "--frames", "8",
            "--crop", "32", "--sample-size", "40", "--batch-size", "8", "--out", str(out), "--num-thumbnails", "2"]
    assert evaluate.main(argv) == 0
    printed = capsys.readouterr().out
    assert "retrieval: top1" in printed and "| result |" in printed
    result = json.loads((out / "retrieval.json").read_text())
    saved = np.load(out / "features.npz")
    assert saved["query_features"].shape == (6, 512) and saved["gallery_features"].shape == (9, 512)
    assert sorted(saved["query_ids"]) == sorted(f"test/c{c}_v{i}" for c in range(3) for i in range(2))
    for k in RETRIEVAL_KS:
        expected = brute_force_topk(
            saved["query_features"], saved["query_labels"], saved["gallery_features"], saved["gallery_labels"], k
        )
        assert result[f"top{k}"] == pytest.approx(expected)
    assert result["top50"] == 1.0  # every class is in the 9-video gallery
    assert result["settings"]["feature"] == "block5"
    assert os.path.getsize(out / "retrieval.png") > 1000


def test_bad_flags_give_clear_errors(tmp_path, capsys):
    assert evaluate.main(["retrieval", "--data", str(tmp_path / "nope"), "--random-init", "--backbone", "c3d"]) == 2
    assert "no such directory" in capsys.readouterr().err
    assert evaluate.main(["retrieval", "--random-init"]) == 2
    assert "--backbone" in capsys.readouterr().err
    assert evaluate.main(["retrieval", "--run", str(tmp_path), "--data", str(tmp_path)]) == 2
    assert "has neither encoder.keras nor export/" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        evaluate.main(["retrieval", "--frames", "0"])

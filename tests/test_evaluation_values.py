"""Evaluation values, each against an independent reference: extracted features
and VCOP's pool5 feature against the backbone run by hand on the same clips
(numpy pooling and averaging), fine-tuning's per-video scores (softmax of each
of the 30 ``10x3`` clips, averaged) against numpy, ``--split all`` against
hand-computed means, a SavedModel encoder against the Keras model, and the
retrieval rules for tied, zero, tiny and NaN features."""

import json
import types

import keras
import numpy as np
import pytest

import evaluate
import models
from data.pipelines import ClipSpec
from data.records import shard_files
from evaluation_data import brute_force_topk, class_video, decoded_videos, write_split
from hdc import export
from hdc.evaluation.encoders import EncoderSource, load_backbone
from hdc.evaluation.extract import evaluation_clips
from hdc.evaluation.finetune import build_classifier, compile_classifier
from hdc.evaluation.metrics import RETRIEVAL_KS, classification_topk, cosine_similarity, nearest_neighbours, topk_hits
from hdc.objectives import HDCObjective

CLIP = (8, 32, 32, 3)
SPEC = ClipSpec(frames=8, sample_size=40, crop=32)
FLAGS = ["--frames", "8", "--crop", "32", "--sample-size", "40"]
TEST_LENGTHS = [9, 12, 17, 20, 27, 10, 16]  # one test video per class 0..6
TOL = dict(rtol=1e-4, atol=1e-5)  # float32 convolutions in other batch layouts


def noise_videos(split, lengths, rng, height=40, width=56):
    """Random videos (video i has label i % 7) for ``write_split``."""
    return [
        (rng.integers(0, 256, (n, height, width, 3), dtype=np.uint8), i % 7, f"{split}/v{i}")
        for i, n in enumerate(lengths)
    ]


@pytest.fixture(scope="module")
def encoder(tmp_path_factory):
    """A C3D at width 1/8 saved as encoder.keras: (path, the in-memory backbone)."""
    keras.utils.set_random_seed(4)
    backbone = models.build_backbone("c3d", CLIP, width_multiplier=0.125)
    path = str(tmp_path_factory.mktemp("encoder") / "encoder.keras")
    backbone.save(path)
    return path, backbone


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """A prepared root of 40×56 noise videos, 7 classes; and its test videos as decoded."""
    root = str(tmp_path_factory.mktemp("data"))
    rng = np.random.default_rng(3)
    write_split(root, "train", noise_videos("train", [12, 14, 16, 18, 20, 13, 15], rng))
    write_split(root, "test", noise_videos("test", TEST_LENGTHS, rng))
    with open(f"{root}/classes.txt", "w") as f:
        f.write("".join(f"class{c}\n" for c in range(7)))
    return types.SimpleNamespace(root=root, test=list(decoded_videos(shard_files(root, "test"))))


def pooled(backbone, clips, tap):
    """(K, C): ``tap`` of every clip, averaged over time and space by hand."""
    taps = backbone(clips.astype("float32") / 127.5 - 1.0)
    return keras.ops.convert_to_numpy(taps[tap]).mean(axis=(1, 2, 3))


def test_extracted_features_are_the_backbone_pooled_and_averaged_by_hand(tmp_path, data, encoder):
    path, backbone = encoder
    out = tmp_path / "out"
    argv = ["extract", "--encoder", path, "--data", data.root, *FLAGS, "--clips", "dense", "--feature", "block4",
            "--batch-size", "7", "--out", str(out)]
    assert evaluate.main(argv) == 0
    saved = np.load(out / "features.npz")
    assert list(saved["video_ids"]) == [f"test/v{i}" for i in range(7)]
    clips = [evaluation_clips(frames, SPEC, "dense") for frames in data.test]
    assert [len(c) for c in clips] == [5 * max(n // 8, 1) for n in TEST_LENGTHS]  # slots of 8 frames × 5 crops
    per_clip = [pooled(backbone, c, "block4") for c in clips]
    np.testing.assert_allclose(saved["features"], [f.mean(axis=0) for f in per_clip], **TOL)
    # The comparison can fail: one clip, or the centre crops alone, are far from the mean.
    video = per_clip[4]  # 15 clips
    assert np.abs(video[0] - video.mean(axis=0)).max() > 100 * TOL["atol"]
    assert np.abs(video[::5].mean(axis=0) - video.mean(axis=0)).max() > 100 * TOL["atol"]


def test_savedmodel_encoder_gives_the_keras_models_features(tmp_path, data, encoder, capsys):
    _, backbone = encoder
    saved_model = str(tmp_path / "export")
    export.export_saved_model(export.feature_extractor(backbone, HDCObjective(sc_blocks=(), tc_blocks=(5,))),
                              saved_model)
    out = tmp_path / "out"
    argv = ["extract", "--encoder", saved_model, "--data", data.root, *FLAGS, "--feature", "block3",
            "--batch-size", "8", "--out", str(out)]
    assert evaluate.main(argv) == 0
    want = [pooled(backbone, evaluation_clips(v, SPEC, "retrieval"), "block3").mean(axis=0) for v in data.test]
    np.testing.assert_allclose(np.load(out / "features.npz")["features"], want, **TOL)
    assert evaluate.main(argv[:-1] + [str(tmp_path / "vcop"), "--feature", "vcop"]) == 2
    assert "no single output for feature 'vcop'" in capsys.readouterr().err


def test_vcop_retrieval_feature_is_a_numpy_max_pool_of_block5(tmp_path, encoder):
    """VCOP's feature: block5 max-pooled (1, 2, 2) without padding. At 8×80×80, C3D's
    block5 is 1×5×5: windows rows/columns (0, 1) and (2, 3), row/column 4 dropped."""
    path, backbone = encoder
    root = str(tmp_path / "data")
    rng = np.random.default_rng(5)
    for split, lengths in (("train", [12, 16, 20]), ("test", [10, 14])):
        write_split(root, split, noise_videos(split, lengths, rng, height=88, width=96))
    out = tmp_path / "out"
    argv = ["retrieval", "--encoder", path, "--data", root, "--feature", "vcop", "--frames", "8", "--crop", "80",
            "--sample-size", "88", "--batch-size", "6", "--num-thumbnails", "1", "--out", str(out)]
    assert evaluate.main(argv) == 0
    wide = models.build_backbone("c3d", (8, 80, 80, 3), width_multiplier=0.125)
    wide.set_weights(backbone.get_weights())

    def vcop(frames):
        clips = evaluation_clips(frames, ClipSpec(frames=8, sample_size=88, crop=80), "retrieval")
        block5 = keras.ops.convert_to_numpy(wide(clips.astype("float32") / 127.5 - 1.0)["block5"])
        assert block5.shape == (10, 1, 5, 5, 64)
        windows = block5[:, :, :4, :4].reshape(10, 1, 2, 2, 2, 2, 64).max(axis=(3, 5))
        return windows.reshape(10, -1).mean(axis=0)  # flattened (t, h, w, c), averaged over the 10 clips

    saved = np.load(out / "features.npz")
    want = {split: np.stack([vcop(v) for v in decoded_videos(shard_files(root, split))]) for split in ("test", "train")}
    assert saved["query_features"].shape == (2, 1 * 2 * 2 * 64)
    np.testing.assert_allclose(saved["query_features"], want["test"], **TOL)
    np.testing.assert_allclose(saved["gallery_features"], want["train"], **TOL)
    result = json.loads((out / "retrieval.json").read_text())
    assert result["top1"] == brute_force_topk(want["test"], [0, 1], want["train"], [0, 1, 2], 1)


def test_finetune_10x3_scores_average_the_softmax_of_30_clips(tmp_path, data, encoder):
    path, _ = encoder
    out = tmp_path / "out"
    argv = ["finetune", "--encoder", path, "--data", data.root, *FLAGS, "--epochs", "1", "--steps-per-epoch", "1",
            "--batch-size", "7", "--test-mode", "10x3", "--out", str(out)]
    assert evaluate.main(argv) == 0
    trunk = load_backbone(EncoderSource(encoder=path), CLIP, kernel_regularizer=5e-5)
    model = compile_classifier(build_classifier(trunk, 7), 7)
    model.optimizer.build(model.trainable_variables)
    model.load_weights(str(out / "classifier.weights.h5"))  # the fine-tuned weights
    kernel, bias = model.get_layer("classifier").get_weights()
    clip_scores = []
    for frames in data.test:
        logits = pooled(trunk, evaluation_clips(frames, SPEC, "10x3"), "block5") @ kernel + bias
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        clip_scores.append(e / e.sum(axis=1, keepdims=True))  # (30, 7): 10 starts × 3 crops
    want = np.stack([p.mean(axis=0) for p in clip_scores])
    saved = np.load(out / "scores.npz")
    assert list(saved["num_clips"]) == [30] * 7 and list(saved["labels"]) == list(range(7))
    np.testing.assert_allclose(saved["scores"], want, rtol=1e-4, atol=1e-6)
    # The comparison can fail: the first 10 clips, or the centre crops alone, average differently.
    for part in ([p[:10] for p in clip_scores], [p[1::3] for p in clip_scores]):
        assert np.abs(np.stack([p.mean(axis=0) for p in part]) - want).max() > 100 * 1e-6
    result = json.loads((out / "finetune.json").read_text())
    for k in (1, 5):  # 7 classes: top-5 can miss
        hits = [label in np.argsort(-row)[:k] for label, row in enumerate(want)]
        assert result[f"top{k}"] == pytest.approx(np.mean(hits))


def test_split_all_reports_the_mean_of_the_three_splits(tmp_path, encoder, capsys):
    """Each split's queries are copies of its gallery videos (labels 0, 1, 2) with
    chosen labels, so top-1 is known by hand: 1/3, 1 and 0; their mean is 4/9."""
    path, _ = encoder
    rng = np.random.default_rng(6)
    query_labels = {"1": [0, 2, 0], "2": [0], "3": [1, 0]}  # query i is a copy of gallery video i
    for split, labels in query_labels.items():
        gallery = [class_video(c, 12, rng) for c in range(3)]
        root = str(tmp_path / "data" / f"split{split}")
        write_split(root, "train", [(v, c, f"train/g{c}") for c, v in enumerate(gallery)])
        write_split(root, "test", [(gallery[i], label, f"test/q{i}") for i, label in enumerate(labels)])
    out = tmp_path / "out"
    argv = ["retrieval", "--encoder", path, "--data", str(tmp_path / "data"), "--split", "all", *FLAGS,
            "--num-thumbnails", "1", "--out", str(out)]
    assert evaluate.main(argv) == 0
    result = json.loads((out / "retrieval.json").read_text())
    top1 = {"1": 1 / 3, "2": 1.0, "3": 0.0}
    for split, labels in query_labels.items():
        assert result["splits"][split]["num_queries"] == len(labels)  # each split read its own root
        assert result["splits"][split]["top1"] == pytest.approx(top1[split])
    assert result["top1"] == pytest.approx(4 / 9)
    assert all(result[f"top{k}"] == 1.0 for k in RETRIEVAL_KS[1:])  # every label is in each 3-video gallery
    table = capsys.readouterr().out
    assert all(f"| {row} |" in table for row in ("1", "2", "3", "mean")) and "| mean | 44.4 |" in table


def test_nan_features_stop_the_command_naming_the_split(tmp_path, data, encoder, capsys):
    _, backbone = encoder
    broken = models.build_backbone("c3d", CLIP, width_multiplier=0.125)
    weights = backbone.get_weights()
    weights[-1] = weights[-1].copy()
    weights[-1][3] = np.nan  # the last norm's beta: channel 3 of block5 is NaN for every clip
    broken.set_weights(weights)
    path = str(tmp_path / "nan.keras")
    broken.save(path)
    argv = ["retrieval", "--encoder", path, "--data", data.root, *FLAGS, "--out", str(tmp_path / "out")]
    assert evaluate.main(argv) == 2
    err = capsys.readouterr().err
    assert "encoder outputs for the test videos: NaN or inf in 7 of 7 videos (first: test/v0, test/v1" in err
    assert not (tmp_path / "out" / "retrieval.json").exists()


@pytest.mark.parametrize("size, dim", [(9, 513), (17, 65), (33, 129), (33, 513)])
def test_identical_gallery_videos_tie_and_keep_gallery_order(size, dim):
    """OpenBLAS rounds one dot product differently at different gallery positions
    (these sizes, 3 queries, gave unequal copies before); copies must still tie."""
    rng = np.random.default_rng(size + dim)
    gallery = rng.normal(size=(size, dim))
    copies = [0, size // 2, size - 1]
    gallery[copies] = rng.normal(size=dim)
    query = gallery[:1] + 0.3 * rng.normal(size=(3, dim))
    sims = cosine_similarity(query, gallery)
    assert (sims[:, copies] == sims[:, :1]).all()
    for row in nearest_neighbours(query, gallery, size):
        assert [j for j in row if j in copies] == copies


def test_tied_features_rank_the_lower_gallery_index_first():
    # Cosine to the query [1, 0]: 0, 1, 1, 0, 1 (three copies of one direction at different scales).
    gallery = np.array([[0.0, 1.0], [2.0, 0.0], [1.0, 0.0], [0.0, -1.0], [3.0, 0.0]])
    assert nearest_neighbours([[1.0, 0.0]], gallery, 5).tolist() == [[1, 2, 4, 0, 3]]
    labels = [7, 5, 3, 9, 3]
    assert topk_hits([[1.0, 0.0]], [3], gallery, labels, ks=(1, 2, 3)) == {"top1": 0.0, "top2": 1.0, "top3": 1.0}


def test_zero_features_have_cosine_zero_to_everything():
    query = np.array([[1.0, 0.0], [0.0, 0.0]])
    gallery = np.array([[-1.0, 0.0], [0.0, 0.0], [2.0, 1.0], [0.0, 3.0]])
    sims = cosine_similarity(query, gallery)
    np.testing.assert_array_equal(sims[1], 0.0)
    np.testing.assert_allclose(sims[0], [-1.0, 0.0, 2 / np.sqrt(5), 0.0])
    # The zero gallery video ranks below the positive and above the negative similarity,
    # tied with the orthogonal one (gallery order); a zero query sees the gallery in order.
    assert nearest_neighbours(query, gallery, 4).tolist() == [[2, 1, 3, 0], [0, 1, 2, 3]]


def test_cosine_holds_for_tiny_feature_norms():
    # Gallery video 0 points almost along the query but its norm is 1e-14.
    gallery = np.array([[1e-14, 1e-15], [1.0, 1.0]])
    sims = cosine_similarity([[1.0, 0.1]], gallery)
    np.testing.assert_allclose(sims, cosine_similarity([[1.0, 0.1]], [[1.0, 0.1], [1.0, 1.0]]), rtol=1e-12)
    assert nearest_neighbours([[1e-20, 1e-21]], gallery, 2).tolist() == [[0, 1]]


def test_nan_or_inf_features_and_scores_are_rejected():
    gallery = np.ones((5, 3))
    gallery[1, 0], gallery[3, 2] = np.nan, np.inf
    with pytest.raises(ValueError, match=r"gallery features: NaN or inf in 2 of 5 videos \(first: 1, 3\)"):
        topk_hits(np.ones((2, 3)), [0, 1], gallery, range(5))
    with pytest.raises(ValueError, match=r"query features: NaN or inf in 1 of 2 videos"):
        topk_hits([[1.0, 2.0, np.nan], [1.0, 1.0, 1.0]], [0, 1], np.ones((5, 3)), range(5))
    with pytest.raises(ValueError, match=r"class scores: NaN or inf in 1 of 2 videos"):
        classification_topk([[np.nan, 0.5], [0.2, 0.8]], [0, 1])

"""benchmarks/step.py, step_breakdown.py and quality.py run end to end at toy
sizes and report what issue 7 and docs/performance.md promise, against values computed here:
C3D's FLOPs and parameters by hand, rates from the timed seconds, kNN retrieval of
the random-init encoder run by hand."""

import json
import math

import keras
import numpy as np
import tensorflow as tf

import models
from benchmarks import quality, step, step_breakdown
from data import synthetic
from data.pipelines import ClipSpec
from data.records import parse_example, shard_files
from evaluation_data import brute_force_topk
from hdc.evaluation.extract import evaluation_clips

# C3D (models/c3d.py, HDC §3.3): (the pool before it as (t, s), input channels, output channels) per 3x3x3 conv.
C3D_CONVS = [((1, 1), 3, 64), ((1, 2), 64, 128), ((2, 2), 128, 256), ((1, 1), 256, 256), ((2, 2), 256, 512),
             ((1, 1), 512, 512), ((2, 2), 512, 512), ((1, 1), 512, 512)]  # fmt: skip


def c3d_by_hand(frames, side):
    """(forward FLOPs of one clip, 2 per multiply-add; parameters: kernels, biases, instance-norm γ and β)."""
    flops, params = 0, 0
    for (pool_t, pool_s), cin, cout in C3D_CONVS:
        frames, side = math.ceil(frames / pool_t), math.ceil(side / pool_s)  # 'same' pooling
        flops += 2 * 27 * cin * cout * frames * side * side
        params += 27 * cin * cout + 3 * cout
    return flops, params


def test_step_json_has_both_frameworks_per_backbone(tmp_path):
    out = tmp_path / "step.json"
    argv = ["--backbones", "c3d", "--frames", "8", "--crop", "32", "--batch-size", "2"]
    assert step.main(argv + ["--repeats", "3", "--no-memory", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["device"]
    c3d = report["backbones"]["c3d"]
    flops, params = c3d_by_hand(8, 32)
    assert c3d["params"] == params and math.isclose(c3d["forward_gflop_per_clip"], flops / 1e9, rel_tol=1e-12)
    assert math.isclose(c3d["gflop_per_video"], 3 * 3 * flops / 1e9, rel_tol=1e-12)  # 3 views x (fwd + bwd)
    rate = {f: 2 / np.median(c3d[f"{f}_step_seconds"]) for f in ("keras", "torch")}  # 2 videos per step
    assert len(c3d["keras_step_seconds"]) == len(c3d["torch_step_seconds"]) == 3
    for framework, value in rate.items():
        assert math.isclose(c3d[f"{framework}_videos_per_s"], value, rel_tol=1e-12), framework
    assert math.isclose(c3d["ratio"], rate["keras"] / rate["torch"], rel_tol=1e-12)


def test_step_compares_objectives_against_the_first(tmp_path):
    out = tmp_path / "step.json"
    argv = ["--backbones", "c3d", "--frames", "8", "--crop", "32", "--batch-size", "2", "--repeats", "3"]
    assert step.main(argv + ["--objectives", "hdc-plain,moco", "--json", str(out)]) == 0
    c3d = json.loads(out.read_text())["backbones"]["c3d"]
    rate = {name: 2 / np.median(c3d["step_seconds"][name]) for name in ("hdc-plain", "moco")}
    for name, value in rate.items():
        assert math.isclose(c3d[f"{name}_videos_per_s"], value, rel_tol=1e-12), name
    assert math.isclose(c3d["moco_vs_hdc-plain"], rate["moco"] / rate["hdc-plain"], rel_tol=1e-12)


def test_step_breakdown_times_every_conv_of_the_backbone(capsys):
    argv = ["--backbone", "c3d", "--frames", "8", "--crop", "32", "--repeats", "1", "--threads", "1"]
    assert step_breakdown.main(argv) == 0
    out = capsys.readouterr().out
    assert len([line for line in out.splitlines() if line.startswith("c3d_conv")]) == 8  # C3D's 8 convolutions
    assert "L2 costs" in out and "all convolutions: TF" in out


def test_every_quality_variant_is_a_valid_config():
    from hdc import families

    settings = quality.QualitySettings()
    for name, (description, fields) in quality.VARIANTS.items():
        if fields is None:
            continue
        config = quality.train_config(settings, name, "/tmp/unused").validate()
        assert [p.name for p in families.build_objective(config).parts] == list(config.objectives), name
        assert description


def test_quality_json_has_the_chosen_variants(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HDC_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setitem(synthetic.SIZES, "small", synthetic.Size(train_per_class=1, test_per_class=1, videos_per_shard=16))
    out = tmp_path / "quality.json"
    argv = ["--dataset", "small", "--frames", "8", "--crop", "32", "--resize", "32", "--batch-size", "4"]
    argv += ["--steps", "2", "--probe-epochs", "2", "--out", str(tmp_path / "runs"), "--json", str(out), "--seeds", "0"]
    chosen = ["hdc", "moco", "random_init"]  # a stateful family and no pretraining; the others: the test above
    assert quality.main(argv + ["--variants", ",".join(chosen)]) == 0
    variants = json.loads(out.read_text())["variants"]
    assert list(variants) == chosen
    for name, result in variants.items():
        for key in ("top1", "top5", "linear_top1"):
            assert 0.0 <= result[key]["mean"] <= 1.0, (name, key)
        assert result["top1"]["mean"] <= result["top5"]["mean"], name
        assert set(result["blocks"]) == {"block3", "block4", "block5"}
        assert ("pretrain" in result["seeds"]["seed0"]) == (name != "random_init")
    # random init's kNN by hand: the seeded C3D at width 0.25 on each video's middle retrieval clip (the
    # 5th of 10: --clips-per-video 1), each block averaged over time and space, brute-force cosine top-k.
    keras.utils.set_random_seed(0)
    backbone = models.build_backbone("c3d", (8, 32, 32, 3), width_multiplier=0.25)
    root, spec = synthetic.ensure_dataset("small", seed=0), ClipSpec(frames=8, sample_size=32, crop=32)
    features, labels = {}, {}
    for split in ("train", "test"):
        records = [parse_example(r) for r in tf.data.TFRecordDataset(shard_files(root, split))]
        videos = [np.stack([tf.io.decode_jpeg(j, channels=3).numpy() for j in r["frames"]]) for r in records]
        clips = np.stack([evaluation_clips(v, spec, "retrieval")[4] for v in videos]).astype("float32")
        taps = backbone(clips / 127.5 - 1.0)
        features[split] = {b: keras.ops.convert_to_numpy(taps[b]).mean(axis=(1, 2, 3)) for b in taps}
        labels[split] = [int(r["label"]) for r in records]
    for block, got in variants["random_init"]["blocks"].items():
        for k in (1, 5):
            want = brute_force_topk(features["test"][block], labels["test"], features["train"][block],
                                    labels["train"], k)  # fmt: skip
            assert got[f"top{k}"]["per_seed"] == [want], (block, k)
    table = capsys.readouterr().out
    for name in chosen:
        assert f"| {name} | {quality.VARIANTS[name][0]} |" in table

"""benchmarks/step.py, step_breakdown.py and quality.py run end to end at toy
sizes and report what issue 7 and the README promise."""

import json

from benchmarks import quality, step, step_breakdown
from data import synthetic


def test_step_json_has_both_frameworks_per_backbone(tmp_path):
    out = tmp_path / "step.json"
    argv = ["--backbones", "c3d", "--frames", "8", "--crop", "32", "--batch-size", "2"]
    assert step.main(argv + ["--repeats", "1", "--no-memory", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["device"]
    c3d = report["backbones"]["c3d"]
    for key in ("keras_videos_per_s", "torch_videos_per_s", "gflop_per_video"):
        assert c3d[key] > 0, key
    assert abs(c3d["ratio"] - c3d["keras_videos_per_s"] / c3d["torch_videos_per_s"]) < 1e-9


def test_step_compares_objectives_against_the_first(tmp_path):
    out = tmp_path / "step.json"
    argv = ["--backbones", "c3d", "--frames", "8", "--crop", "32", "--batch-size", "2", "--repeats", "1"]
    assert step.main(argv + ["--objectives", "hdc-plain,moco", "--json", str(out)]) == 0
    c3d = json.loads(out.read_text())["backbones"]["c3d"]
    assert c3d["hdc-plain_videos_per_s"] > 0 and c3d["moco_videos_per_s"] > 0
    assert abs(c3d["moco_vs_hdc-plain"] - c3d["moco_videos_per_s"] / c3d["hdc-plain_videos_per_s"]) < 1e-9


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
    table = capsys.readouterr().out
    for name in chosen:
        assert f"| {name} | {quality.VARIANTS[name][0]} |" in table

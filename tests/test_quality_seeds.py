"""benchmarks/quality.py over several seeds: aggregation, table cells, bar chart,
per-seed run directories and the --seeds flag, on hand-made results (no training)."""

import dataclasses
import json

import numpy as np
import pytest

from benchmarks import quality

# per-seed values of (top1, top5, linear_top1) for blocks 3, 4, 5
VALUES = {
    "seed0": [(0.40, 0.80, 0.50), (0.30, 0.70, 0.40), (0.20, 0.60, 0.25)],
    "seed1": [(0.45, 0.85, 0.55), (0.35, 0.75, 0.30), (0.25, 0.50, 0.30)],
    "seed2": [(0.50, 0.90, 0.45), (0.20, 0.65, 0.35), (0.30, 0.55, 0.20)],
}


def run(values):
    blocks = {b: dict(zip(("top1", "top5", "linear_top1"), v)) for b, v in zip(("block3", "block4", "block5"), values)}
    return {"blocks": blocks, "eval_seconds": 1.0}


def test_aggregate_matches_numpy_mean_and_sample_std():
    runs = {seed: run(values) for seed, values in VALUES.items()}
    result = quality.aggregate(runs)
    table = np.array(list(VALUES.values()))  # (seed, block, metric)
    for b, block in enumerate(("block3", "block4", "block5")):
        for m, metric in enumerate(("top1", "top5", "linear_top1")):
            stats = result["blocks"][block][metric]
            assert stats["per_seed"] == list(table[:, b, m])
            np.testing.assert_allclose(stats["mean"], table[:, b, m].mean())
            np.testing.assert_allclose(stats["std"], table[:, b, m].std(ddof=1))
    assert result["top1"] == result["blocks"]["block5"]["top1"]  # the headline is block 5
    assert result["seeds"] == runs  # every run's details stay available


def test_aggregate_skips_failed_runs_and_has_no_std_for_one_seed():
    failed = {"pretrain": {"error": "loss is nan"}}
    result = quality.aggregate({"seed0": run(VALUES["seed0"]), "seed1": failed, "seed2": run(VALUES["seed2"])})
    stats = result["blocks"]["block4"]["top5"]
    assert stats["per_seed"] == [0.70, None, 0.65]
    np.testing.assert_allclose([stats["mean"], stats["std"]], [0.675, np.std([0.70, 0.65], ddof=1)])
    one = quality.aggregate({"seed3": run(VALUES["seed1"])})["blocks"]["block5"]["linear_top1"]
    assert one == {"mean": 0.30, "std": None, "per_seed": [0.30]}
    none = quality.aggregate({"seed0": failed})["top1"]
    assert none == {"mean": None, "std": None, "per_seed": [None]}


def test_markdown_cells_are_mean_plus_minus_std_in_percent():
    three = quality.aggregate({seed: run(values) for seed, values in VALUES.items()})
    one = quality.aggregate({"seed0": run(VALUES["seed0"])})
    failed = quality.aggregate({"seed0": {"pretrain": {"error": "nan"}}})
    lines = quality.markdown_table({"hdc": three, "random_init": one, "te": failed}).splitlines()
    # block 5 kNN top-1: 0.20, 0.25, 0.30 -> 25.0 ± 5.0; top-5: 0.60, 0.50, 0.55 -> 55.0 ± 5.0;
    # linear: 0.25, 0.30, 0.20 -> 25.0 ± 5.0
    assert f"| hdc | {quality.VARIANTS['hdc'][0]} | 25.0 ± 5.0 | 55.0 ± 5.0 | 25.0 ± 5.0 |" in lines
    assert f"| random_init | {quality.VARIANTS['random_init'][0]} | 20.0 ± - | 60.0 ± - | 25.0 ± - |" in lines
    assert f"| te | {quality.VARIANTS['te'][0]} | - | - | - |" in lines
    # block 3 top-1 0.40/0.45/0.50 -> 45.0 ± 5.0; top-5 80/85/90; linear 50/55/45; block 4 top-1 30/35/20:
    # mean 28.33, std 7.64; top-5 70/75/65 -> 70.0 ± 5.0; linear 40/30/35 -> 35.0 ± 5.0
    row = "| hdc | 45.0 ± 5.0 / 85.0 ± 5.0 / 50.0 ± 5.0 | 28.3 ± 7.6 / 70.0 ± 5.0 / 35.0 ± 5.0 "
    assert row + "| 25.0 ± 5.0 / 55.0 ± 5.0 / 25.0 ± 5.0 |" in lines
    assert "| te | - / - / - | - / - / - | - / - / - |" in lines


def test_plot_writes_a_png_of_the_figure_size(tmp_path):
    import matplotlib.image

    variants = {
        "hdc": quality.aggregate({seed: run(values) for seed, values in VALUES.items()}),
        "random_init": quality.aggregate({"seed0": run(VALUES["seed0"])}),  # no std: no error bar
        "te": quality.aggregate({"seed0": {"pretrain": {"error": "nan"}}}),  # no value: no bar
    }
    path = tmp_path / "plots" / "quality.png"
    assert quality.plot_quality(str(path), variants, [0, 1, 2]) == str(path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert matplotlib.image.imread(path).shape[:2] == (400, 600)  # 4 x 6 inches at 100 dpi
    assert not list(path.parent.glob("*.tmp"))


def test_each_seed_has_its_own_run_directory_and_cache(tmp_path):
    base = quality.QualitySettings()
    config = quality.train_config(dataclasses.replace(base, seed=2), "hdc", str(tmp_path))
    assert (config.out, config.seed) == (str(tmp_path / "hdc" / "seed2"), 2)
    for seed in (0, 1):
        settings = dataclasses.replace(base, seed=seed)
        cache = tmp_path / "random_init" / f"seed{seed}" / "quality.json"
        cache.parent.mkdir(parents=True)
        cache.write_text(json.dumps({"settings": dataclasses.asdict(settings), "result": {"top1": seed / 10}}))
    settings = dataclasses.replace(base, seed=1)
    assert quality.run_variant(settings, "random_init", str(tmp_path), root=None) == {"top1": 0.1}


def test_seeds_flag_parses_and_rejects_bad_lists(capsys):
    parser = quality.build_parser()
    assert parser.parse_args([]).seeds == [0, 1, 2]
    assert parser.parse_args(["--seeds", "4,0"]).seeds == [4, 0]
    for bad, problem in (("", "comma-separated integers"), ("a", "comma-separated integers"),
                         ("1,1", "distinct seeds"), ("-1", "seeds >= 0")):
        with pytest.raises(SystemExit) as exit_info:
            quality.main(["--seeds", bad])
        assert exit_info.value.code == 2
        err = capsys.readouterr().err
        assert "argument --seeds" in err and problem in err and repr(bad) in err, err

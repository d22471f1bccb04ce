"""Pretraining: a user's compile + fit, train.py's outputs (metrics.csv's columns and how its terms
add up), exact resume of HDC, videoSimCLR and multi-level together after SIGKILL and SIGTERM at a
chosen step, NaN handling, the SavedModel export, and flag errors."""

import csv
import functools
import json
import os
import signal
import subprocess
import sys

import h5py
import keras
import numpy as np
import pytest
import tensorflow as tf

import cli
import models
from hdc import export, optim
from hdc.model import HDCModel
from hdc.objectives import HDCObjective, MLFOObjective, SimCLRObjective
from tests.evaluation_data import make_dataset

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHAPE = (8, 32, 32, 3)
TINY = [
    "--backbone", "r2plus1d10", "--frames", "8", "--crop", "32", "--resize", "40",
    "--batch-size", "4", "--epochs", "2", "--steps-per-epoch", "3", "--checkpoint-every", "2",
]  # fmt: skip


def tiny_model(input_views=None, **objective_kwargs):
    backbone = models.build_backbone("r2plus1d10", input_shape=SHAPE, kernel_regularizer=5e-5)
    return HDCModel(backbone, HDCObjective(**objective_kwargs), input_views=input_views)


def test_user_compile_and_fit_reduces_loss_on_a_repeated_batch():
    keras.utils.set_random_seed(1)
    views = np.random.default_rng(1).integers(0, 256, (4, 3) + SHAPE, dtype=np.uint8)
    model = tiny_model()
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    history = model.fit(tf.data.Dataset.from_tensors(views).repeat(), epochs=4, steps_per_epoch=2, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < losses[0] - 0.1, losses
    assert {"sc_block3", "tc_block5", "tc_block5_acc", "l2", "objective"} <= set(history.history)


def test_ablation_views_are_chosen_from_the_three_view_input():
    """An SC-only objective needs u_o, u_s: u_t is never run, so changing it changes nothing."""
    keras.utils.set_random_seed(2)
    views = np.random.default_rng(2).integers(0, 256, (3, 3) + SHAPE, dtype=np.uint8)
    model = tiny_model(input_views=("o", "s", "t"), tc_blocks=())
    other = views.copy()
    other[:, 2] = 255 - other[:, 2]
    a, b = model(views), model(other)
    assert set(a) == {"loss", "sc_block3", "sc_block4", "sc_block5", "sc_block3_acc", "sc_block4_acc", "sc_block5_acc"}
    assert float(a["loss"]) == float(b["loss"])


def test_export_serves_in_a_process_without_the_project(tmp_path):
    keras.utils.set_random_seed(3)
    model = tiny_model()
    extractor = export.feature_extractor(model.backbone, model.objective)
    export.export_saved_model(extractor, str(tmp_path / "export"))
    clips = np.random.default_rng(3).integers(0, 256, (2,) + SHAPE, dtype=np.uint8)
    np.save(tmp_path / "clips.npy", clips)
    code = (
        "import sys, numpy as np, tensorflow as tf\n"
        "f = tf.saved_model.load('export').signatures['serving_default']\n"
        "out = f(clips=tf.constant(np.load('clips.npy')))\n"
        "np.savez('served.npz', **{k: v.numpy() for k, v in out.items()})\n"
        "assert not any(m.split('.')[0] in ('models', 'hdc', 'data') for m in sys.modules)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    served = np.load(tmp_path / "served.npz")
    assert sorted(served.files) == ["block3", "block4", "block5", "embedding"]
    # Independent of the extractor: the backbone's taps pooled by hand.
    taps = model.backbone(clips.astype("float32") / 127.5 - 1.0)
    for tap in ("block3", "block4", "block5"):
        expected = keras.ops.convert_to_numpy(taps[tap]).mean(axis=(1, 2, 3))
        np.testing.assert_allclose(served[tap], expected, rtol=1e-4, atol=1e-4)  # float32 conv rounding
    np.testing.assert_allclose(np.linalg.norm(served["embedding"], axis=1), 1.0, rtol=1e-5)


def run_train(args, script="train.py", **kwargs):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.Popen(
        [sys.executable, script] + args, cwd=ROOT, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, **kwargs,
    )  # fmt: skip


def finish(proc, timeout=400):
    output, _ = proc.communicate(timeout=timeout)
    return proc.returncode, output


def checkpoint_arrays(out):
    arrays = {}

    def collect(name, item):
        if isinstance(item, h5py.Dataset):
            arrays[name] = item[()]

    with h5py.File(os.path.join(out, "checkpoints", "latest.weights.h5"), "r") as f:
        f.visititems(collect)
    return arrays


def checkpoint_step(out):
    return int(checkpoint_arrays(out)["optimizer/vars/0"])  # the optimizer's first variable: its iteration count


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    return make_dataset(str(tmp_path_factory.mktemp("data")), classes=4, train_per_class=2, test_per_class=1)


# 2 epochs of 3 steps, checkpoints at steps 2, 3 (epoch end), 4 and 6; the signal comes at
# the end of step 5, inside epoch 2 and after the step-4 checkpoint. TINY on C3D at width
# 1/4 and 24 px (block 5 has 2x2 positions: at 16 px its single one is zero after instance
# norm and the block-5 terms of SimCLR and multi-level are constant) to fit the time (later
# flags win); --deterministic for bitwise equality. HDC, videoSimCLR and multi-level train
# together in one run: the multi-level score queue (8 rows, batch 4) wraps, and its stage
# switches at step 3, so epoch 1 is all stage 0 and epoch 2 all stage 1.
RESUME = TINY + ["--backbone", "c3d", "--width-multiplier", "0.25", "--crop", "24", "--resize", "28"]
RESUME += ["--deterministic", "--seed", "7", "--objectives", "hdc,simclr,mlfo", "--mlfo-prototypes", "16"]
RESUME += ["--mlfo-queue-size", "8", "--mlfo-stage-split", "0.5"]


@pytest.fixture(scope="module")
def reference(shards, tmp_path_factory):
    """``reference()``: the output folder of one uninterrupted train.py run, started here
    and waited for at first call, so that it overlaps the signalled runs."""
    out = str(tmp_path_factory.mktemp("reference"))
    proc = run_train(RESUME + ["--data", shards, "--out", out])
    result = functools.cache(lambda: finish(proc))

    def wait():
        code, output = result()
        assert code == 0, output[-3000:]
        return out

    yield wait
    if proc.poll() is None:  # no test waited for it
        proc.kill()
        proc.communicate()


def signalled_then_rerun(shards, out, sig, expect_code):
    """Run train.py's flags, signalled at the end of step 5 (tests/scripts/train_until.py);
    check its exit code, return the step of its checkpoint and the re-run's output."""
    flags = RESUME + ["--data", shards, "--out", out]
    code, output = finish(run_train(["5", sig] + flags, script=os.path.join("tests", "scripts", "train_until.py")))
    assert code == expect_code, output[-3000:]
    assert not os.path.exists(os.path.join(out, "encoder.keras")), "the signalled run finished"
    assert not [f for f in os.listdir(os.path.join(out, "checkpoints")) if "partial" in f]
    step = checkpoint_step(out)
    code, rerun = finish(run_train(flags))
    assert code == 0, rerun[-3000:]
    return output, step, rerun


def assert_bitwise_equal(reference, out):
    a, b = checkpoint_arrays(reference()), checkpoint_arrays(out)
    assert len(a) > 50 and a.keys() == b.keys()  # weights and optimizer variables
    assert checkpoint_step(reference()) == 6
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def test_sigkill_inside_an_epoch_resumes_from_the_last_checkpoint_bitwise(shards, reference, tmp_path):
    out = str(tmp_path)
    _, step, rerun = signalled_then_rerun(shards, out, "SIGKILL", -signal.SIGKILL)
    assert step == 4
    assert f"Resuming from step 4 (epoch 2) in {out}" in rerun, rerun[-3000:]
    assert_bitwise_equal(reference, out)


def test_sigterm_saves_that_step_and_the_rerun_resumes_there_bitwise(shards, reference, tmp_path):
    out = str(tmp_path)
    output, step, rerun = signalled_then_rerun(shards, out, "SIGTERM", 0)
    assert "Stopped by SIGTERM at step 5; checkpoint saved." in output, output[-3000:]
    assert step == 5
    assert f"Resuming from step 5 (epoch 2) in {out}" in rerun, rerun[-3000:]
    assert_bitwise_equal(reference, out)


HDC_TERMS = [f"{kind}_block{k}{acc}" for kind in ("sc", "tc") for k in (3, 4, 5) for acc in ("", "_acc")]
MLFO_TERMS = ["aug_block3", "graph_edges", "ins", "ins_acc", "loss", "mul_block3", "mul_block4", "ret_block3", "sem",
              "stage"]  # C3D at 8 frames: block 3 (4 steps) is the only temporal level; graph at blocks 3, 4


def test_train_py_writes_its_outputs(reference):
    reference = reference()
    for name in ("config.json", "metrics.csv", "encoder.keras", "export/saved_model.pb"):
        assert os.path.exists(os.path.join(reference, name)), name
    with open(os.path.join(reference, "config.json")) as f:  # each objective, rebuildable from its settings
        settings = json.load(f)["objective_settings"]
    for name, cls in (("hdc", HDCObjective), ("simclr", SimCLRObjective), ("mlfo", MLFOObjective)):
        assert cls.from_config(settings[name]).get_config() == settings[name], name
    loaded = keras.saving.load_model(os.path.join(reference, "encoder.keras"))
    assert isinstance(loaded, models.VideoBackbone)
    with open(os.path.join(reference, "metrics.csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    columns = ["epoch", "l2", "loss", "objective", "hdc/loss", "simclr/loss", "simclr/accuracy"]
    columns += [f"hdc/{t}" for t in HDC_TERMS] + [f"mlfo/{t}" for t in MLFO_TERMS]
    assert sorted(rows[0]) == sorted(columns)  # one column per logged value: no always-NA val_* columns
    m = {k: np.array([float(row[k]) for row in rows]) for k in columns}
    np.testing.assert_array_equal(m["epoch"], [0, 1])
    np.testing.assert_array_equal(m["mlfo/stage"], [0, 1])
    assert (m["l2"] > 0).all()
    close = functools.partial(np.testing.assert_allclose, rtol=2e-6)
    close(m["loss"], m["objective"] + m["l2"])
    close(m["objective"], m["hdc/loss"] + m["simclr/loss"] + m["mlfo/loss"])  # weight 1 each
    weights = {3: 0.25, 4: 0.5, 5: 1.0}  # α = β of HDC Eq. 6
    close(m["hdc/loss"], sum(w * (m[f"hdc/sc_block{k}"] + m[f"hdc/tc_block{k}"]) for k, w in weights.items()))
    lower = 0.3 * (m["mlfo/mul_block3"] + m["mlfo/aug_block3"] + m["mlfo/ret_block3"]) + 0.5 * m["mlfo/mul_block4"]
    close(m["mlfo/loss"], m["mlfo/ins"] + m["mlfo/sem"] + m["mlfo/stage"] * lower)  # multi-level Eq. 5 + levels


def test_nan_loss_stops_with_a_message_and_keeps_the_last_good_checkpoint(shards, tmp_path):
    out = str(tmp_path / "run")
    common = TINY + ["--data", shards, "--out", out, "--epochs", "1", "--steps-per-epoch", "2"]
    code, output = finish(run_train(common))
    assert code == 0, output[-3000:]
    good = checkpoint_arrays(out)
    code, output = finish(run_train(common[:-4] + ["--epochs", "2", "--steps-per-epoch", "2", "--lr", "1e30"]))
    assert code == 1 and "loss was not finite" in output, output[-3000:]
    kept = checkpoint_arrays(out)
    for key in good:
        np.testing.assert_array_equal(good[key], kept[key], err_msg=key)


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--batch-size", "0"], "batch_size must be > 0"),
        (["--sc-blocks", "2,6"], "sc_blocks must be a subset of 3,4,5"),
        (["--alpha", "1,x"], "expected comma-separated numbers"),
        (["--backbone", "vgg"], "invalid choice: 'vgg'"),
        (["--crop", "200", "--resize", "128"], "crop must be in 1..resize"),
        (["--optimizer", "rmsprop"], "invalid choice: 'rmsprop'"),
        (["--width-multiplier", "-1"], "width_multiplier must be > 0"),
        (["--objectives", "hdc,nope"], "expected a comma list of"),
        (["--objective-weights", "1,2"], "objective_weights must be empty or one weight"),
        (["--schedule", "step", "--lr-milestones", "0.8,0.5"], "lr_milestones must be increasing fractions"),
        (["--objectives", "moco", "--moco-queue-size", "12"], "moco_queue_size must be a multiple of batch_size"),
        (["--method", "byol"], "invalid choice: 'byol'"),
        (["--te-terms", "inst,speedy"], "expected a comma list of"),
        (["--objectives", "te", "--batch-size", "5"], "batch_size must be even with objective te"),
        (["--backbone", "r2plus1d10", "--crop", "12"], "crop must be >= 16 for --backbone r2plus1d10"),
    ],
)
def test_bad_flags_give_clear_errors(flags, message, tmp_path, capsys):
    """One error line naming the problem and the hint, exit 2, before --out exists (cli.ArgumentParser;
    --data's error comes later: test_bad_data_is_one_line_and_writes_nothing)."""
    import train

    out = tmp_path / "never"
    with pytest.raises(SystemExit) as exit_info:
        train.main(flags + ["--out", str(out)])
    captured = capsys.readouterr()
    assert exit_info.value.code == 2 and captured.out == "" and not out.exists()
    error, hint = captured.err.splitlines()
    assert error.startswith("error: ") and message in error and hint == "run with --help for every flag"


@pytest.mark.parametrize("blocks", [("--tc-blocks", ""), ("--sc-blocks", "")])
def test_single_contrast_ablations_build(blocks):
    """SC-only and TC-only objectives need two views: the model and the pipeline carry only those."""
    import train
    from hdc.pretrain import build_model

    config, _ = train.config_from_args(["--backbone", "r2plus1d10", *blocks])
    model = build_model(config, total_steps=10)
    assert model.input_views == model.objective.views and len(model.input_views) == 2


def test_optimizer_and_width_flags_reach_the_model():
    import train
    from hdc.pretrain import build_model

    flags = ["--backbone", "c3d", "--optimizer", "adam", "--lr", "0.002", "--width-multiplier", "0.25"]
    config, _ = train.config_from_args(flags)
    model = build_model(config, total_steps=10)
    assert isinstance(model.optimizer, keras.optimizers.Adam)
    assert float(model.optimizer.learning_rate) == pytest.approx(0.002)
    assert model.backbone.tap_channels["block5"] == 512 // 4


@pytest.mark.parametrize(
    "flags, field, value",
    [
        (["--sc-blocks", "5"], "sc_blocks", (5,)),
        (["--tc-blocks", ""], "tc_blocks", ()),
        (["--alpha", "0,0,1"], "alpha", (0.0, 0.0, 1.0)),
        (["--beta", "1,1,1"], "beta", (1.0, 1.0, 1.0)),
        (["--temperature", "0.2"], "temperature", 0.2),
        (["--proj-dim", "64"], "proj_dim", 64),
        (["--no-color-jitter"], "color_jitter", False),
        (["--no-channel-replication"], "channel_replication", False),
        (["--no-flip"], "flip", False),
        (["--no-scale-jitter"], "scale_jitter", False),
        (["--no-tc-spatial-aug"], "tc_spatial_aug", False),
        (["--tc-gap", "3"], "tc_gap", 3),
        (["--tc-gap", "-1"], "tc_gap", -1),
        (["--optimizer", "adam"], "optimizer", "adam"),
        (["--width-multiplier", "0.5"], "width_multiplier", 0.5),
        (["--remat", "all"], "remat", ("block1", "block2", "block3", "block4", "block5")),
        (["--remat", "block3,block2"], "remat", ("block3", "block2")),
        (["--remat", "none"], "remat", ()),  # the default: nothing changes
        (["--objectives", "hdc"], "objectives", ("hdc",)),  # the default: nothing changes
        (["--objective-weights", "2"], "objective_weights", (2.0,)),
        (["--optimizer", "adamw"], "optimizer", "adamw"),
        (["--adamw-weight-decay", "0.01"], "adamw_weight_decay", 0.01),
        (["--schedule", "step"], "schedule", "step"),
        (["--lr-milestones", "0.5,0.8"], "lr_milestones", (0.5, 0.8)),
        (["--lr-step-factor", "0.5"], "lr_step_factor", 0.5),
        (["--simclr-temperature", "0.2"], "simclr_temperature", 0.2),
        (["--simclr-hidden", "64"], "simclr_hidden", 64),
        (["--simclr-dim", "32"], "simclr_dim", 32),
        (["--moco-version", "1"], "moco_version", 1),
        (["--moco-queue-size", "128"], "moco_queue_size", 128),
        (["--moco-momentum", "0.99"], "moco_momentum", 0.99),
        (["--moco-temperature", "0.2"], "moco_temperature", 0.2),
        (["--moco-dim", "64"], "moco_dim", 64),
        (["--moco-hidden", "256"], "moco_hidden", 256),
        (["--te-terms", "inst,equi"], "te_terms", ("inst", "equi")),
        (["--te-weights", "1,2,1,1,1"], "te_weights", (1.0, 2.0, 1.0, 1.0, 1.0)),
        (["--te-equivariance", "spatial"], "te_equivariance", "spatial"),
        (["--te-temperature", "0.2"], "te_temperature", 0.2),
        (["--te-aux-hidden", "64"], "te_aux_hidden", 64),
        (["--mlfo-prototypes", "50"], "mlfo_prototypes", 50),
        (["--mlfo-queue-size", "256"], "mlfo_queue_size", 256),
        (["--mlfo-proj-dim", "64"], "mlfo_proj_dim", 64),
        (["--mlfo-hidden", "32"], "mlfo_hidden", 32),
        (["--mlfo-temperature", "0.2"], "mlfo_temperature", 0.2),
        (["--mlfo-proto-temperature", "0.2"], "mlfo_proto_temperature", 0.2),
        (["--mlfo-sinkhorn-epsilon", "0.1"], "mlfo_sinkhorn_epsilon", 0.1),
        (["--mlfo-sinkhorn-iterations", "5"], "mlfo_sinkhorn_iterations", 5),
        (["--mlfo-graph", "onehot"], "mlfo_graph", "onehot"),
        (["--mlfo-graph-blocks", "5"], "mlfo_graph_blocks", (5,)),
        (["--mlfo-eta", "0.1"], "mlfo_eta", 0.1),
        (["--mlfo-temporal", "input"], "mlfo_temporal", "input"),
        (["--mlfo-temporal-blocks", "3"], "mlfo_temporal_blocks", (3,)),
        (["--mlfo-me-reduction", "8"], "mlfo_me_reduction", 8),
        (["--mlfo-sem-weight", "0.5"], "mlfo_sem_weight", 0.5),
        (["--mlfo-level-weights", "1,1,1"], "mlfo_level_weights", (1.0, 1.0, 1.0)),
        (["--mlfo-stage-split", "0.2"], "mlfo_stage_split", 0.2),
    ],
)
def test_each_flag_changes_exactly_its_field(flags, field, value):
    import dataclasses

    import train

    base, _ = train.config_from_args(["--backbone", "c3d"])
    changed, _ = train.config_from_args(["--backbone", "c3d"] + flags)
    diff = {f.name for f in dataclasses.fields(base) if getattr(base, f.name) != getattr(changed, f.name)}
    assert diff == ({field} if getattr(base, field) != value else set()) and getattr(changed, field) == value


def test_bad_data_is_one_line_and_writes_nothing(tmp_path):
    out = tmp_path / "never"
    proc = subprocess.run([sys.executable, "train.py", "--data", str(tmp_path / "missing"), "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)  # fmt: skip
    error, hint = proc.stderr.splitlines()  # nothing else: no traceback, no TensorFlow start-up lines
    assert proc.returncode == 2 and not out.exists(), proc.stderr[-2000:]
    assert error.startswith(f"error: --data {str(tmp_path / 'missing')!r} is neither") and hint == cli.HINT


def test_config_names_mirror_the_objectives():
    from data import recipes
    from hdc.config import MLFO_GRAPHS, MLFO_TEMPORAL, TE_EQUIVARIANCES, TE_TERMS
    from hdc.objectives import mlfo, te

    assert (TE_TERMS, TE_EQUIVARIANCES) == (te.TERMS, te.EQUIVARIANCES)
    assert TE_EQUIVARIANCES == recipes.EQUIVARIANCES
    assert (MLFO_GRAPHS, MLFO_TEMPORAL) == (mlfo.GRAPHS, mlfo.TEMPORAL_MODES)


@pytest.mark.parametrize("method", ["simclr", "moco", "moco-v1", "te", "mlfo"])
def test_method_presets_set_their_settings_and_flags_still_win(method):
    import train
    from hdc.config import DEMO_BY_METHOD, METHODS
    from hdc.pretrain import build_model

    config, _ = train.config_from_args(["--backbone", "c3d", "--method", method, "--lr", "0.123", "--frames", "16"])
    for field, value in {**METHODS[method], **DEMO_BY_METHOD.get(method, {})}.items():
        if field != "lr":
            assert getattr(config, field) == value, field
    assert config.lr == 0.123 and config.batch_size == 8  # the flag and the demo size preset
    model = build_model(config, total_steps=10)
    assert [p.name for p in model.objective.parts] == list(config.objectives)
    assert set(model.input_views) == {"te": {"p", "q"}, "mlfo": {"h1", "h2", "long"}}.get(method, {"a", "b"})

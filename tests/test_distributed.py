"""Negatives from the global batch, state and labels across replicas: three
steps of a composite objective (HDC + a toy with a momentum encoder, a queue
and labels; tests/scripts/replica_step.py) on 2 replicas (MirroredStrategy
over 2 logical CPUs) and on 2 local workers (MultiWorkerMirroredStrategy)
give the single-device losses and weights, EMA weights and queue included;
the labels arrive intact (the script checks their logged mean).

Runs in float64, where the comparison is exact to ~1e-12: in float32 this
loss's gradients at random init are so ill-conditioned (instance norm on
tiny maps) that the same single-device step traced in a tf.function and run
eagerly already differ by ~1e-2 relative, which would hide any real bug."""

import csv
import json
import os
import socket
import subprocess
import sys

import h5py
import numpy as np
import pytest

from evaluation_data import make_dataset

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "tests", "scripts", "replica_step.py")


def _start(out, strategy, extra_env=None, cpu_devices=None):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", **(extra_env or {}))
    args = [sys.executable, SCRIPT, str(out), strategy] + ([str(cpu_devices)] if cpu_devices else [])
    return subprocess.Popen(args, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _wait(proc):
    output, _ = proc.communicate(timeout=400)
    assert proc.returncode == 0, output[-4000:]


def _free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _assert_same(reference, other):
    a, b = np.load(reference), np.load(other)
    np.testing.assert_allclose(a["loss"], b["loss"], rtol=0, atol=1e-9)
    weights = [k for k in a.files if k != "loss"]
    assert len(weights) > 100 and weights == [k for k in b.files if k != "loss"]
    for key in weights:
        np.testing.assert_allclose(a[key], b[key], rtol=0, atol=1e-9, err_msg=key)


def test_two_replicas_and_two_workers_equal_one_device(tmp_path):
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    procs = [_start(tmp_path / "one.npz", "one"), _start(tmp_path / "mirrored.npz", "mirrored", cpu_devices=2)]
    procs += [
        _start(
            tmp_path / f"worker{i}.npz",
            "multiworker",
            {"TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}})},
        )
        for i in range(2)
    ]
    for proc in procs:
        _wait(proc)
    _assert_same(tmp_path / "one.npz", tmp_path / "mirrored.npz")
    _assert_same(tmp_path / "one.npz", tmp_path / "worker0.npz")
    _assert_same(tmp_path / "one.npz", tmp_path / "worker1.npz")  # every worker holds the same state


def _run(*args):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    script = os.path.join(ROOT, "tests", "scripts", "toy_resume.py")
    return subprocess.run([sys.executable, script, *map(str, args)], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=400)


def test_killed_stateful_run_resumes_bitwise(tmp_path):
    """Weights, EMA weights, queue contents, queue count and optimizer state after
    SIGKILL at step 2 and resume equal an uninterrupted run's, bit for bit."""
    full = _run(tmp_path, "full")
    assert full.returncode == 0, full.stderr[-3000:]
    killed = _run(tmp_path, "first")
    assert killed.returncode == -9, killed.stderr[-3000:]
    rest = _run(tmp_path, "rest")
    assert rest.returncode == 0, rest.stderr[-3000:]
    a, b = np.load(tmp_path / "full.npz"), np.load(tmp_path / "rest.npz")
    assert a.files == b.files and len(a.files) > 40
    for key in a.files:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


TRAIN = [
    "--backbone", "r2plus1d10", "--width-multiplier", "0.25", "--frames", "8", "--crop", "24", "--resize", "28",
    "--batch-size", "4", "--epochs", "1", "--steps-per-epoch", "3", "--optimizer", "sgd", "--momentum", "0.9",
    "--lr", "0.1", "--schedule", "inverse-time", "--lr-decay", "0.5", "--deterministic", "--seed", "9",
    "--objectives", "hdc,simclr,mlfo", "--mlfo-prototypes", "16", "--mlfo-queue-size", "8",
]  # fmt: skip
# R(2+1)D: TensorFlow's MaxPool3D, in C3D, has no float64 kernel. 24 px: block 5 has 2x2 positions (the
# single one of 16 px is zero after instance norm, and SimCLR's and multi-level's block-5 terms constant).


def _train(flags, extra_env=None):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", **(extra_env or {}))
    script = os.path.join(ROOT, "tests", "scripts", "train_float64.py")
    return subprocess.Popen([sys.executable, script, *flags], env=env, cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)  # fmt: skip


def _weights(out):
    arrays = {}
    with h5py.File(os.path.join(out, "checkpoints", "latest.weights.h5"), "r") as f:
        f.visititems(lambda name, item: arrays.update({name: item[()]}) if isinstance(item, h5py.Dataset) else None)
    return arrays


def _metrics(out):
    """{column: values} of metrics.csv: the loss and every objective's terms and accuracies."""
    with open(os.path.join(out, "metrics.csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    return {k: [float(row[k]) for row in rows] for k in rows[0]}


@pytest.fixture(scope="module")
def class_sorted_shards(tmp_path_factory):
    return make_dataset(str(tmp_path_factory.mktemp("data")), classes=3, train_per_class=3, test_per_class=1)


def test_train_py_on_two_replicas_and_two_workers_equals_one_device(class_sorted_shards, tmp_path):
    """train.py through the real shard pipeline, 3 steps of SGD with momentum, L2 and the
    inverse-time schedule, HDC, videoSimCLR and multi-level together (its score queue fills and
    wraps; its graph and Sinkhorn read the global batch): 2 replicas and 2 local workers (each
    worker decoding only its half of every batch) end with the single-device losses and weights."""
    flags = TRAIN + ["--data", class_sorted_shards]
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    procs = {
        "one": _train(flags + ["--out", str(tmp_path / "one"), "--strategy", "one"]),
        "mirrored": _train(flags + ["--out", str(tmp_path / "mirrored"), "--strategy", "mirrored", "--cpu-devices", "2"]),
    }
    for i in range(2):
        tf_config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}})
        procs[f"worker{i}"] = _train(flags + ["--out", str(tmp_path / "workers"), "--strategy", "multiworker"],
                                     {"TF_CONFIG": tf_config})  # fmt: skip
    for proc in procs.values():
        _wait(proc)
    reference, logged = _weights(tmp_path / "one"), _metrics(tmp_path / "one")
    assert len(reference) > 50 and {"simclr/loss", "mlfo/sem", "mlfo/mul_block4", "mlfo/ret_block3"} <= set(logged)
    for name in ("mirrored", "workers"):
        metrics = _metrics(tmp_path / name)
        assert metrics.keys() == logged.keys()
        for key in logged:
            np.testing.assert_allclose(metrics[key], logged[key], rtol=1e-9, err_msg=f"{name}: {key}")
        weights = _weights(tmp_path / name)
        assert weights.keys() == reference.keys()
        for key in reference:
            np.testing.assert_allclose(weights[key], reference[key], rtol=0, atol=1e-9, err_msg=f"{name}: {key}")

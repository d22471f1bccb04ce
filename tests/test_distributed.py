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

import json
import os
import socket
import subprocess
import sys

import numpy as np

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

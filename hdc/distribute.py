"""Device set-up and the choice of ``tf.distribute`` strategy."""

import json
import os

import tensorflow as tf


def split_cpu(num_devices):
    """Split the CPU into ``num_devices`` logical devices (before TF starts),
    so that multi-replica behaviour can be exercised without GPUs."""
    if num_devices <= 1:
        return
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * num_devices)
    except RuntimeError as error:
        raise RuntimeError(f"cpu_devices={num_devices}: TensorFlow was already initialised ({error})") from None


def configure_cpu_threads():
    """On a machine without GPUs, run one op at a time, each on every core.

    TensorFlow's default lets several multi-threaded convolutions run at once
    and fight over the cores; one inter-op thread measured faster for the HDC
    step on 2 cores (benchmarks/step.py, docs/performance.md). No-op once TF started.
    """
    if not tf.config.list_physical_devices("GPU"):
        try:
            tf.config.threading.set_inter_op_parallelism_threads(1)
        except RuntimeError:
            pass


def make_strategy(name="auto", cpu_devices=0):
    """Return the strategy for ``name``:

    - "auto": MirroredStrategy when more than one GPU (or ``cpu_devices`` > 1)
      is visible, else the default single-device strategy;
    - "one": the default single-device strategy;
    - "mirrored": MirroredStrategy over all GPUs, or the logical CPUs;
    - "multiworker": MultiWorkerMirroredStrategy configured by ``TF_CONFIG``.
    """
    if name == "multiworker":  # must come before anything initialises TensorFlow
        if "TF_CONFIG" not in os.environ:
            raise ValueError(
                "strategy 'multiworker' needs the TF_CONFIG environment variable (see docs/distributed.md)"
            )
        return tf.distribute.MultiWorkerMirroredStrategy()
    gpus = tf.config.list_logical_devices("GPU")
    cpus = [d.name for d in tf.config.list_logical_devices("CPU")]
    devices = [d.name for d in gpus] if gpus else cpus[: max(cpu_devices, 1)]
    if name == "mirrored" or (name == "auto" and len(devices) > 1):
        return tf.distribute.MirroredStrategy(devices=devices)
    if name in ("auto", "one"):
        return tf.distribute.get_strategy()
    raise ValueError(f"strategy must be auto, one, mirrored or multiworker, received {name!r}")


def is_chief(strategy):
    """True unless this process is a non-chief worker of a multi-worker run."""
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return True
    task = json.loads(os.environ["TF_CONFIG"]).get("task", {})
    return task.get("type") in (None, "chief") or (task.get("type") == "worker" and task.get("index", 0) == 0)

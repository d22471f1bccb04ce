"""Time the full HDC training step: our Keras model against the PyTorch reference.

One step = the three views (u_o, u_s, u_t) of B videos through the backbone
in one batched call, taps of blocks 3–5, HD-NCE (HDC Eq. 6), backward, and an
SGD-momentum update (lr 0.1, momentum ``--momentum`` = 0.9; L2 on the conv kernels as in HDC
§3.3). Input: uint8 clips (B, 3, T, H, W, 3), rescaled on the device.

Each framework runs in its own worker process (so that neither's thread pools
disturb the other, and peak memory is measured per framework); the parent
alternates them repeat by repeat (keras, torch, torch, keras, ...), after a
warm-up, and reports medians. The Keras side runs under the active Keras
backend: with TensorFlow, the train function ``fit`` compiles from
``HDCModel.train_step``, ``steps_per_execution`` = steps per repeat, called
directly (fit's per-call setup is not a step cost); under JAX, a jitted ``stateless_call`` +
``jax.value_and_grad`` step over the same model (no TensorFlow import), and
on a GPU the model FLOPs utilisation against the device's bf16 peak.

    python -m benchmarks.step --json step.json          # small CPU defaults
    KERAS_BACKEND=jax python -m benchmarks.step --frames 16 --crop 112 --batch-size 32

``--objectives hdc-plain,hdc,simclr,moco`` instead compares Keras steps of
several objectives (as ``train.py`` builds them) on the same backbone and
clip, each ratio against the first: what composition costs (hdc-plain vs
hdc), and what MoCo's key encoder (one more forward pass) costs.

Reported per backbone: videos/s for both (a video = its 3 views), their ratio
(keras/torch), ``gflop_per_video`` = training FLOPs of one video's step =
3 views × 3 (forward + backward ≈ 2× forward) × forward conv FLOPs of a clip,
and peak memory per clip.

Peak memory is measured alike for both frameworks, in separate workers at
batch B and 2B after the same warm-up: a step's peak minus the memory in use
just before it (weights, optimiser state, inputs: already there in both), the
largest of ``--memory-steps`` steps; per clip = (growth at 2B − growth at B) /
3B, which also cancels the gradients of the weights. On a GPU the peak is the
allocator's (TensorFlow ``get_memory_info``, ``torch.cuda.max_memory_allocated``,
reset before the step; JAX's ``peak_bytes_in_use`` cannot be reset). On a CPU
both frameworks allocate through glibc with every block of 64 KiB or more in
its own mapping, returned on free (``MALLOC_MMAP_THRESHOLD_``, and
``TF_ONEDNN_USE_SYSTEM_ALLOCATOR`` so that TensorFlow's oneDNN allocator does
not keep its own pool), and the peak is the resident set's high-water mark
(reset before the step through /proc/self/clear_refs): live bytes, not what an
allocator's pool has grown to.

``--remat`` rematerialises Keras backbone blocks (``models.backbone``); the
PyTorch side is unchanged, so the ratios show its cost and saving.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

import cli
from hdc.config import BLOCK5_STRIDES
from train import parse_remat

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BACKBONES = ("c3d", "r3d18", "r2plus1d10")
PROTOCOL = "@@step "  # prefix of the worker's reply lines on stdout
# Dense bf16 peak (TFLOP/s) by a substring of the device name.
BF16_PEAK_TFLOPS = {"H200": 989.0, "H100 PCIe": 756.0, "H100": 989.0, "A100": 312.0, "L4": 121.0}


# ------------------------------------------------------------------ workers
def _reply(**fields):
    print(PROTOCOL + json.dumps(fields), flush=True)


def _clips(args, batch, layout=None):
    """Random uint8 input: HDC's three views (B, 3, T, H, W, 3), or a packed batch for ``layout``
    (``data.packing``) whose labels are valid for every objective: scalars (i // 2) mod 2 (partners
    2k, 2k + 1 alike, neighbouring pairs not), vectors the reversed range (a permutation)."""
    rng = np.random.default_rng(0)
    if layout is None:
        return rng.integers(0, 256, (batch, 3, args.frames, args.crop, args.crop, 3), dtype=np.uint8)
    from data.packing import LABEL

    parts = []
    for field in layout:
        if field.kind == LABEL:
            size = int(np.prod(field.shape))
            value = np.arange(size)[None, ::-1] if field.shape else (np.arange(batch)[:, None] // 2) % 2
            parts.append(np.ascontiguousarray(np.broadcast_to(value, (batch, size)), "<i4").view(np.uint8))
        else:
            parts.append(rng.integers(0, 256, (batch, int(np.prod(field.shape))), dtype=np.uint8))
    return np.concatenate(parts, axis=1)


def _objective(name, batch):
    """"hdc-plain": a bare HDCObjective; a family name: that family as train.py builds it (a
    one-part Composite), with MoCo's queue at 8 global batches."""
    from hdc import families
    from hdc.config import TrainConfig
    from hdc.objectives import HDCObjective

    if name == "hdc-plain":
        return HDCObjective()
    return families.build_objective(TrainConfig(objectives=(name,), moco_queue_size=8 * batch))


# CPU memory workers: glibc maps every block >= 64 KiB on its own and unmaps it on free; TensorFlow's
# oneDNN allocator hands large blocks to malloc instead of pooling them. RSS then follows live bytes.
CPU_MEMORY_ENV = {"MALLOC_MMAP_THRESHOLD_": "65536", "TF_ONEDNN_USE_SYSTEM_ALLOCATOR": "1"}


class _Memory:
    """One step's peak over the bytes in use just before it: RSS on CPU, else the allocator's."""

    def __init__(self, read_current, read_peak, reset_peak=lambda: None):
        self.read_current, self.read_peak, self.reset_peak = read_current, read_peak, reset_peak

    def step_growth_mb(self, run):
        before = self.read_current()
        self.reset_peak()
        run(1)
        return (self.read_peak() - before) / 2**20


def _rss_memory():
    def status(key):
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) * 1024 for line in f if line.startswith(key + ":"))

    def reset():
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # VmHWM := VmRSS (Linux >= 4.0)

    return _Memory(lambda: status("VmRSS"), lambda: status("VmHWM"), reset)


def _keras_worker(args, batch):
    """Build HDCModel + ``args.objective`` under the active backend; return (run(n) → s, memory, info)."""
    import keras

    import models
    from hdc.model import HDCModel

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        if args.inter_op:
            tf.config.threading.set_inter_op_parallelism_threads(args.inter_op)
        if args.intra_op:
            tf.config.threading.set_intra_op_parallelism_threads(args.intra_op)
    if args.precision == "bfloat16":
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
    clip_shape = (args.frames, args.crop, args.crop, 3)
    options = dict(kernel_regularizer=args.weight_decay, remat=args.remat)
    backbone = models.build_backbone(args.backbone, input_shape=clip_shape, **options)
    flops = models.conv_flops(backbone)
    objective = _objective(args.objective, args.batch_size)
    if any(m != 1 for m in objective.view_frames.values()):  # e.g. mlfo's 2T long sequence
        backbone = models.build_backbone(args.backbone, input_shape=(None,) + clip_shape[1:], **options)
    model = HDCModel(backbone, objective, clip_shape=clip_shape)
    optimizer = keras.optimizers.SGD(learning_rate=0.1, momentum=args.momentum)
    clips = _clips(args, batch, model.layout)
    info = {"backend": backend, "conv_flops_per_clip": flops, "params": backbone.count_params()}
    if backend == "jax":
        run, memory = _jax_step(model, optimizer, clips)
    elif backend == "tensorflow":
        run, memory = _tf_step(args, model, optimizer, clips)
    else:
        raise ValueError(f"benchmarks.step runs Keras under tensorflow or jax, received KERAS_BACKEND={backend!r}")
    return run, memory, info


def _tf_step(args, model, optimizer, clips):
    import tensorflow as tf

    gpu = bool(tf.config.list_physical_devices("GPU"))
    # The --steps steps of a repeat run in one call of fit's own train function
    # (steps_per_execution = --steps): HDCModel.train_step as fit compiles it, without
    # fit's per-call setup (iterator, callbacks), which is paid once per fit, not per step.
    # jit_compile defaults to off as in hdc.config: XLA's CPU 3D convs are ~2x slower than oneDNN's.
    model.compile(optimizer=optimizer, steps_per_execution=args.steps, jit_compile=args.xla)
    model.make_train_function()
    batches = iter(tf.data.Dataset.from_tensors(tf.convert_to_tensor(clips)).repeat())

    def run(steps):
        start = time.perf_counter()
        for _ in range(-(-steps // args.steps)):  # whole executions of --steps steps
            logs = model.train_function(batches)
        float(logs["loss"])  # waits for the step
        return time.perf_counter() - start

    if gpu:
        info = tf.config.experimental.get_memory_info
        reset = lambda: tf.config.experimental.reset_memory_stats("GPU:0")  # noqa: E731
        return run, _Memory(lambda: info("GPU:0")["current"], lambda: info("GPU:0")["peak"], reset)
    return run, _rss_memory()


def _jax_step(model, optimizer, clips):
    """A jitted train step over ``model.stateless_call``: HD-NCE + L2, grads, SGD."""
    import jax

    x = jax.device_put(clips)
    model(x)  # builds every layer
    optimizer.build(model.trainable_variables)

    def loss_fn(trainable, non_trainable, views):
        outputs, non_trainable, losses = model.stateless_call(
            trainable, non_trainable, views, training=True, return_losses=True
        )
        return outputs["loss"] + sum(losses), non_trainable

    def step(state, views):
        trainable, non_trainable, opt_vars = state
        (loss, non_trainable), grads = jax.value_and_grad(loss_fn, has_aux=True)(trainable, non_trainable, views)
        trainable, opt_vars = optimizer.stateless_apply(opt_vars, grads, trainable)
        return loss, (trainable, non_trainable, opt_vars)

    step = jax.jit(step, donate_argnums=0)  # the old state's buffers are reused
    state = [
        [v.value for v in model.trainable_variables],
        [v.value for v in model.non_trainable_variables],
        [v.value for v in optimizer.variables],
    ]

    def run(steps):
        nonlocal state
        start = time.perf_counter()
        for _ in range(steps):
            loss, state = step(state, x)
        jax.block_until_ready(loss)
        return time.perf_counter() - start

    device = jax.devices()[0]
    if device.platform == "gpu":
        stats = device.memory_stats
        return run, _Memory(lambda: stats()["bytes_in_use"], lambda: stats()["peak_bytes_in_use"])
    return run, _rss_memory()


def _torch_worker(args, batch):
    import torch

    from benchmarks.torch_reference import HDCReference, build_reference_backbone

    if args.intra_op:
        torch.set_num_threads(args.intra_op)
    if args.inter_op:
        torch.set_num_interop_threads(args.inter_op)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    backbone = build_reference_backbone(args.backbone)
    with torch.no_grad():  # tap widths from one blank clip
        probe = backbone(torch.zeros(1, 3, args.frames, args.crop, args.crop))
    channels = {tap: probe[tap].shape[1] for tap in ("block3", "block4", "block5")}
    model = HDCReference(backbone, channels).to(device)
    kernels = [p for p in model.backbone.parameters() if p.ndim == 5]
    others = [p for p in model.parameters() if p.ndim != 5]
    # Keras' L2(w) adds w·Σk² to the loss, i.e. 2w·k to the gradient of every kernel.
    optimizer = torch.optim.SGD(
        [{"params": kernels, "weight_decay": 2 * args.weight_decay}, {"params": others}], lr=0.1, momentum=args.momentum
    )
    x = torch.from_numpy(_clips(args, batch)).to(device)

    def run(steps):
        start = time.perf_counter()
        for _ in range(steps):
            with torch.autocast(device, torch.bfloat16, enabled=args.precision == "bfloat16"):
                loss = model(x)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)  # gradients freed between steps, as in TensorFlow
        loss.item()  # synchronises
        return time.perf_counter() - start

    if device == "cuda":
        cuda = torch.cuda
        memory = _Memory(cuda.memory_allocated, cuda.max_memory_allocated, cuda.reset_peak_memory_stats)
    else:
        memory = _rss_memory()
    return run, memory, {"backend": "torch", "params": sum(p.numel() for p in backbone.parameters())}


def worker_main(args):
    """Protocol on stdin/stdout: 'run N' → seconds for N steps; 'memory N' → the largest
    peak growth of N steps, measured one by one (MB); 'stop'."""
    batch = args.batch_size * args.worker_batch_factor
    build = _keras_worker if args.worker == "keras" else _torch_worker
    run, memory, info = build(args, batch)
    run(args.warmup)
    _reply(ready=True, **info)
    for line in sys.stdin:
        command = line.split()
        if command[0] == "run":
            _reply(seconds=run(int(command[1])))
        elif command[0] == "memory":
            growth = [memory.step_growth_mb(run) for _ in range(int(command[1]))]
            _reply(peak_growth_mb=max(growth), step_growth_mb=growth)
        elif command[0] == "stop":
            return
        else:
            raise ValueError(f"Unknown worker command {line!r}")


# ------------------------------------------------------------------- parent
class Worker:
    """A worker process (``--worker keras|torch``) driven line by line."""

    def __init__(self, args, framework, backbone, batch_factor=1, objective="hdc-plain", env=None):
        self.log = tempfile.TemporaryFile(mode="w+")
        command = [sys.executable, "-m", "benchmarks.step", "--worker", framework, "--backbone", backbone,
                   "--worker-batch-factor", str(batch_factor), "--objective", objective] + _shared_flags(args)
        env = {**os.environ, **(env or {}),
               "PYTHONPATH": os.pathsep.join(filter(None, [REPO, os.environ.get("PYTHONPATH")]))}
        env.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")  # let the two frameworks share a GPU
        env.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")
        self.name = f"{framework} worker ({backbone}, batch {args.batch_size * batch_factor})"
        self.process = subprocess.Popen(command, cwd=REPO, env=env, text=True, stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=self.log)
        self.info = self._read()

    def _read(self):
        for line in self.process.stdout:
            if line.startswith(PROTOCOL):
                return json.loads(line[len(PROTOCOL):])
        self.log.seek(0)
        tail = self.log.read()[-3000:]
        raise RuntimeError(f"The {self.name} exited with code {self.process.wait()}:\n{tail}")

    def run(self, steps):
        return self._command(f"run {steps}")

    def memory(self, steps):
        return self._command(f"memory {steps}")

    def _command(self, line):
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        return self._read()

    def stop(self):
        if self.process.poll() is None:
            self.process.stdin.write("stop\n")
            self.process.stdin.close()
            self.process.wait()
        self.log.close()


def _shared_flags(args):
    return ["--frames", str(args.frames), "--crop", str(args.crop), "--batch-size", str(args.batch_size),
            "--steps", str(args.steps), "--warmup", str(args.warmup), "--intra-op", str(args.intra_op),
            "--inter-op", str(args.inter_op), "--weight-decay", str(args.weight_decay),
            "--momentum", str(args.momentum), "--remat", ",".join(args.remat) or "none",
            "--precision", args.precision] + ["--xla"] * args.xla


def _device():
    """(description, is a GPU)."""
    import torch

    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0), True
    model = "unknown CPU"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{model}, {os.cpu_count()} logical cores", False


def _bf16_peak(device, override):
    if override:
        return override * 1e12
    for key, tflops in BF16_PEAK_TFLOPS.items():
        if key in device:
            return tflops * 1e12
    return None


def measure_memory(args, framework, backbone, gpu):
    """{step_peak_mb: growth at batch B, peak_mb_per_clip: (growth at 2B − growth at B) / 3B,
    step_growth_mb: every measured step's growth at B and at 2B}."""
    replies = []
    for factor in (1, 2):
        worker = Worker(args, framework, backbone, batch_factor=factor, env=None if gpu else CPU_MEMORY_ENV)
        try:
            replies.append(worker.memory(args.memory_steps))
        finally:
            worker.stop()
    single, double = (reply["peak_growth_mb"] for reply in replies)
    return {"step_peak_mb": single, "peak_mb_per_clip": (double - single) / (3 * args.batch_size),
            "step_growth_mb": [reply["step_growth_mb"] for reply in replies]}


def bench_backbone(args, backbone, peak_flops, gpu=False):
    """Interleaved timing of one backbone, then its peak memory; returns its result dict."""
    workers = {"keras": Worker(args, "keras", backbone), "torch": Worker(args, "torch", backbone)}
    try:
        if workers["keras"].info["params"] != workers["torch"].info["params"]:
            raise RuntimeError(f"{backbone}: parameter counts differ: "
                               f"{workers['keras'].info['params']} vs {workers['torch'].info['params']}")
        seconds = {"keras": [], "torch": []}
        for repeat in range(args.repeats):
            order = ("keras", "torch") if repeat % 2 == 0 else ("torch", "keras")
            for framework in order:
                seconds[framework].append(workers[framework].run(args.steps)["seconds"])
    finally:
        for worker in workers.values():
            worker.stop()
    info = workers["keras"].info
    rate = {f: args.batch_size * args.steps / statistics.median(s) for f, s in seconds.items()}
    step_flops = 3 * 3 * info["conv_flops_per_clip"] * args.batch_size
    result = {
        "keras_videos_per_s": rate["keras"],
        "torch_videos_per_s": rate["torch"],
        "ratio": rate["keras"] / rate["torch"],
        "gflop_per_video": step_flops / args.batch_size / 1e9,
        "forward_gflop_per_clip": info["conv_flops_per_clip"] / 1e9,
        "params": info["params"],
        "keras_backend": info["backend"],
        # The fastest repeat: less sensitive than the median to other jobs on a shared machine.
        "keras_best_videos_per_s": args.batch_size * args.steps / min(seconds["keras"]),
        "torch_best_videos_per_s": args.batch_size * args.steps / min(seconds["torch"]),
        "keras_step_seconds": seconds["keras"],
        "torch_step_seconds": seconds["torch"],
    }
    if peak_flops:
        for f in rate:
            result[f"{f}_mfu"] = step_flops / (args.batch_size / rate[f]) / peak_flops
    if args.memory:
        for framework in ("keras", "torch"):
            for key, value in measure_memory(args, framework, backbone, gpu).items():
                result[f"{framework}_{key}"] = value
        result["memory_ratio"] = result["keras_peak_mb_per_clip"] / result["torch_peak_mb_per_clip"]
    return result


def bench_objectives(args, backbone):
    """Interleaved Keras steps of ``args.objectives`` on one backbone; videos/s and ratios to the first."""
    workers = {name: Worker(args, "keras", backbone, objective=name) for name in args.objectives}
    seconds = {name: [] for name in workers}
    try:
        for repeat in range(args.repeats):
            names = list(workers) if repeat % 2 == 0 else list(reversed(workers))
            for name in names:
                seconds[name].append(workers[name].run(args.steps)["seconds"])
    finally:
        for worker in workers.values():
            worker.stop()
    rate = {name: args.batch_size * args.steps / statistics.median(s) for name, s in seconds.items()}
    first = args.objectives[0]
    result = {f"{name}_videos_per_s": r for name, r in rate.items()}
    result.update({f"{name}_vs_{first}": r / rate[first] for name, r in rate.items() if name != first})
    result["step_seconds"] = seconds
    return result


def _table(results):
    keys = ("keras_videos_per_s", "torch_videos_per_s", "ratio", "gflop_per_video",
            "keras_peak_mb_per_clip", "torch_peak_mb_per_clip", "memory_ratio", "keras_mfu", "torch_mfu")
    shown = [k for k in keys if any(k in r for r in results.values())]
    shown += [k for k in next(iter(results.values())) if "_videos_per_s" in k and k not in shown or "_vs_" in k]
    lines = ["| backbone | " + " | ".join(shown) + " |", "|---" * (len(shown) + 1) + "|"]
    for name, r in results.items():
        cells = [f"{r[k]:.3g}" if k in r else "" for k in shown]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, received {text!r}")
    return value


def _non_negative_int(text):
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, received {text!r}")
    return value


def parse_args(argv=None):
    p = cli.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--backbones", nargs="+", default=list(BACKBONES), choices=BACKBONES,
                   help="backbones to time (default: all three)")
    p.add_argument("--frames", type=_positive_int, default=16,
                   help="frames per clip (default 16; the paper's is 16; r3d18 needs ≥ 16)")
    p.add_argument("--crop", type=_positive_int, default=48,
                   help="clip height and width in pixels (default 48; the paper's is 112; r3d18 needs ≥ 33 "
                        "and the others ≥ 17 so that block5 has more than one position)")
    p.add_argument("--batch-size", type=_positive_int, default=2,
                   help="videos per step, each giving 3 clips (default 2; the paper's is 128)")
    p.add_argument("--steps", type=_positive_int, default=1,
                   help="training steps per timed repeat (TensorFlow: also steps_per_execution)")
    p.add_argument("--repeats", type=_positive_int, default=5,
                   help="timed repeats per framework, interleaved; the median is reported (default 5)")
    p.add_argument("--warmup", type=_positive_int, default=1, help="untimed steps first (default 1)")
    p.add_argument("--intra-op", type=_non_negative_int, default=os.cpu_count(),
                   help="threads inside one op for TensorFlow and PyTorch (0 = framework default; "
                        "default: all cores)")
    p.add_argument("--inter-op", type=_non_negative_int, default=1,
                   help="ops run in parallel for TensorFlow and PyTorch (0 = framework default; default 1: "
                        "two multi-threaded convolutions at once fight over the cores)")
    p.add_argument("--weight-decay", type=float, default=5e-5,
                   help="L2 factor on the conv kernels, as a Keras regulariser and its PyTorch equivalent "
                        "(default 5e-5, HDC §3.3; 0 turns it off)")
    p.add_argument("--momentum", type=float, default=0.9,
                   help="SGD momentum of both frameworks (default 0.9; 0 = plain SGD)")
    p.add_argument("--precision", choices=("float32", "bfloat16"), default="float32",
                   help="float32, or bfloat16 compute (Keras mixed_bfloat16 policy, torch.autocast)")
    p.add_argument("--xla", action="store_true",
                   help="TensorFlow backend: compile the Keras step with XLA (jit_compile=True; off by default)")
    p.add_argument("--objectives", type=lambda text: [v for v in text.split(",") if v],
                   help="compare Keras steps of these objectives instead of Keras vs PyTorch: 'hdc-plain' (a bare "
                        "HDCObjective, the default model) or family names as train.py builds them, e.g. "
                        "hdc-plain,hdc,simclr,moco; each ratio is against the first")
    p.add_argument("--objective", default="hdc-plain", help=argparse.SUPPRESS)
    p.add_argument("--remat", type=parse_remat, default=(),
                   help="Keras backbone blocks to rematerialise in the backward pass: none (default), all, "
                        "or a comma list such as block1,block2")
    p.add_argument("--no-memory", dest="memory", action="store_false",
                   help="skip the peak-memory measurement (two more workers per framework, at B and 2B)")
    p.add_argument("--memory-steps", type=_positive_int, default=3,
                   help="steps measured one by one per memory worker; the largest peak counts (default 3)")
    p.add_argument("--peak-tflops", type=float, default=None,
                   help="the device's dense bf16 peak in TFLOP/s for MFU (default: looked up by GPU name)")
    p.add_argument("--json", metavar="F", help="write the results as JSON to F")
    cli.add_verbose_flag(p)
    p.add_argument("--worker", choices=("keras", "torch"), help=argparse.SUPPRESS)
    p.add_argument("--backbone", choices=BACKBONES, help=argparse.SUPPRESS)
    p.add_argument("--worker-batch-factor", type=_positive_int, default=1, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.weight_decay < 0:
        p.error(f"--weight-decay must be >= 0, received {args.weight_decay}")
    if not 0 <= args.momentum < 1:
        p.error(f"--momentum must be in [0, 1), received {args.momentum}")
    if args.batch_size < 2:
        p.error(f"--batch-size must be >= 2 (contrast needs negatives), received {args.batch_size}")
    for name in [args.backbone] if args.worker else args.backbones:
        t, h, w = (-(-size // stride) for size, stride in zip((args.frames, args.crop, args.crop), BLOCK5_STRIDES[name]))
        if args.frames < BLOCK5_STRIDES[name][0] or t * h * w < 2:
            p.error(f"--frames {args.frames} --crop {args.crop} is too small for {name}: it needs at least "
                    f"{BLOCK5_STRIDES[name][0]} frames and more than one block5 position (block5 stride "
                    f"{BLOCK5_STRIDES[name]})")
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.worker == "keras" and os.environ.get("KERAS_BACKEND", "tensorflow") == "tensorflow":
        cli.start_tensorflow(args.verbose)
    else:
        cli.set_log_level(args.verbose)  # the parent's workers inherit it
    if args.worker:
        return worker_main(args)
    device, gpu = _device()
    peak_flops = _bf16_peak(device, args.peak_tflops) if gpu else None
    results = {}
    for backbone in args.backbones:
        print(f"timing {backbone} ...", file=sys.stderr, flush=True)
        results[backbone] = bench_objectives(args, backbone) if args.objectives else bench_backbone(
            args, backbone, peak_flops, gpu)
    report = {
        "backbones": results,
        "device": device,
        "config": {k: v for k, v in vars(args).items() if k not in ("worker", "backbone", "worker_batch_factor")},
        "keras_backend": os.environ.get("KERAS_BACKEND", "tensorflow"),
    }
    print(_table(results))
    if args.json:
        temporary = f"{args.json}.tmp"
        with open(temporary, "w") as f:
            json.dump(report, f, indent=2)
        os.replace(temporary, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())

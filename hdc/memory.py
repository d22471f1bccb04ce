"""How much device memory a training step needs, said before the first step.

``estimate_bytes`` scales a per-clip figure measured by ``benchmarks/step.py``
at 16×112×112 (the step's peak growth per extra clip: activations kept for the
backward pass plus its working set; docs/performance.md, "Memory") by the clip volume, the
width multiplier and the clips per device, and adds the weights-sized buffers
(weights, momentum slot, gradients and the update's temporaries).
``fit_message`` turns the estimate into the error a run gets when it cannot
fit the visible GPUs, with the ways out; ``check`` is what ``pretrain`` calls.
"""

import math

from hdc.config import REMAT_BLOCKS

REFERENCE_POSITIONS = 16 * 112 * 112  # T·H·W of the clips PER_CLIP_MB was measured at
# MB per 16×112×112 clip, Keras on TensorFlow (benchmarks/step.py --crop 112 on a CPU; docs/performance.md, "Memory"):
# float32; 16-bit compute (--precision bfloat16: mixed precision); float32 with --remat all.
PER_CLIP_MB = {
    "c3d": {"float32": 208.0, "mixed": 153.0, "remat": 198.0},
    "r3d18": {"float32": 46.0, "mixed": 34.0, "remat": 23.0},
    "r2plus1d10": {"float32": 295.0, "mixed": 222.0, "remat": 258.0},
}
PARAMS = {"c3d": 27.66e6, "r3d18": 33.20e6, "r2plus1d10": 14.37e6}  # at width multiplier 1
FAMILY_CLIPS = {"simclr": 2, "moco": 1, "te": 2, "mlfo": 4}  # hdc.families; HDC: see clips_per_video
WEIGHT_COPIES = 5  # weights, momentum, gradients, L2 gradients, one update temporary (float32 each)


def per_clip_bytes(backbone, mixed_precision, remat, clip_shape, width_multiplier=1.0):
    """Peak step memory of one more clip of ``clip_shape`` (T, H, W, 3)."""
    if backbone not in PER_CLIP_MB:
        raise ValueError(f"No memory figures for backbone {backbone!r}; known: {sorted(PER_CLIP_MB)}")
    figures = PER_CLIP_MB[backbone]
    # Partial remat lies between none and all: the figure without remat bounds it.
    mb = figures["remat"] if set(REMAT_BLOCKS) <= set(remat) else figures["float32"]
    if mixed_precision:
        mb *= figures["mixed"] / figures["float32"]
    return mb * 2**20 * math.prod(clip_shape[:3]) / REFERENCE_POSITIONS * width_multiplier


def estimate_bytes(backbone, mixed_precision, remat, clip_shape, clips, width_multiplier=1.0):
    """(activation bytes of ``clips`` clips, weights-sized bytes) of one device's step."""
    activations = clips * per_clip_bytes(backbone, mixed_precision, remat, clip_shape, width_multiplier)
    return activations, WEIGHT_COPIES * 4 * PARAMS[backbone] * width_multiplier**2


def _gb(nbytes):
    return f"{nbytes / 1e9:.1f} GB"


def fit_message(backbone, clip_shape, batch_size, views, mixed_precision, remat, replicas, device_bytes,
                width_multiplier=1.0):
    """None when a step of ``batch_size`` videos of ``views`` clips each, split over ``replicas``
    devices of ``device_bytes`` each (None: no limit, a CPU), fits; else what it needs and the options."""
    clips = batch_size * views / replicas
    settings = dict(clip_shape=clip_shape, clips=clips, width_multiplier=width_multiplier)
    activations, fixed = estimate_bytes(backbone, mixed_precision, remat, **settings)
    if device_bytes is None or activations + fixed <= device_bytes:
        return None
    per_video = views * activations / clips
    room = device_bytes - fixed
    options = []
    if room >= per_video:  # the fewest devices that divide the batch and hold their share of it
        least = math.ceil(batch_size * per_video / room)
        devices = next(n for n in range(least, batch_size + 1) if batch_size % n == 0)
        options.append(f"more devices: {devices} of {_gb(device_bytes)} (the batch is split across replicas)")
    if not mixed_precision:
        options.append(f"--mixed-precision: about {_gb(sum(estimate_bytes(backbone, True, remat, **settings)))}")
    if not set(REMAT_BLOCKS) <= set(remat):
        rematted = estimate_bytes(backbone, mixed_precision, REMAT_BLOCKS, **settings)
        options.append(f"--remat all: about {_gb(sum(rematted))}")
    fits = int(room // per_video) * replicas if room > 0 else 0
    options.append(f"a smaller --batch-size: at most {fits} on these devices" if fits
                   else "a smaller --batch-size does not suffice: one video does not fit a device")
    shape = "×".join(str(size) for size in clip_shape[:3])
    return (
        f"--backbone {backbone} at --batch-size {batch_size} ({clips:g} clips of {shape} per device, "
        f"{'mixed precision' if mixed_precision else 'float32'}, --remat {','.join(remat) or 'none'}) needs about "
        f"{_gb(activations + fixed)} per device ({activations / clips / 2**20:.0f} MB per clip + "
        f"{_gb(fixed)} weights-sized), more than the {_gb(device_bytes)} of each of its {replicas} device(s). "
        "Options (estimates per device):\n  - " + "\n  - ".join(options)
    )


def visible_gpu_bytes():
    """Memory TensorFlow may use on each visible GPU (empty on a CPU-only machine)."""
    import tensorflow as tf

    if not tf.config.list_physical_devices("GPU"):
        return []
    from tensorflow.python.client import device_lib  # the one TensorFlow call that reports it

    return [d.memory_limit for d in device_lib.list_local_devices() if d.device_type == "GPU"]


def clips_per_video(config):
    """Clips per video that ``config.objectives`` run through the trained backbone (an m·T-frame
    view counts m; MoCo's key view passes only the momentum encoder, forward). Views that several
    objectives share are counted once per objective: an upper bound."""
    hdc_views = 3 if config.sc_blocks and config.tc_blocks else 2  # u_o with u_s and/or u_t
    return sum({"hdc": hdc_views, **FAMILY_CLIPS}[name] for name in config.objectives)


def check(config, replicas):
    """Print the step's estimated memory; return the error message if it cannot fit the GPUs, else None."""
    views = clips_per_video(config)
    clip_shape = (config.frames, config.crop, config.crop, 3)
    gpus = visible_gpu_bytes()
    activations, fixed = estimate_bytes(config.backbone, config.mixed_precision, config.remat, clip_shape,
                                        config.batch_size * views / replicas, config.width_multiplier)
    where = f"each GPU has {_gb(min(gpus))}" if gpus else "on the CPU there is no device limit"
    print(f"Estimated step memory per replica: {_gb(activations + fixed)} (activations {_gb(activations)}, "
          f"weights-sized buffers {_gb(fixed)}); {where}")
    return fit_message(config.backbone, clip_shape, config.batch_size, views, config.mixed_precision, config.remat,
                       replicas, min(gpus) if gpus else None, config.width_multiplier)

"""Where the Keras (TensorFlow) HDC step spends its time, against PyTorch.

    python -m benchmarks.step_breakdown --backbone r3d18      # 16x48x48, batch 2 (6 clips)

1. Every Conv3D of the backbone alone at its shape in the step: forward plus
   the gradients the step needs (filter; input too except for the first
   layer), TensorFlow vs PyTorch, median ms.
2. The Keras step as ``benchmarks.step`` times it, with the paper's L2 + SGD
   momentum, without L2, and with plain SGD: the differences are the cost of
   L2 and of the momentum update.
"""

import statistics
import time

import cli
from benchmarks import step


def median_ms(run, repeats):
    """Median milliseconds of ``run()``, which returns its own seconds, after two warm-up calls."""
    run()
    run()  # warm-up: tracing, oneDNN primitive creation
    return 1e3 * statistics.median(run() for _ in range(repeats))


def timed(fn):
    def run():
        start = time.perf_counter()
        fn()
        return time.perf_counter() - start

    return run


def conv_rows(backbone, clips):
    """(name, input shape NTHWC, kernel shape, strides) of every Conv3D."""
    import keras

    return [
        (layer.name, (clips,) + tuple(layer.input.shape[1:]), tuple(layer.kernel.shape), tuple(layer.strides))
        for layer in backbone.layers
        if isinstance(layer, keras.layers.Conv3D)
    ]


def tf_conv(shape, kernel, strides, input_grad):
    import tensorflow as tf

    x, k = tf.Variable(tf.random.normal(shape)), tf.Variable(tf.random.normal(kernel))

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            y = tf.nn.conv3d(x, k, (1, *strides, 1), "SAME")
            loss = tf.reduce_sum(y * y)
        return tape.gradient(loss, [x, k] if input_grad else [k])

    return timed(lambda: [g.numpy() for g in step()])


def torch_conv(shape, kernel, strides, input_grad):
    import torch

    x = torch.randn(shape[0], shape[4], *shape[1:4], requires_grad=input_grad)
    k = torch.randn(kernel[4], kernel[3], *kernel[:3], requires_grad=True)
    padding = tuple(size // 2 for size in kernel[:3])

    def step():
        y = torch.nn.functional.conv3d(x, k, stride=strides, padding=padding)
        (y * y).sum().backward()

    return timed(step)


def keras_step_ms(args, weight_decay, momentum):
    """The Keras step exactly as ``benchmarks.step`` times it, with this L2 factor and momentum."""
    flags = ["--backbones", args.backbone, "--frames", str(args.frames), "--crop", str(args.crop)]
    flags += ["--batch-size", str(args.batch_size)]
    flags += ["--weight-decay", str(weight_decay), "--momentum", str(momentum), "--intra-op", "0", "--inter-op", "0"]
    worker = step.parse_args(flags)
    worker.backbone = args.backbone
    run, _, _ = step._keras_worker(worker, args.batch_size)
    return median_ms(lambda: run(1), args.repeats)


def main(argv=None):
    p = cli.ArgumentParser(prog="python -m benchmarks.step_breakdown", description=__doc__.split("\n\n")[0])
    p.add_argument("--backbone", default="r3d18", choices=("c3d", "r3d18", "r2plus1d10"))
    p.add_argument("--frames", type=int, default=16)
    p.add_argument("--crop", type=int, default=48)
    p.add_argument("--batch-size", type=int, default=2, help="videos per step (3 clips each)")
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--threads", type=int, default=2, help="intra-op threads of both frameworks")
    cli.add_verbose_flag(p)
    args = p.parse_args(argv)
    cli.start_tensorflow(args.verbose)

    import tensorflow as tf
    import torch

    import models

    try:
        tf.config.threading.set_inter_op_parallelism_threads(1)
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    except RuntimeError:  # TensorFlow already started in this process: its thread pools stay
        print("note: TensorFlow was already initialised; --threads applies to PyTorch only")
    torch.set_num_threads(args.threads)

    full, no_l2, plain = (keras_step_ms(args, *setting) for setting in ((5e-5, 0.9), (0, 0.9), (0, 0.0)))
    print(f"Keras step: L2 + momentum {full:.0f} ms; without L2 {no_l2:.0f} ms; plain SGD {plain:.0f} ms")
    print(f"  L2 costs {full - no_l2:.0f} ms, the momentum update {no_l2 - plain:.0f} ms")
    totals = [0.0, 0.0]
    backbone = models.build_backbone(args.backbone, input_shape=(args.frames, args.crop, args.crop, 3))
    for i, (name, shape, kernel, strides) in enumerate(conv_rows(backbone, 3 * args.batch_size)):
        ms = [median_ms(make(shape, kernel, strides, i > 0), args.repeats) for make in (tf_conv, torch_conv)]
        totals = [t + m for t, m in zip(totals, ms)]
        print(f"{name:36s} {str(shape[1:]):18s} k{kernel[:3]} s{strides}: TF {ms[0]:6.1f} ms, PyTorch {ms[1]:6.1f} ms")
    print(f"all convolutions: TF {totals[0]:.0f} ms, PyTorch {totals[1]:.0f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

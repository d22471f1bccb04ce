"""Seconds per training step of each backbone at the demo preset (train.py's
default on the synthetic data), on a fixed in-memory batch so that only the
step is timed: ``python -m benchmarks.demo_steps [--steps 5]``."""

import time

import numpy as np

import cli
import train


def main(argv=None):
    parser = cli.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=5, help="timed steps per backbone (after 1 warm-up step)")
    cli.add_verbose_flag(parser)
    args = parser.parse_args(argv)
    cli.start_tensorflow(args.verbose)
    import tensorflow as tf

    from hdc import distribute
    from hdc.pretrain import build_model

    distribute.configure_cpu_threads()
    for backbone in ("c3d", "r3d18", "r2plus1d10"):
        config, _ = train.config_from_args(["--backbone", backbone])
        model = build_model(config, total_steps=args.steps + 1)
        shape = (config.batch_size, 3, config.frames, config.crop, config.crop, 3)
        views = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
        data = tf.data.Dataset.from_tensors(views).repeat()
        model.fit(data, epochs=1, steps_per_epoch=1, verbose=0)
        start = time.perf_counter()
        model.fit(data, epochs=1, steps_per_epoch=args.steps, verbose=0)
        seconds = (time.perf_counter() - start) / args.steps
        print(f"{backbone}: {config.frames}x{config.crop}x{config.crop}, batch {config.batch_size}: {seconds:.2f} s/step")


if __name__ == "__main__":
    main()

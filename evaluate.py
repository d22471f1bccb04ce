"""Evaluate a video encoder with the protocols of HDC §4 (docs/evaluation.md).

    python evaluate.py retrieval --run runs/c3d            # VCOP nearest-neighbour retrieval
    python evaluate.py finetune  --run runs/c3d --split all
    python evaluate.py linear    --encoder runs/c3d/encoder.keras
    python evaluate.py extract   --run runs/c3d --videos my_videos/
    python evaluate.py retrieval --random-init --backbone r3d18 --frames 16 --crop 64

--data is "synthetic" (the built-in dataset) or a `python -m data.prepare`
output; the clip shape defaults to the run's config.json, else 16×112×112.
"""

import argparse
import dataclasses
import os
import sys

import cli

COMMANDS = ("retrieval", "finetune", "linear", "extract")


def positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, received {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, received {value}")
    return value


def non_negative_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, received {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative number, received {value}")
    return value


def common_flags():
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("encoder (give exactly one)")
    g.add_argument("--run", help="train.py output directory (config.json, encoder.keras, export/)")
    g.add_argument("--encoder", help="an encoder.keras file or a SavedModel export directory")
    g.add_argument("--random-init", action="store_true", help="a randomly initialised backbone (baseline)")
    g.add_argument("--backbone", choices=("c3d", "r3d18", "r2plus1d10"), help="backbone for --random-init")
    g.add_argument(
        "--width-multiplier", type=float, default=1.0, help="channel scale of the --random-init backbone (default 1)"
    )
    g = p.add_argument_group("data and clips")
    g.add_argument("--data", default="synthetic", help="'synthetic' (default) or a prepared-shards directory")
    g.add_argument("--split", default="1", help="official split 1, 2, 3 or 'all' (mean of the three)")
    g.add_argument("--frames", type=positive_int, help="clip length (default: run config, else 16)")
    g.add_argument(
        "--frame-stride", type=positive_int, default=1, metavar="N",
        help="clips take every N-th frame (default 1: consecutive); 4 = every 4th frame, "
        "the time-equivariant paper's transfer speed (§3.4: the 4x speed of pretraining)",
    )
    g.add_argument("--crop", type=positive_int, help="network input side (default: run config, else 112)")
    g.add_argument(
        "--sample-size", "--resize", type=positive_int, dest="sample_size",
        help="square the crops are taken from, frames stored at short side 128 (default: run config, else 128)",
    )
    g.add_argument("--batch-size", type=positive_int, default=32, help="clips per batch (default 32)")
    g.add_argument("--seed", type=int, default=0, help="seed of random init, data order and heads")
    g.add_argument("--out", help="output directory (default: RUN/eval with --run, else ./eval)")
    cli.add_verbose_flag(g)
    return p


def feature_flag(p):
    p.add_argument(
        "--feature", default="block5",
        help="block1..block5 (global-average-pooled) or vcop (block5 max-pooled 1x2x2, flattened); default block5",
    )


def parser():
    parent = common_flags()
    ap = cli.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True, metavar="{" + ",".join(COMMANDS) + "}")
    p = sub.add_parser("retrieval", parents=[parent], help="nearest-neighbour retrieval top-k (HDC Tables 4-5)")
    feature_flag(p)
    p.add_argument("--num-thumbnails", type=positive_int, default=6, help="queries shown in retrieval.png")
    p = sub.add_parser("finetune", parents=[parent], help="fine-tune for action recognition (HDC §4, Table 3)")
    p.add_argument("--epochs", type=positive_int, default=50, help="training epochs (default 50)")
    p.add_argument("--steps-per-epoch", type=positive_int, help="steps per epoch (default: one pass over the videos)")
    p.add_argument("--learning-rate", type=non_negative_float, default=0.01, help="SGD learning rate (0.01)")
    p.add_argument("--momentum", type=non_negative_float, default=0.9, help="SGD momentum (0.9)")
    p.add_argument("--decay", type=non_negative_float, default=1e-4, help="time decay per step (1e-4)")
    p.add_argument("--weight-decay", type=non_negative_float, default=5e-5, help="L2 factor on kernels (5e-5)")
    p.add_argument("--dropout", type=non_negative_float, default=0.5, help="dropout after pooling (0.5)")
    p.add_argument(
        "--test-mode", choices=("dense", "10x3"), default="dense",
        help="dense: all non-overlapping clips x 5 crops (paper); 10x3: 10 clips x 3 crops",
    )
    p = sub.add_parser("linear", parents=[parent], help="linear probe on frozen pooled features")
    feature_flag(p)
    p.add_argument("--probe-epochs", type=positive_int, default=200, help="epochs of the linear layer (200)")
    p.add_argument("--probe-learning-rate", type=non_negative_float, default=1e-3, help="Adam learning rate")
    p.add_argument(
        "--clips", choices=("retrieval", "dense", "10x3"), default="retrieval",
        help="clips averaged per video: retrieval (10 centre crops), dense or 10x3",
    )
    p = sub.add_parser("extract", parents=[parent], help="write per-video features (npz) for your own videos")
    feature_flag(p)
    p.add_argument("--videos", help="a folder of video files (recursive); else the shards of --data")
    p.add_argument("--extract-split", default="test", help="shard split to read without --videos (train/test/unsplit)")
    p.add_argument(
        "--clips", choices=("retrieval", "dense", "10x3"), default="retrieval",
        help="clips averaged per video: retrieval (10 centre crops), dense or 10x3",
    )
    return ap


def build_config(args):
    from hdc.evaluation.config import EvalConfig, clip_defaults
    from hdc.evaluation.encoders import EncoderSource

    source = EncoderSource(
        args.run, args.encoder, args.random_init, args.backbone, args.seed, args.width_multiplier
    ).validate()
    values = {k: v for k, v in vars(args).items() if v is not None}
    for k, v in clip_defaults(source).items():
        values.setdefault(k, v)
    values["out"] = args.out or (os.path.join(args.run, "eval") if args.run else "eval")
    fields = {f.name for f in dataclasses.fields(EvalConfig)}
    return EvalConfig(source=source, **{k: v for k, v in values.items() if k in fields}).validate()


def summary(command, result):
    """(one-line result, small markdown table)."""
    from hdc.evaluation.reports import markdown_table

    keys = [k for k in ("top1", "top5", "top10", "top20", "top50") if k in result]
    line = f"{command}: " + ", ".join(f"{k} {100 * result[k]:.1f}%" for k in keys)
    header = ["split"] + keys
    rows = [[name] + [r[k] for k in keys] for name, r in result.get("splits", {}).items()]
    rows.append(["mean" if rows else "result"] + [result[k] for k in keys])
    return line, markdown_table(header, rows)


def main(argv=None):
    args = parser().parse_args(argv)
    cli.start_tensorflow(args.verbose)
    try:
        config = build_config(args)
        if args.command == "retrieval":
            from hdc.evaluation.retrieval import run_retrieval as run
        elif args.command == "finetune":
            from hdc.evaluation.finetune import run_finetune as run
        elif args.command == "linear":
            from hdc.evaluation.linear_probe import run_linear as run
        else:
            from hdc.evaluation.extract import run_extract as run
        result = run(config)
    except ValueError as e:
        return cli.fail(e)
    if args.command == "extract":
        print(f"extract: {result['num_videos']} videos -> {result['path']} ({result['skipped']} skipped)")
        return 0
    line, table = summary(args.command, result)
    print(line)
    print(table)
    print(f"outputs in {config.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

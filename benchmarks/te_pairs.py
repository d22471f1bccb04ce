"""How often a time-equivariant partner pair keeps its exact relative transformation.

``data.temporal.place_pair`` reduces a transformation that does not fit a video; a reduced
partner pair leaves L_equi as an anchor (``equi_kept`` in training logs). This draws many pairs
(``relative_transform`` per pair, one video length per partner) and reports the kept fraction and
the order classes for video lengths: the built-in synthetic sets (40–80 frames, uniform) and
UCF101-like lengths (fixed, and a log-normal with UCF101's mean of about 7.2 s at 25 fps, 186
frames, and a spread that puts 5% of videos under 2.5 s; an approximation, not the dataset).

    python -m benchmarks.te_pairs --frames 16 --json te_pairs.json
"""

import argparse
import json

import numpy as np

import cli


def kept_fraction(lengths, frames, max_gap=None, seed=0):
    """(kept fraction, reduced fraction, order class frequencies) of len(lengths) // 2 partner pairs.

    Kept: both partners applied the same transformation; reduced: a clip's transformation is not
    the one drawn (partners of equal length are reduced alike and stay kept)."""
    import tensorflow as tf

    from data import temporal

    lengths = np.asarray(lengths, np.int32)[: len(lengths) // 2 * 2]

    def draw(index, num_frames):
        relative = temporal.relative_transform(tf.stack([seed, index // 2]), frames, max_gap=max_gap)
        _, _, labels = temporal.place_pair(tf.stack([seed + 1, index]), num_frames, frames, relative)
        ids = (temporal.transform_id(x, frames, max_gap=max_gap) for x in (labels, relative))
        return *ids, labels["order"]

    data = tf.data.Dataset.from_tensor_slices((np.arange(len(lengths), dtype=np.int64), lengths)).map(draw)
    ids, drawn, order = (np.asarray(x) for x in data.batch(len(lengths)).get_single_element())
    return float(np.mean(ids[0::2] == ids[1::2])), float(np.mean(ids != drawn)), np.bincount(order, minlength=3) / len(order)


def length_sets(rng, count):
    ucf = rng.lognormal(np.log(186) - 0.5 * 0.55**2, 0.55, count)  # mean 186 frames; sigma 0.55: 5% under ~62
    return {
        "synthetic (40-80 frames)": rng.integers(40, 81, count),
        "100 frames": np.full(count, 100),
        "180 frames (UCF101 mean)": np.full(count, 180),
        "300 frames": np.full(count, 300),
        "UCF101-like log-normal": np.maximum(np.round(ucf), 29).astype(int),
    }


def main(argv=None):
    p = cli.ArgumentParser(prog="python -m benchmarks.te_pairs", description=__doc__.split("\n\n")[0])
    p.add_argument("--frames", type=int, default=16, help="clip length T")
    p.add_argument("--max-gap", type=int, default=-1, help="largest gap between disjoint clips (-1: T)")
    p.add_argument("--pairs", type=int, default=20000, help="partner pairs per length set")
    p.add_argument("--json", help="write the results to this JSON file")
    cli.add_verbose_flag(p)
    args = p.parse_args(argv)
    if args.frames < 1 or args.pairs < 1 or args.max_gap < -1:
        p.error("--frames and --pairs must be >= 1 and --max-gap >= -1")
    cli.start_tensorflow(args.verbose)
    max_gap = None if args.max_gap < 0 else args.max_gap
    results = {}
    for name, lengths in length_sets(np.random.default_rng(0), 2 * args.pairs).items():
        kept, reduced, order = kept_fraction(lengths, args.frames, max_gap)
        results[name] = {"equi_kept": round(kept, 4), "reduced": round(reduced, 4),
                         "order_before_after_overlap": [round(x, 4) for x in order]}
        print(f"{name:28s} equi_kept {kept:.3f}  reduced {reduced:.3f}  order before/after/overlap "
              f"{np.round(order, 3).tolist()}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"frames": args.frames, "max_gap": max_gap, "pairs": args.pairs, "results": results}, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

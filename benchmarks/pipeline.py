"""Input-pipeline throughput: videos/s of each view recipe from prepared shards, and HDC's from mp4.

    python -m benchmarks.pipeline [--data DIR] [--recipes hdc,pair,te,long] [--frames 16] [--crop 112]

Each measurement runs in its own subprocess, one after another:
- ``tfrecord``, per recipe (``data.recipes``, with train.py's default settings from
  ``hdc.pretrain.view_recipes``; all of a recipe's views and labels):
  ``data.pipelines.pretrain_dataset`` (JPEG frames decoded in-graph, full augmentation
  family) with all cores, and pinned to one core with one TF thread. Shards store one
  JPEG per frame and only the sampled frames are decoded: "te" decodes at most 2T frames
  at any speed (a sequential mp4 decode would read the whole 8× span, up to
  2·((T − 1)·8 + 1) frames), "long" 2T, "pair" and "hdc" up to 2T;
- ``mp4`` (HDC's three views): the same videos decoded straight from their mp4 files with OpenCV
  (sequential decode up to the last needed frame, resize to short side 128) plus the
  same sampling in numpy/OpenCV (two windows, a random square, three crops with scale
  jitter and flip; no colour jitter, so this is an upper bound for that path), with one
  process per core, and with one process on one core.

``--data`` is a prepared root (``python -m data.prepare``) whose records' ``path``
fields name readable videos for the mp4 rows; by default the built-in synthetic
dataset is used. The report also gives, for uniformly drawn time-equivariant
transformations on these videos, how often ``data.temporal.place_pair`` had to reduce
one (a short video: the order falls back to overlap or a speed drops).
"""

import argparse
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import cli  # noqa: E402


def parse_args(argv=None):
    parser = cli.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=None, help="prepared dataset root; default: the synthetic 'small' dataset")
    parser.add_argument("--split", default="train", help="split whose shards are read (default: train)")
    parser.add_argument("--frames", type=int, default=16, help="clip length T (default 16)")
    parser.add_argument("--sample-size", type=int, default=128, help="side of the random square x_i (default 128)")
    parser.add_argument("--crop", type=int, default=112, help="side of each view (default 112)")
    parser.add_argument("--batch-size", type=int, default=8, help="videos per batch (default 8)")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured seconds per row, after warm-up (default 20)")
    parser.add_argument("--json", default=None, help="also write the results to this JSON file")
    parser.add_argument("--recipes", default="hdc,pair,te,long", help="view recipes to measure (default all four)")
    cli.add_verbose_flag(parser)
    parser.add_argument("--worker", choices=["tfrecord", "mp4"], help=argparse.SUPPRESS)
    parser.add_argument("--recipe", default="hdc", help=argparse.SUPPRESS)
    parser.add_argument("--one-core", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--process-index", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    for name in ("frames", "sample_size", "crop", "batch_size"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1, received {getattr(args, name)}")
    if args.crop > args.sample_size:
        parser.error(f"--crop ({args.crop}) must not exceed --sample-size ({args.sample_size})")
    if args.seconds <= 0:
        parser.error(f"--seconds must be > 0, received {args.seconds}")
    args.recipes = tuple(name.strip() for name in args.recipes.split(",") if name.strip())
    cli.start_tensorflow(args.verbose)  # the workers inherit the log level
    known = tuple(_default_recipes())
    unknown = set(args.recipes + (args.recipe,)) - set(known)
    if unknown or not args.recipes:
        parser.error(f"--recipes must name some of {known}, received {sorted(unknown) or args.recipes}")
    return args


def _default_recipes():
    """{name: recipe} with train.py's default settings (``hdc.pretrain.view_recipes``)."""
    from hdc.config import TrainConfig
    from hdc.pretrain import view_recipes

    return {recipe.name: recipe for recipe in view_recipes(TrainConfig())}


def _recipe(args):
    """The recipe ``args.recipe`` and the layout of every view and label it makes."""
    from data.recipes import full_layout

    recipe = _default_recipes()[args.recipe]
    return recipe, full_layout((recipe,), (args.frames, args.crop, args.crop, 3))


def _prepared_root(args):
    if args.data:
        if not os.path.isdir(args.data):
            raise SystemExit(f"--data {args.data}: no such folder")
        return args.data
    from data.synthetic import ensure_dataset

    return str(ensure_dataset("small"))


def _files(args):
    from data.records import shard_files

    return shard_files(_prepared_root(args), args.split)


def _video_paths(files):
    import tensorflow as tf

    from data.records import parse_example

    paths = [
        parse_example(r)["path"].numpy().decode()
        for r in tf.data.TFRecordDataset(files)
    ]
    missing = [p for p in paths if not os.path.exists(p)]
    if missing:
        raise SystemExit(f"{len(missing)} source videos are missing (e.g. {missing[0]}); the mp4 rows need them")
    return paths


def _frame_size(files):
    import tensorflow as tf

    from data.records import parse_example

    parsed = parse_example(next(iter(tf.data.TFRecordDataset(files[:1]))))
    return [int(parsed["height"]), int(parsed["width"])]


def _measure(next_batch, videos_per_batch, seconds):
    """Videos per wall-clock second and per CPU second of this process (all its threads)."""
    next_batch()  # warm-up: graph tracing, buffers filling
    count, start, cpu_start = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - start < seconds:
        next_batch()
        count += videos_per_batch
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    return {"videos_per_s": count / wall, "videos_per_cpu_s": count / cpu}


def _tfrecord_worker(args):
    import tensorflow as tf

    from data.pipelines import ClipSpec, pretrain_dataset

    if args.one_core:
        tf.config.threading.set_inter_op_parallelism_threads(1)
        tf.config.threading.set_intra_op_parallelism_threads(1)
    clip = ClipSpec(args.frames, args.sample_size, args.crop)
    recipe, layout = _recipe(args)
    dataset = pretrain_dataset(_files(args), args.batch_size, clip, layout=layout, recipes=(recipe,))
    if args.one_core:
        options = tf.data.Options()
        options.threading.private_threadpool_size = 1
        options.threading.max_intra_op_parallelism = 1
        dataset = dataset.with_options(options)
    iterator = iter(dataset)
    return _measure(lambda: next(iterator), args.batch_size, args.seconds)


def _mp4_sample(path, rng, args):
    """Decode the frames two random windows need and cut three views (numpy / OpenCV)."""
    import cv2
    import numpy as np

    capture = cv2.VideoCapture(path)
    length = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    starts = rng.integers(0, max(length - args.frames, 0) + 1, size=2)
    windows = [(s + np.arange(args.frames)) % max(length, 1) for s in starts]
    needed = set(np.concatenate(windows).tolist())
    decoded = {}
    for index in range(max(needed) + 1):
        if not capture.grab():
            break
        if index in needed:
            frame = capture.retrieve()[1][..., ::-1]
            scale = 128 / min(frame.shape[:2])
            decoded[index] = cv2.resize(frame, (round(frame.shape[1] * scale), round(frame.shape[0] * scale)))
    capture.release()
    height, width = next(iter(decoded.values())).shape[:2]
    size = min(args.sample_size, height, width)
    top, left = rng.integers(0, height - size + 1), rng.integers(0, width - size + 1)
    views = []
    for window in (windows[0], windows[0], windows[1]):
        box = max(1, int(size * np.sqrt(rng.uniform(0.3, 1.0))))
        y, x = rng.integers(0, size - box + 1, size=2)
        clip = [decoded.get(i, decoded[min(decoded)])[top + y : top + y + box, left + x : left + x + box] for i in window]
        clip = np.stack([cv2.resize(f, (args.crop, args.crop)) for f in clip])
        views.append(clip[:, :, ::-1] if rng.random() < 0.5 else clip)
    return np.stack(views)


def _mp4_worker(args):
    import cv2
    import numpy as np

    cv2.setNumThreads(1)
    paths = _video_paths(_files(args))
    rng = np.random.default_rng(args.process_index)
    return _measure(lambda: _mp4_sample(paths[rng.integers(len(paths))], rng, args), 1, args.seconds)


def _te_reductions(files, frames):
    """Fractions of uniformly drawn time-equivariant relative transformations (every speed
    pair and order, one example per video and transformation) that ``place_pair`` reduced
    on these videos: any change, the order falling back to overlap, a speed lowered."""
    import itertools

    import numpy as np
    import tensorflow as tf

    from data.records import parse_example
    from data.temporal import ORDER_OVERLAP, SPEEDS, place_pair

    lengths = [int(tf.shape(parse_example(r)["frames"])[0]) for r in tf.data.TFRecordDataset(files)]
    grid = [(n, *c) for n in lengths for c in itertools.product(range(len(SPEEDS)), range(len(SPEEDS)), range(3))]
    n, speed_p, speed_q, order = (np.asarray(column, np.int32) for column in zip(*grid))

    def applied(n, speed_p, speed_q, order):
        relative = {"speed_p": speed_p, "speed_q": speed_q, "direction_p": 0, "direction_q": 0, "order": order}
        return place_pair(tf.constant([0, 0], tf.int64), n, frames, relative)[2]

    data = tf.data.Dataset.from_tensor_slices((n, speed_p, speed_q, order)).map(applied).batch(len(grid))
    labels = {k: np.asarray(v) for k, v in data.get_single_element().items()}
    order_changed = labels["order"] != order
    speed_changed = (labels["speed_p"] != speed_p) | (labels["speed_q"] != speed_q)
    return {
        "frames": frames,
        "videos": len(lengths),
        "video_frames_min_max": [min(lengths), max(lengths)],
        "reduced": round(float((order_changed | speed_changed).mean()), 4),
        "order_to_overlap": round(float((order_changed & (labels["order"] == ORDER_OVERLAP)).mean()), 4),
        "speed_lowered": round(float(speed_changed.mean()), 4),
    }


def _spawn(args, worker, one_core, process_index=0, recipe="hdc"):
    command = [sys.executable, "-m", "benchmarks.pipeline", "--worker", worker, "--process-index", str(process_index)]
    command += ["--recipe", recipe]
    command += ["--split", args.split, "--frames", str(args.frames), "--sample-size", str(args.sample_size)]
    command += ["--crop", str(args.crop), "--batch-size", str(args.batch_size), "--seconds", str(args.seconds)]
    if args.data:
        command += ["--data", args.data]
    if one_core:
        command = ["taskset", "-c", "0"] + command + ["--one-core"]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return subprocess.Popen(command, cwd=root, stdout=subprocess.PIPE, text=True)


def _collect(processes):
    """Summed videos/s of the workers, and videos per CPU second (harmonic: total work / total CPU)."""
    rate, cores_busy = 0.0, 0.0
    for process in processes:
        out, _ = process.communicate()
        if process.returncode != 0:
            raise SystemExit(f"benchmark worker failed with exit status {process.returncode}")
        result = json.loads(out.strip().splitlines()[-1])
        rate += result["videos_per_s"]
        cores_busy += result["videos_per_s"] / result["videos_per_cpu_s"]
    return rate, rate / cores_busy


def main(argv=None):
    args = parse_args(argv)
    if args.worker:
        print(json.dumps((_tfrecord_worker if args.worker == "tfrecord" else _mp4_worker)(args)))
        return
    args.data = _prepared_root(args)  # build the default dataset once, before the workers start
    frame_size = _frame_size(_files(args))
    print(f"data {args.data}: frames stored at {frame_size[0]}x{frame_size[1]} (first record)", flush=True)
    reductions = _te_reductions(_files(args), args.frames)
    print(f"time-equivariant pairs reduced by place_pair on these videos: {reductions}", flush=True)
    cores = len(os.sched_getaffinity(0))
    rows = []  # run one after another, so that they do not compete for the cores
    for name in args.recipes:
        rows += [
            ("tfrecord", name, f"all {cores} cores", lambda name=name: [_spawn(args, "tfrecord", False, recipe=name)]),
            ("tfrecord", name, "1 core", lambda name=name: [_spawn(args, "tfrecord", True, recipe=name)]),
        ]
    rows += [
        ("mp4", "hdc", f"{cores} processes", lambda: [_spawn(args, "mp4", False, i) for i in range(cores)]),
        ("mp4", "hdc", "1 core", lambda: [_spawn(args, "mp4", True)]),
    ]
    results = []
    for source, recipe, setting, start in rows:
        rate, per_cpu = _collect(start())
        results.append({"source": source, "recipe": recipe, "cores": setting, "videos_per_s": round(rate, 1),
                        "videos_per_cpu_s": round(per_cpu, 1)})  # fmt: skip
        print(f"{source:9s} {recipe:5s} {setting:14s} {rate:8.1f} videos/s  {per_cpu:8.1f} per CPU-second", flush=True)
    report = {
        "frames": args.frames,
        "sample_size": args.sample_size,
        "crop": args.crop,
        "batch_size": args.batch_size,
        "seconds": args.seconds,
        "data": args.data,
        "stored_frame_size": frame_size,
        "te_reductions": reductions,
        "results": results,
    }
    if args.json:
        with open(args.json + ".tmp", "w") as f:
            json.dump(report, f, indent=2)
        os.replace(args.json + ".tmp", args.json)


if __name__ == "__main__":
    main()

"""Input-pipeline throughput: HDC three-view videos/s from prepared shards vs. from mp4.

    python -m benchmarks.pipeline [--data DIR] [--frames 16] [--crop 112] [--seconds 20]

Four measurements, each in its own subprocess:
- ``tfrecord``: ``data.pipelines.pretrain_dataset`` (JPEG frames decoded in-graph, full
  augmentation family) with all cores, and pinned to one core with one TF thread;
- ``mp4``: the same videos decoded straight from their mp4 files with OpenCV
  (sequential decode up to the last needed frame, resize to short side 128) plus the
  same sampling in numpy/OpenCV (two windows, a random square, three crops with scale
  jitter and flip; no colour jitter, so this is an upper bound for that path), with one
  process per core, and with one process on one core.

``--data`` is a prepared root (``python -m data.prepare``) whose records' ``path``
fields name readable videos for the mp4 rows; by default the built-in synthetic
dataset is used.
"""

import argparse
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=None, help="prepared dataset root; default: the synthetic 'small' dataset")
    parser.add_argument("--split", default="train", help="split whose shards are read (default: train)")
    parser.add_argument("--frames", type=int, default=16, help="clip length T (default 16)")
    parser.add_argument("--sample-size", type=int, default=128, help="side of the random square x_i (default 128)")
    parser.add_argument("--crop", type=int, default=112, help="side of each view (default 112)")
    parser.add_argument("--batch-size", type=int, default=8, help="videos per batch (default 8)")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured seconds per row, after warm-up (default 20)")
    parser.add_argument("--json", default=None, help="also write the results to this JSON file")
    parser.add_argument("--worker", choices=["tfrecord", "mp4"], help=argparse.SUPPRESS)
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
    return args


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
    dataset = pretrain_dataset(_files(args), args.batch_size, clip)
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


def _spawn(args, worker, one_core, process_index=0):
    command = [sys.executable, "-m", "benchmarks.pipeline", "--worker", worker, "--process-index", str(process_index)]
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
    cores = len(os.sched_getaffinity(0))
    rows = [  # run one after another, so that they do not compete for the cores
        ("tfrecord", f"all {cores} cores", lambda: [_spawn(args, "tfrecord", False)]),
        ("tfrecord", "1 core", lambda: [_spawn(args, "tfrecord", True)]),
        ("mp4", f"{cores} processes", lambda: [_spawn(args, "mp4", False, i) for i in range(cores)]),
        ("mp4", "1 core", lambda: [_spawn(args, "mp4", True)]),
    ]
    results = []
    for source, setting, start in rows:
        rate, per_cpu = _collect(start())
        results.append({"source": source, "cores": setting, "videos_per_s": round(rate, 1), "videos_per_cpu_s": round(per_cpu, 1)})
        print(f"{source:9s} {setting:14s} {rate:8.1f} three-view videos/s  {per_cpu:8.1f} per CPU-second", flush=True)
    report = {
        "frames": args.frames,
        "sample_size": args.sample_size,
        "crop": args.crop,
        "batch_size": args.batch_size,
        "seconds": args.seconds,
        "data": args.data,
        "stored_frame_size": frame_size,
        "results": results,
    }
    if args.json:
        with open(args.json + ".tmp", "w") as f:
            json.dump(report, f, indent=2)
        os.replace(args.json + ".tmp", args.json)


if __name__ == "__main__":
    main()

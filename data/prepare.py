"""``python -m data.prepare``: ingest a video dataset into TFRecord shards.

Each video is decoded with OpenCV (``data.video``), resized to short side 128
keeping the aspect ratio (HDC §3.3), JPEG-encoded and written as one record
(``data.records``) to ``OUT/<split>/shard-XXXXX-of-YYYYY.tfrecord``. Which
videos, splits and labels: ``data.layouts``.

Shards and resume. The videos of a split, sorted by video id, are dealt
round-robin into ceil(n / videos_per_shard) shards, so every shard holds a
mix of classes and the plan depends only on the listing. A shard is written
under ``<name>.tmp`` and renamed when complete, after its manifest part
(``OUT/manifest-parts/<split>-<shard name>.jsonl``). A re-run skips every
shard that is complete, so a killed job resumes where it stopped, and never
leaves a partial shard under a shard name. ``OUT/prepare.json`` records the
settings and a hash of the listing; a re-run with other settings or other
input refuses to mix its shards with the old ones.

Bad input never stops the job: files that do not decode are skipped with a
reason, a truncated file keeps the frames before the damage, short videos
are kept (the pipelines loop their frames), split-file lines naming absent
videos are reported.

Manifest. ``OUT/manifest.jsonl`` has one JSON object per input, each with
``path``, ``status`` and either ``reason`` or the record's details:
  - "ok": ``video_id``, ``split``, ``label``, ``label_name``, ``frames``,
    ``height``, ``width``, ``fps``, ``shard``;
  - "skipped": a file that did not decode, or is not a video file name;
  - "unused": a video the layout does not select (e.g. HMDB51 "0" lines);
  - "missing": a split-file line naming a video not found (``path`` is the
    name in the split file).
It is rewritten (temporary file, then rename) at the end of every run from
the listing and the manifest parts of all finished shards.

Several machines. ``--shard-index i --num-shards n`` makes a run write only
the shards whose number t (counting train, test, then unsplit shards) has
t % n == i. Every machine computes the same plan, so the pieces are
disjoint. The machines can share one OUT, or each write its own; then copy
the split folders and ``manifest-parts/`` of every OUT into one folder. A
last run of the same command without ``--shard-index``/``--num-shards``
finds every shard finished, decodes nothing, and writes the complete
manifest.
"""

import collections
import concurrent.futures
import dataclasses
import functools
import hashlib
import json
import math
import multiprocessing
import os
import sys

from tqdm import tqdm

import cli
from data.files import write_text
from data.layouts import LAYOUTS, list_videos
from data.records import SHARD_PATTERN, SPLITS, encode_jpegs, example_from_jpegs
from data.video import read_video


@dataclasses.dataclass(frozen=True)
class PrepareConfig:
    """Everything ``prepare`` needs; the CLI flags map one to one."""

    videos: str  # folder of input videos
    out: str  # output folder (created)
    layout: str = "folder"  # one of data.layouts.LAYOUTS
    splits_dir: str = None  # split files of ucf101 / hmdb51 (default: videos)
    split: int = 1  # official split 1, 2 or 3 (ucf101, hmdb51)
    kinetics_csv: tuple = ()  # Kinetics CSV files (kinetics)
    labeled: bool = True  # False: label -1 and no classes
    short_side: int = 128  # resize frames to this short side; None keeps the size
    jpeg_quality: int = 90  # JPEG quality of the stored frames, 1..100
    videos_per_shard: int = 100  # videos per TFRecord shard
    shard_index: int = 0  # this run writes shards t with t % num_shards == shard_index
    num_shards: int = 1  # number of pieces the shards are split into (machines)
    workers: int = 1  # decoding processes; 1 decodes in this process
    progress: bool = True  # show a progress bar

    def __post_init__(self):
        checks = [
            (self.layout in LAYOUTS, f"layout must be one of {LAYOUTS}, received {self.layout!r}"),
            (self.split in (1, 2, 3), f"split must be 1, 2 or 3, received {self.split!r}"),
            (self.short_side is None or self.short_side >= 1, f"short_side must be >= 1, received {self.short_side}"),
            (1 <= self.jpeg_quality <= 100, f"jpeg_quality must be in 1..100, received {self.jpeg_quality}"),
            (self.videos_per_shard >= 1, f"videos_per_shard must be >= 1, received {self.videos_per_shard}"),
            (
                self.num_shards >= 1 and 0 <= self.shard_index < self.num_shards,
                f"need 0 <= shard_index < num_shards, received {self.shard_index} and {self.num_shards}",
            ),
            (self.workers >= 1, f"workers must be >= 1, received {self.workers}"),
            (self.layout != "kinetics" or self.kinetics_csv, "the kinetics layout needs kinetics_csv"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)


@dataclasses.dataclass
class PrepareSummary:
    """Counts of one run (videos of the shards this run is responsible for)."""

    out: str
    ok: int = 0
    skipped: int = 0
    unused: int = 0
    missing: int = 0
    shards_written: int = 0
    shards_done_before: int = 0

    def __str__(self):
        return (
            f"{self.ok} ok, {self.skipped} skipped; {self.missing} split-file lines named missing videos; "
            f"{self.unused} videos not used by the layout; shards: {self.shards_written} written, "
            f"{self.shards_done_before} already finished; manifest: {os.path.join(self.out, 'manifest.jsonl')}"
        )


Shard = collections.namedtuple("Shard", "split name entries")


def plan_shards(entries, videos_per_shard):
    """All shards, in order (train, test, unsplit): entries dealt round-robin."""
    shards = []
    for split in SPLITS:
        group = sorted((e for e in entries if e.split == split), key=lambda e: e.video_id)
        count = math.ceil(len(group) / videos_per_shard)
        shards += [Shard(split, SHARD_PATTERN.format(index=i, count=count), group[i::count]) for i in range(count)]
    return shards


def ingest_video(entry, short_side, jpeg_quality):
    """Decode one video and JPEG-encode its frames: (JPEG list or None, manifest dict).

    Runs in the worker processes, which import OpenCV but not TensorFlow.
    """
    info = {"path": entry.path, "video_id": entry.video_id, "split": entry.split}
    info.update(label=entry.label, label_name=entry.label_name)
    try:
        frames, fps = read_video(entry.path, short_side)
        jpegs = encode_jpegs(frames, jpeg_quality, entry.path)
    except Exception as error:  # any failure of one file is that file's, not the job's
        return None, dict(info, status="skipped", reason=f"{type(error).__name__}: {error}")
    height, width = frames.shape[1:3]
    return jpegs, dict(info, status="ok", frames=len(frames), height=height, width=width, fps=fps)


def _ordered_map(fn, items, workers):
    """map(fn, items) in order, on ``workers`` processes with a bounded look-ahead."""
    if workers == 1:
        yield from map(fn, items)
        return
    pool = concurrent.futures.ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
    try:
        window = collections.deque()
        for item in items:
            window.append(pool.submit(fn, item))
            if len(window) >= 4 * workers:
                yield window.popleft().result()
        while window:
            yield window.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _jsonl(records):
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


def _read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _check_settings(config, listing):
    """Write OUT/prepare.json, or check that an earlier run used the same settings and input."""
    digest = hashlib.sha256()
    for e in listing.entries:
        digest.update(f"{e.split}\t{e.video_id}\t{e.label}\t{e.label_name}\n".encode())
    digest.update("\n".join(listing.classes).encode())
    settings = {
        "short_side": config.short_side,
        "jpeg_quality": config.jpeg_quality,
        "videos_per_shard": config.videos_per_shard,
        "listing_sha256": digest.hexdigest(),
    }
    path = os.path.join(config.out, "prepare.json")
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            before = json.load(f)
        changed = sorted(k for k in settings if before.get(k) != settings[k])
        if changed:
            raise ValueError(
                f"{config.out} holds shards of an earlier run with different {', '.join(changed)} "
                "(listing_sha256: the input videos, splits or labels changed); "
                "use a new --out, or delete the old one to start over"
            )
    else:
        write_text(path, json.dumps(settings, indent=1) + "\n")


def _part_path(out, shard):
    return os.path.join(out, "manifest-parts", f"{shard.split}-{shard.name[:-len('.tfrecord')]}.jsonl")


def _write_shard(out, shard, results, bar):
    """Consume one result per entry of ``shard``; write the shard and its manifest part."""
    import tensorflow as tf

    final = os.path.join(out, shard.split, shard.name)
    tmp = final + ".tmp"
    infos = []
    try:
        with tf.io.TFRecordWriter(tmp) as writer:
            for _ in shard.entries:
                jpegs, info = next(results)
                if jpegs is not None:
                    keys = ("height", "width", "label", "label_name", "video_id", "path", "fps")
                    writer.write(example_from_jpegs(jpegs, *(info[k] for k in keys)))
                    info["shard"] = f"{shard.split}/{shard.name}"
                infos.append(info)
                bar.update()
        write_text(_part_path(out, shard), _jsonl(infos))
        os.replace(tmp, final)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def prepare(config):
    """Ingest ``config.videos`` into shards under ``config.out``; returns a PrepareSummary.

    Raises ValueError when the input is missing or holds no video, when the
    split files are malformed, or when OUT holds an earlier run with other
    settings. Videos that fail to decode are counted, not raised.

    With ``workers > 1`` the videos are decoded in "spawn" worker processes
    (no TensorFlow in them), so a script that calls this must do so under
    ``if __name__ == "__main__":``.
    """
    listing = list_videos(
        config.layout, config.videos, config.splits_dir, config.split, tuple(config.kinetics_csv), config.labeled
    )
    if not listing.entries:
        kinds = collections.Counter(note.status for note in listing.notes)
        found = dict(kinds) or "no files"
        raise ValueError(f"no videos to ingest in {config.videos} (layout {config.layout}; found {found})")
    shards = plan_shards(listing.entries, config.videos_per_shard)
    if config.num_shards > len(shards):
        raise ValueError(
            f"num_shards {config.num_shards} is more than the {len(shards)} output shards; "
            "lower it, or lower videos_per_shard"
        )
    mine = shards[config.shard_index :: config.num_shards]
    for folder in {s.split for s in shards} | {"manifest-parts"}:
        os.makedirs(os.path.join(config.out, folder), exist_ok=True)
    _check_settings(config, listing)
    write_text(os.path.join(config.out, "classes.txt"), "".join(name + "\n" for name in listing.classes))

    def finished(shard):
        return os.path.exists(os.path.join(config.out, shard.split, shard.name)) and os.path.exists(
            _part_path(config.out, shard)
        )

    todo = [s for s in mine if not finished(s)]
    work = functools.partial(ingest_video, short_side=config.short_side, jpeg_quality=config.jpeg_quality)
    entries = [entry for shard in todo for entry in shard.entries]
    results = _ordered_map(work, entries, config.workers)
    try:
        with tqdm(total=len(entries), unit="video", disable=not config.progress) as bar:
            for shard in todo:
                _write_shard(config.out, shard, results, bar)
    finally:
        results.close()

    summary = PrepareSummary(config.out, shards_written=len(todo), shards_done_before=len(mine) - len(todo))
    records = [dataclasses.asdict(note) for note in listing.notes]
    mine_names = {(s.split, s.name) for s in mine}
    for shard in shards:
        if finished(shard):
            part = _read_jsonl(_part_path(config.out, shard))
            records += part
            if (shard.split, shard.name) in mine_names:
                summary.ok += sum(r["status"] == "ok" for r in part)
                summary.skipped += sum(r["status"] == "skipped" for r in part)
    write_text(os.path.join(config.out, "manifest.jsonl"), _jsonl(records))
    kinds = collections.Counter(note.status for note in listing.notes)
    summary.skipped += kinds["skipped"]
    summary.unused, summary.missing = kinds["unused"], kinds["missing"]
    return summary


def parse_args(argv=None):
    """The flags as a PrepareConfig; TensorFlow starts quietly unless --verbose."""
    p = cli.ArgumentParser(
        prog="python -m data.prepare",
        description="Ingest a video dataset into TFRecord shards (see data/prepare.py).",
    )
    add = p.add_argument
    add("--videos", required=True, help="folder of input videos (searched recursively)")
    add("--out", required=True, help="output folder for shards, classes.txt and manifest.jsonl")
    add("--layout", choices=LAYOUTS, default="folder", help="how splits and labels are given (default: %(default)s)")
    add("--splits-dir", help="folder of the ucf101/hmdb51 split files (default: --videos)")
    add("--split", type=int, choices=(1, 2, 3), default=1, help="official split (ucf101, hmdb51; default: %(default)s)")
    add("--kinetics-csv", action="append", default=[], help="a Kinetics CSV file; repeat for several")
    add("--unlabeled", action="store_true", help="store label -1 and no classes (pretraining data)")
    add("--short-side", type=int, default=128, help="frames resized to this short side, 0 keeps (default: %(default)s)")
    add("--jpeg-quality", type=int, default=90, help="JPEG quality of the stored frames, 1-100 (default: %(default)s)")
    add("--videos-per-shard", type=int, default=100, help="videos per TFRecord shard (default: %(default)s)")
    add("--shard-index", type=int, default=0, help="this machine's piece, 0..num-shards-1 (default: %(default)s)")
    add("--num-shards", type=int, default=1, help="number of machines sharing the job (default: %(default)s)")
    add("--workers", type=int, default=os.cpu_count() or 1, help="decoding processes (default: all cores, %(default)s)")
    add("--no-progress", action="store_true", help="hide the progress bar")
    cli.add_verbose_flag(p)
    args = p.parse_args(argv)
    if args.short_side < 0:
        p.error(f"--short-side must be >= 0, received {args.short_side}")
    config = PrepareConfig(
        videos=args.videos,
        out=args.out,
        layout=args.layout,
        splits_dir=args.splits_dir,
        split=args.split,
        kinetics_csv=tuple(args.kinetics_csv),
        labeled=not args.unlabeled,
        short_side=args.short_side or None,
        jpeg_quality=args.jpeg_quality,
        videos_per_shard=args.videos_per_shard,
        shard_index=args.shard_index,
        num_shards=args.num_shards,
        workers=args.workers,
        progress=not args.no_progress,
    )
    cli.start_tensorflow(args.verbose)
    return config


def main(argv=None):
    """The CLI; returns the exit status (0 ok, 1 nothing decoded, 2 bad input or settings)."""
    try:
        summary = prepare(parse_args(argv))
    except ValueError as error:
        return cli.fail(error)
    print(summary)
    if summary.ok == 0:
        print("error: no video could be decoded; the manifest says why for each file", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

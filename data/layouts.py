"""Dataset layouts: which video files to ingest, with their split and label.

Four layouts are understood (``LAYOUTS``):

- ``folder``: every file under VIDEOS, recursively. With labels, the first
  sub-folder is the class (``VIDEOS/<class>/.../x.mp4``). If VIDEOS has a
  ``train/`` or ``test/`` folder, those are the splits
  (``VIDEOS/train/<class>/x.mp4``); otherwise every video is ``unsplit``.
- ``ucf101``: the official ``classInd.txt`` ("1 ApplyEyeMakeup"),
  ``trainlist0N.txt`` ("ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1") and
  ``testlist0N.txt`` (same names, no label) of split N, as used by HDC §4.
- ``hmdb51``: the official ``<class>_test_splitN.txt`` files, one line
  "<video>.avi K" per video, K = 1 train, 2 test, 0 not used by split N.
- ``kinetics``: the Kinetics-400 CSV files (label, youtube_id, time_start,
  time_end, split), videos named ``<youtube_id>_<start:06d>_<end:06d>.<ext>``
  or ``<youtube_id>.<ext>``, flat or in label folders. Split "train" is
  train; "val"/"validate"/"test" are test.

Videos named by a split file are looked up by their path relative to VIDEOS,
then by file name anywhere under VIDEOS (so flat and per-class folders both
work), then by file name ignoring case (UCF101's "HandStandPushups" vs
"HandstandPushups"). Class indices come from the split files, never from
what is on disk, so a partial download keeps the official label numbers.
Hidden files and folders (names starting with ".") are ignored.
"""

import collections
import csv
import dataclasses
import glob
import os

LAYOUTS = ("folder", "ucf101", "hmdb51", "kinetics")
VIDEO_SUFFIXES = (".avi", ".mp4", ".mkv", ".webm", ".mov", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv", ".3gp", ".ogv")
KINETICS_SPLITS = {"train": "train", "val": "test", "validate": "test", "test": "test"}


@dataclasses.dataclass(frozen=True)
class VideoEntry:
    """One video to ingest."""

    path: str  # the file, as found under VIDEOS
    video_id: str  # path relative to VIDEOS with "/" separators, without suffix unless two files share it
    split: str = "unsplit"  # "train", "test" or "unsplit"
    label: int = -1  # class index, -1 when unlabeled
    label_name: str = ""


@dataclasses.dataclass(frozen=True)
class Note:
    """A file that is not ingested, or a split-file line naming no file."""

    path: str  # the file, or the name given by the split file
    status: str  # "skipped" (not a video file name), "unused" (not selected) or "missing"
    reason: str


@dataclasses.dataclass
class Listing:
    """What a layout found: videos to ingest, class names, and notes."""

    entries: list  # VideoEntry, sorted by (split, video_id)
    classes: list  # class names, line i = label i
    notes: list  # Note, for the manifest


def _lines(path):
    """(line number, whitespace-split fields) of the non-empty lines of a text file."""
    if not os.path.isfile(path):
        raise ValueError(f"split file {path} does not exist")
    with open(path, encoding="utf-8-sig") as f:
        return [(n, line.split()) for n, line in enumerate(f, 1) if line.strip()]


class _Disk:
    """Index of the files under VIDEOS."""

    def __init__(self, videos_dir):
        self.root = videos_dir
        self.files = []  # relative paths with "/" separators, sorted
        for folder, dirs, names in os.walk(videos_dir, followlinks=True):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            rel = os.path.relpath(folder, videos_dir)
            for name in sorted(names):
                if not name.startswith("."):
                    self.files.append(name if rel == "." else f"{rel}/{name}".replace(os.sep, "/"))
        self.videos = [f for f in self.files if f.lower().endswith(VIDEO_SUFFIXES)]
        self.video_set = set(self.videos)
        self._by_name = collections.defaultdict(list)
        self._by_lower = collections.defaultdict(list)
        self._by_stem = collections.defaultdict(list)
        for rel in self.videos:
            name = rel.rsplit("/", 1)[-1]
            self._by_name[name].append(rel)
            self._by_lower[name.lower()].append(rel)
            self._by_stem[os.path.splitext(name)[0]].append(rel)

    def path(self, rel):
        return os.path.join(self.root, *rel.split("/"))

    def find(self, name):
        """Relative path of the video a split file calls ``name`` (see the module docstring), or None."""
        name = name.replace("\\", "/").strip("/")
        if name in self.video_set:
            return name
        base = name.rsplit("/", 1)[-1]
        for index, key in ((self._by_name, base), (self._by_lower, base.lower())):
            if index.get(key):
                return index[key][0]
        return None

    def find_stem(self, *stems):
        """Relative path of a video whose file name without suffix is one of ``stems``."""
        for stem in stems:
            if self._by_stem.get(stem):
                return self._by_stem[stem][0]
        return None


def _listing(disk, selected, classes, missing, unused_reasons, default_unused):
    """Assemble a Listing from selected {rel: (split, label)} and the rest of the disk."""
    stems = collections.Counter(os.path.splitext(rel)[0] for rel in selected)
    entries = []
    for rel, (split, label) in selected.items():
        stem = os.path.splitext(rel)[0]
        video_id = stem if stems[stem] == 1 else rel  # "a/x.avi" and "a/x.mp4" keep their suffixes
        entries.append(VideoEntry(disk.path(rel), video_id, split, label, classes[label] if label >= 0 else ""))
    entries.sort(key=lambda e: (e.split, e.video_id))
    notes = [Note(disk.path(f), "skipped", "not a video file name") for f in disk.files if f not in disk.video_set]
    notes += [
        Note(disk.path(rel), "unused", unused_reasons.get(rel, default_unused))
        for rel in disk.videos
        if rel not in selected
    ]
    notes += [Note(name, "missing", f"named in {where} but not found under {disk.root}") for name, where in missing]
    return Listing(entries, list(classes), notes)


def folder_listing(videos_dir, labeled=True):
    """The ``folder`` layout (see the module docstring)."""
    disk = _Disk(videos_dir)
    has_splits = bool({rel.split("/", 1)[0] for rel in disk.files if "/" in rel} & {"train", "test"})
    depth = int(has_splits) + int(labeled)  # folders above the file: [split/][class/]
    selected, unused = {}, {}
    for rel in disk.videos:
        parts = rel.split("/")
        if has_splits and parts[0] not in ("train", "test"):
            unused[rel] = "outside the train/ and test/ folders"
        elif len(parts) <= depth:
            unused[rel] = "not inside a class folder"
        else:
            selected[rel] = (parts[0] if has_splits else "unsplit", parts[depth - 1] if labeled else "")
    if labeled and disk.videos and all("/" not in rel for rel in disk.videos):
        raise ValueError(
            f"{videos_dir} holds videos but no class folders: put each class in its own "
            "sub-folder, or ingest without labels (--unlabeled)"
        )
    classes = sorted({name for _, name in selected.values()}) if labeled else []
    index = {name: i for i, name in enumerate(classes)}
    selected = {rel: (split, index.get(name, -1)) for rel, (split, name) in selected.items()}
    return _listing(disk, selected, classes, [], unused, "")


def ucf101_listing(videos_dir, splits_dir, split=1):
    """The ``ucf101`` layout for official split ``split`` (1, 2 or 3)."""
    disk = _Disk(videos_dir)
    class_file = os.path.join(splits_dir, "classInd.txt")
    numbered = {}
    for n, fields in _lines(class_file):
        if len(fields) != 2 or not fields[0].isdigit():
            raise ValueError(f"{class_file}:{n}: expected '<index> <class>', received {' '.join(fields)!r}")
        numbered[int(fields[0])] = fields[1]
    if sorted(numbered) != list(range(1, len(numbered) + 1)):
        raise ValueError(f"{class_file}: class indices must run 1..N, received {sorted(numbered)}")
    classes = [numbered[i] for i in range(1, len(numbered) + 1)]
    by_folder = {name.lower(): i for i, name in enumerate(classes)}
    selected, missing = {}, []
    for split_name, list_name in (("train", "trainlist"), ("test", "testlist")):
        list_file = os.path.join(splits_dir, f"{list_name}{split:02d}.txt")
        for n, fields in _lines(list_file):
            where = f"{list_file}:{n}"
            if len(fields) == 2 and fields[1].isdigit() and 1 <= int(fields[1]) <= len(classes):
                label = int(fields[1]) - 1
            elif len(fields) == 1 and "/" in fields[0] and fields[0].split("/")[0].lower() in by_folder:
                label = by_folder[fields[0].split("/")[0].lower()]
            else:
                raise ValueError(f"{where}: expected '<class>/<video> [<class index>]', received {' '.join(fields)!r}")
            rel = disk.find(fields[0])
            if rel is None:
                missing.append((fields[0], where))
            else:
                selected.setdefault(rel, (split_name, label))
    return _listing(disk, selected, classes, missing, {}, f"not in trainlist{split:02d} or testlist{split:02d}")


def hmdb51_listing(videos_dir, splits_dir, split=1):
    """The ``hmdb51`` layout for official split ``split`` (1, 2 or 3)."""
    disk = _Disk(videos_dir)
    suffix = f"_test_split{split}.txt"
    files = sorted(glob.glob(os.path.join(glob.escape(splits_dir), "*" + suffix)))
    if not files:
        raise ValueError(f"{splits_dir} has no HMDB51 split files '*{suffix}'")
    classes = [os.path.basename(f)[: -len(suffix)] for f in files]
    selected, missing, unused = {}, [], {}
    for label, list_file in enumerate(files):
        for n, fields in _lines(list_file):
            where = f"{list_file}:{n}"
            if len(fields) != 2 or fields[1] not in ("0", "1", "2"):
                raise ValueError(f"{where}: expected '<video> <0|1|2>', received {' '.join(fields)!r}")
            rel = disk.find(f"{classes[label]}/{fields[0]}")
            if fields[1] == "0":
                if rel is not None:
                    unused[rel] = f"marked 0 (not used by split {split}) in {where}"
            elif rel is None:
                missing.append((fields[0], where))
            else:
                selected.setdefault(rel, ("train" if fields[1] == "1" else "test", label))
    return _listing(disk, selected, classes, missing, unused, f"not in the split {split} files")


def kinetics_listing(videos_dir, csv_files):
    """The ``kinetics`` layout from one or more Kinetics CSV files."""
    if not csv_files:
        raise ValueError("the kinetics layout needs at least one CSV file (--kinetics-csv)")
    disk = _Disk(videos_dir)
    rows = []
    for csv_file in csv_files:
        if not os.path.isfile(csv_file):
            raise ValueError(f"Kinetics CSV {csv_file} does not exist")
        with open(csv_file, encoding="utf-8-sig", newline="") as f:
            reader = csv.DictReader(f)
            absent = {"youtube_id", "time_start", "time_end", "split"} - set(reader.fieldnames or ())
            if absent:
                raise ValueError(f"{csv_file}: missing columns {sorted(absent)}; header is {reader.fieldnames}")
            for n, row in enumerate(reader, 2):
                where = f"{csv_file}:{n}"
                if row["split"] not in KINETICS_SPLITS:
                    raise ValueError(
                        f"{where}: split must be one of {sorted(KINETICS_SPLITS)}, received {row['split']!r}"
                    )
                try:
                    start, end = int(float(row["time_start"])), int(float(row["time_end"]))
                except ValueError:
                    raise ValueError(f"{where}: time_start/time_end must be numbers, received {row}") from None
                split = KINETICS_SPLITS[row["split"]]
                rows.append((row.get("label") or "", row["youtube_id"], start, end, split, where))
    classes = sorted({row[0] for row in rows if row[0]})
    index = {name: i for i, name in enumerate(classes)}
    selected, missing = {}, []
    for label, youtube_id, start, end, split, where in rows:
        stem = f"{youtube_id}_{start:06d}_{end:06d}"
        rel = disk.find_stem(stem, youtube_id)
        if rel is None:
            missing.append((stem, where))
        else:
            selected.setdefault(rel, (split, index.get(label, -1)))
    return _listing(disk, selected, classes, missing, {}, "not in the Kinetics CSV files")


def list_videos(layout, videos_dir, splits_dir=None, split=1, kinetics_csv=(), labeled=True):
    """The Listing of ``videos_dir`` in ``layout`` (one of ``LAYOUTS``).

    ``splits_dir`` holds the split files of ucf101 and hmdb51 (default:
    ``videos_dir``); ``split`` picks official split 1, 2 or 3;
    ``kinetics_csv`` lists the Kinetics CSV files. With ``labeled=False``
    every entry gets label -1 and there are no classes; splits are kept
    (a folder without train/ and test/ is one ``unsplit`` set).
    """
    if not os.path.isdir(videos_dir):
        raise ValueError(f"videos folder {videos_dir} does not exist")
    if split not in (1, 2, 3):
        raise ValueError(f"split must be 1, 2 or 3, received {split!r}")
    splits_dir = splits_dir or videos_dir
    if layout == "folder":
        listing = folder_listing(videos_dir, labeled)
    elif layout == "ucf101":
        listing = ucf101_listing(videos_dir, splits_dir, split)
    elif layout == "hmdb51":
        listing = hmdb51_listing(videos_dir, splits_dir, split)
    elif layout == "kinetics":
        listing = kinetics_listing(videos_dir, kinetics_csv)
    else:
        raise ValueError(f"layout must be one of {LAYOUTS}, received {layout!r}")
    if not labeled:
        listing.entries = [dataclasses.replace(e, label=-1, label_name="") for e in listing.entries]
        listing.classes = []
    return listing

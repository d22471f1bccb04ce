"""data.prepare on a small corpus of good and broken files: manifest, shards, resume, pieces, CLI."""

import glob
import json
import os
import shutil

import numpy as np
import pytest
import tensorflow as tf
from video_corpus import frame_indices, grab_count, indexed_frames

import data.prepare
from data.prepare import PrepareConfig, main, prepare
from data.records import parse_example, read_classes
from data.video import write_video

# Expected outcome per file name: frames written (ok) or a piece of the skip reason.
OK = {"good.mp4": 10, "ñandú.mp4": 6, "short.mp4": 5, "gray.mp4": 8}
SKIPPED = {"zero.mp4": "empty", "text.mp4": "cannot open", "trunc.mp4": "cannot open", "notes.txt": "not a video"}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    (root / "a").mkdir()
    (root / "b").mkdir()
    write_video(str(root / "a" / "good.mp4"), indexed_frames(10, 24, 32))
    write_video(str(root / "a" / "ñandú.mp4"), indexed_frames(6, 24, 32))
    write_video(str(root / "a" / "short.mp4"), indexed_frames(5, 24, 32))
    write_video(str(root / "b" / "gray.mp4"), indexed_frames(8, 24, 32)[..., 0])
    write_video(str(root / "b" / "whole.avi"), indexed_frames(20, 24, 32))
    whole = (root / "b" / "whole.avi").read_bytes()
    (root / "b" / "whole.avi").unlink()
    (root / "b" / "trunc.avi").write_bytes(whole[: len(whole) // 2])
    (root / "b" / "trunc.mp4").write_bytes((root / "a" / "good.mp4").read_bytes()[:600])
    (root / "b" / "zero.mp4").write_bytes(b"")
    (root / "b" / "text.mp4").write_text("not a video\n" * 50)
    (root / "b" / "notes.txt").write_text("a note")
    return str(root)


def config(videos, out, **kwargs):
    return PrepareConfig(videos=videos, out=str(out), short_side=16, videos_per_shard=2, progress=False, **kwargs)


def shard_paths(out):
    return sorted(glob.glob(os.path.join(out, "*", "*.tfrecord")))


def read_records(out):
    records = {}
    for path in shard_paths(out):
        for raw in tf.data.TFRecordDataset(path):
            example = parse_example(raw)
            frames = np.stack([tf.io.decode_jpeg(j).numpy() for j in example["frames"]])
            records[example["video_id"].numpy().decode()] = (example, frames)
    return records


def manifest(out):
    with open(os.path.join(out, "manifest.jsonl"), encoding="utf-8") as f:
        return {os.path.basename(r["path"]): r for r in map(json.loads, f)}


def leftovers(out):
    return [p for p in glob.glob(os.path.join(out, "**", "*"), recursive=True) if ".tmp" in os.path.basename(p)]


def test_manifest_records_and_resume(corpus, tmp_path):
    out = str(tmp_path / "out")
    summary = prepare(config(corpus, out))
    truncated = grab_count(os.path.join(corpus, "b", "trunc.avi"))
    assert 0 < truncated < 20
    expected_ok = dict(OK, **{"trunc.avi": truncated})
    assert (summary.ok, summary.skipped, summary.shards_written) == (5, 4, 4)  # 8 videos, 2 per shard

    rows = manifest(out)
    assert {name for name, r in rows.items() if r["status"] == "ok"} == set(expected_ok)
    for name, frames in expected_ok.items():
        assert rows[name]["frames"] == frames
        assert (rows[name]["height"], rows[name]["width"]) == (16, 21)  # 24x32 -> short side 16
    for name, reason in SKIPPED.items():
        assert rows[name]["status"] == "skipped" and reason in rows[name]["reason"]
    assert read_classes(out) == ["a", "b"]
    assert leftovers(out) == []

    records = read_records(out)
    assert len(records) == 5
    for video_id, (example, frames) in records.items():
        name = os.path.basename(example["path"].numpy().decode())
        assert int(example["num_frames"]) == len(frames) == expected_ok[name]
        assert frames.shape[1:] == (16, 21, 3)
        assert example["label_name"].numpy().decode() == video_id.split("/")[0]
        assert int(example["label"]) == ["a", "b"].index(video_id.split("/")[0])
        assert frame_indices(frames) == list(range(len(frames)))

    # A re-run finds every shard finished and rewrites none.
    before = {p: (os.stat(p).st_mtime_ns, open(p, "rb").read()) for p in shard_paths(out)}
    again = prepare(config(corpus, out))
    assert (again.ok, again.shards_written, again.shards_done_before) == (5, 0, 4)
    assert {p: os.stat(p).st_mtime_ns for p in shard_paths(out)} == {p: t for p, (t, _) in before.items()}
    # A lost shard is rebuilt, identical, and the others are left alone.
    lost = shard_paths(out)[2]
    os.remove(lost)
    assert prepare(config(corpus, out)).shards_written == 1
    assert {p: open(p, "rb").read() for p in shard_paths(out)} == {p: b for p, (_, b) in before.items()}
    assert all(os.stat(p).st_mtime_ns == before[p][0] for p in shard_paths(out) if p != lost)
    with pytest.raises(ValueError, match="short_side"):
        prepare(PrepareConfig(videos=corpus, out=out, short_side=20, videos_per_shard=2, progress=False))


def test_pieces_partition_the_shards_and_merge(corpus, tmp_path):
    full = str(tmp_path / "full")
    prepare(config(corpus, full))
    names = {os.path.relpath(p, full) for p in shard_paths(full)}
    pieces = [str(tmp_path / f"piece{i}") for i in range(2)]
    for i, out in enumerate(pieces):
        prepare(config(corpus, out, shard_index=i, num_shards=2))
    got = [{os.path.relpath(p, out) for p in shard_paths(out)} for out in pieces]
    assert got[0] and got[1] and not got[0] & got[1] and got[0] | got[1] == names
    ids = [set(read_records(out)) for out in pieces]
    assert not ids[0] & ids[1] and ids[0] | ids[1] == set(read_records(full))
    # Merge: copy piece 1 into piece 0, run once more without the piece flags.
    shutil.copytree(pieces[1], pieces[0], dirs_exist_ok=True)
    merged = prepare(config(corpus, pieces[0]))
    assert (merged.shards_written, merged.ok) == (0, 5)
    assert manifest(pieces[0]) == manifest(full)
    with pytest.raises(ValueError, match="num_shards"):
        prepare(config(corpus, str(tmp_path / "x"), shard_index=0, num_shards=9))


def test_interrupted_run_leaves_only_whole_shards(corpus, tmp_path, monkeypatch):
    out = str(tmp_path / "out")
    calls = []
    real = data.prepare.ingest_video

    def dies_on_the_fifth(*args, **kwargs):
        calls.append(1)
        if len(calls) == 5:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(data.prepare, "ingest_video", dies_on_the_fifth)
    with pytest.raises(KeyboardInterrupt):
        prepare(config(corpus, out))
    assert leftovers(out) == []
    assert len(shard_paths(out)) == 2  # shards of videos 1-2 and 3-4 were finished
    monkeypatch.setattr(data.prepare, "ingest_video", real)
    resumed = prepare(config(corpus, out))
    assert (resumed.shards_done_before, resumed.shards_written, resumed.ok) == (2, 2, 5)


def test_worker_processes_write_the_same_shards(corpus, tmp_path):
    one, two = str(tmp_path / "one"), str(tmp_path / "two")
    prepare(config(corpus, one))
    prepare(config(corpus, two, workers=2))
    read = lambda out: {os.path.relpath(p, out): open(p, "rb").read() for p in shard_paths(out)}  # noqa: E731
    assert read(one) == read(two)


def test_cli_exit_status_and_messages(corpus, tmp_path, capsys):
    args = ["--short-side", "16", "--videos-per-shard", "4", "--workers", "1", "--no-progress"]
    assert main(["--videos", corpus, "--out", str(tmp_path / "ok"), *args]) == 0
    assert "5 ok, 4 skipped" in capsys.readouterr().out

    assert main(["--videos", str(tmp_path / "absent"), "--out", str(tmp_path / "o1"), *args]) == 2
    assert "absent does not exist" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["--videos", str(tmp_path / "empty"), "--out", str(tmp_path / "o2"), *args]) == 2
    assert "no videos to ingest" in capsys.readouterr().err
    bad = tmp_path / "bad" / "c"
    bad.mkdir(parents=True)
    shutil.copy(os.path.join(corpus, "b", "text.mp4"), bad)
    shutil.copy(os.path.join(corpus, "b", "zero.mp4"), bad)
    assert main(["--videos", str(tmp_path / "bad"), "--out", str(tmp_path / "o3"), *args]) == 1
    assert "0 ok, 2 skipped" in capsys.readouterr().out
    assert main(["--videos", corpus, "--out", str(tmp_path / "o4"), "--jpeg-quality", "0", *args]) == 2
    assert "jpeg_quality" in capsys.readouterr().err

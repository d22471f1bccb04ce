"""The training streams' order (data.pipelines): batches mix classes like random draws
on class-sorted layouts, never hold a video twice (also across data-epochs), resume
exactly, and split exactly across input pipelines."""

import collections
import math

import numpy as np
import pytest
import tensorflow as tf

from data import pipelines as pl
from data.prepare import plan_shards

Entry = collections.namedtuple("Entry", "split video_id label")


def fake_layout(tmp_path, per_class, videos_per_shard):
    """Shards planned by data.prepare from a class-sorted listing (ids "class/video", as the
    ucf101/hmdb51/kinetics/folder layouts give); each record holds its label as text."""
    entries = [
        Entry("train", f"c{label:03d}/v{video:03d}", label)
        for label, count in enumerate(per_class)
        for video in range(count)
    ]
    files = []
    for shard in plan_shards(entries, videos_per_shard):
        path = str(tmp_path / shard.name)
        with tf.io.TFRecordWriter(path) as writer:
            for entry in shard.entries:
                writer.write(f"{entry.label} {entry.video_id}".encode())
        files.append(path)
    return files


def stream_batches(files, batch_size, steps, seed=0, start_step=0, input_context=None):
    """(labels, video ids) of each batch of the record stream the training pipelines decode."""
    stream = pl._record_stream(files, batch_size, seed, start_step * batch_size, True, input_context)
    size = batch_size // (input_context.num_input_pipelines if input_context else 1)
    records = [r.decode().split() for r, *_ in stream.take(steps * size).as_numpy_iterator()]
    return [records[i : i + size] for i in range(0, len(records), size)]


def expected_distinct(per_class, batch_size):
    """E[distinct classes] of batch_size draws without replacement: Σ_c 1 − C(N − n_c, B) / C(N, B)."""
    total = sum(per_class)

    def log_choose(a, b):
        return math.lgamma(a + 1) - math.lgamma(b + 1) - math.lgamma(a - b + 1)

    return sum(1 - math.exp(log_choose(total - n, batch_size) - log_choose(total, batch_size)) for n in per_class)


UCF_LIKE = [95 + (c * 7) % 11 - 5 for c in range(101)]  # 101 classes of 90-100 videos (UCF101 split 1: 9537)


@pytest.mark.parametrize(
    "per_class, videos_per_shard, batch_size",
    [
        ([40] * 16, 40, 16),  # the large synthetic set, quality benchmark batch
        (UCF_LIKE, 100, 128),  # UCF101-sized, HDC's pretraining batch
        (UCF_LIKE, 100, 32),  # UCF101-sized, HDC's fine-tuning batch
    ],
)
def test_batches_mix_classes_like_random_draws(tmp_path, per_class, videos_per_shard, batch_size):
    files = fake_layout(tmp_path, per_class, videos_per_shard)
    steps_per_epoch = sum(per_class) // batch_size
    steps = 2 * steps_per_epoch + 3  # across two data-epoch boundaries
    batches = stream_batches(files, batch_size, steps, seed=3)
    distinct = [len({label for label, _ in batch}) for batch in batches]
    expected = expected_distinct(per_class, batch_size)
    assert abs(np.mean(distinct) / expected - 1) < 0.05, (np.mean(distinct), expected)
    for batch in batches:
        assert len({video for _, video in batch}) == batch_size  # no video twice in a batch
    for epoch in range(2):  # an epoch is distinct videos, a different random subset each time
        ids = [v for b in batches[epoch * steps_per_epoch : (epoch + 1) * steps_per_epoch] for _, v in b]
        assert len(set(ids)) == len(ids) == steps_per_epoch * batch_size


def test_no_video_twice_in_a_batch_across_epochs_and_every_video_used(tmp_path):
    files = fake_layout(tmp_path, [3, 4], videos_per_shard=2)  # 7 videos, batch 3: one left out per epoch
    batches = stream_batches(files, 3, 40, seed=1)  # 20 data-epochs of 2 steps
    assert all(len({v for _, v in batch}) == 3 for batch in batches)
    epochs = [{v for b in batches[e : e + 2] for _, v in b} for e in range(0, 40, 2)]
    assert all(len(videos) == 6 for videos in epochs)
    assert len(set.union(*epochs)) == 7 and len({frozenset(e) for e in epochs}) > 1  # each leaves out another


def test_resume_and_input_pipelines_rebuild_the_global_batches(tmp_path):
    files = fake_layout(tmp_path, [5, 6, 7], videos_per_shard=4)  # 18 videos, batch 4: 4 steps per epoch
    whole = stream_batches(files, 4, 10, seed=5)
    assert stream_batches(files, 4, 6, seed=5, start_step=4) == whole[4:]
    assert stream_batches(files, 4, 10, seed=6) != whole
    parts = [
        stream_batches(files, 4, 7, seed=5, start_step=3, input_context=tf.distribute.InputContext(2, k, 4))
        for k in range(2)
    ]
    assert [a + b for a, b in zip(*parts)] == whole[3:]  # each pipeline reads only its half


def test_input_context_must_divide_the_batch(tmp_path):
    files = fake_layout(tmp_path, [4, 4], videos_per_shard=4)
    with pytest.raises(ValueError, match="multiple of the 4 replicas"):
        stream_batches(files, 6, 1, input_context=tf.distribute.InputContext(2, 0, 4))
    with pytest.raises(ValueError, match="larger than the 8 records"):
        stream_batches(files, 9, 1)

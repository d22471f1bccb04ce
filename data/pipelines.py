"""tf.data pipelines over prepared TFRecord shards (one record per video).

- ``pretrain_dataset``: the views and labels of any set of view recipes
  (``data.recipes``; default HDC's u_o, u_s, u_t, §3.1, §3.3), packed and batched.
- ``finetune_train_dataset``: one augmented clip and its label (HDC §4).
- ``video_clips_dataset``: every evaluation clip of each video (HDC §4 dense
  test, VCOP retrieval, 10 clips × 3 crops).

Order of the training streams. A data-epoch is a uniformly random permutation
of all N records of the files, keyed statelessly by (seed, epoch), cut to its
first U = ⌊N / B⌋·B entries for batch size B: batches mix classes like random
draws whatever the order on disk (``data.prepare`` writes videos sorted by id,
i.e. by class), a batch never spans two data-epochs, so no video appears twice
in one batch, and each epoch leaves out a different random N − U videos.
Records are read by position (a seek per record, headers only, no shuffle
buffer: memory is the prefetch alone). Sample position p = step·B + j lies in
epoch e = p // U at index i = p − e·U, and every random draw of the sample
(windows, crops, augmentations) is keyed by (seed, e, i), so the streams are
infinite, deterministic and exactly resumable: ``start_step = s`` yields the
batches of an uninterrupted run from step s on, reading nothing before them.
Nothing depends on thread timing or on the global TF seed.

Several input pipelines (``input_context``, from
``tf.distribute.Strategy.distribute_datasets_from_function``): pipeline k of K
reads and decodes only places [k·B/K, (k + 1)·B/K) of every global batch and
batches them per replica, so together the replicas hold exactly the
single-device global batch, in replica order.
"""

import dataclasses
import struct

import numpy as np
import tensorflow as tf

from data import augment as aug
from data import packing
from data import recipes as recipes_lib
from data import temporal
from data.recipes import pack
from data.records import parse_example

CLIP_MODES = ("dense", "retrieval", "10x3")
_RETRIEVAL_CLIPS = 10
# Purpose tags folded into the keys so that independent draws never share a seed.
_ORDER, _SAMPLE, _PAIR = 0, 2, 3


@dataclasses.dataclass(frozen=True)
class ClipSpec:
    """Clip geometry (HDC §3.3: 16 frames, 128×128 sample crop, 112×112 views).

    ``stride`` s applies to fine-tuning and evaluation clips: T frames taken every
    s-th frame, spanning (T − 1)·s + 1 frames (time-equivariant §3.4 transfers at
    s = 4, the 4× speed of pretraining). Pretraining clips take their speeds from
    the view recipes, so ``pretrain_dataset`` requires s = 1.
    """

    frames: int = 16  # clip length T
    sample_size: int = 128  # side of the random square crop x_i, from frames stored at short side 128
    crop: int = 112  # side of each view
    stride: int = 1  # frame step within a clip (1: consecutive frames)

    def __post_init__(self):
        for name in ("frames", "sample_size", "crop", "stride"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"ClipSpec.{name} must be a positive integer, received {value!r}")
        if self.crop > self.sample_size:
            raise ValueError(
                f"ClipSpec.crop ({self.crop}) must not exceed ClipSpec.sample_size ({self.sample_size})"
            )


def records_per_file(files):
    """Number of records in each TFRecord file, reading only each record's 12-byte header.

    Cost: one small read and one seek per record (no payload is read), e.g. well under
    a second for UCF101's 13k records on a local disk.
    """
    counts = []
    for path in files:
        count = 0
        with tf.io.gfile.GFile(path, "rb") as f:
            size = f.size()
            offset = 0
            while offset < size:
                header = f.read(8)
                if len(header) < 8:
                    raise ValueError(f"Truncated TFRecord file {path}: partial header at byte {offset}")
                (length,) = struct.unpack("<Q", header)
                offset += 8 + 4 + length + 4
                if offset > size:
                    raise ValueError(f"Truncated TFRecord file {path}: record runs past the end of the file")
                f.seek(offset)
                count += 1
        counts.append(count)
    return counts


def count_records(files):
    """Total number of records in TFRecord files (``records_per_file``)."""
    return sum(records_per_file(files))


_fold = tf.random.experimental.stateless_fold_in


def _key(*parts):
    """A stateless seed (shape [2], int64) derived from integers, in order."""
    parts = [tf.cast(p, tf.int64) for p in parts]
    key = tf.stack(parts[:2])
    for part in parts[2:]:
        key = _fold(key, part)
    return key


def epoch_order(num_videos, used, seed, epoch, shuffle=True):
    """The record numbers (0 .. num_videos − 1, counted across the files in order) of the
    ``used`` samples of data-epoch ``epoch``: the first ``used`` entries of a uniformly
    random permutation keyed by (seed, epoch), or of the identity without ``shuffle``."""
    if not shuffle:
        return tf.range(used, dtype=tf.int64)
    noise = tf.random.stateless_uniform([num_videos], _key(seed, epoch, _ORDER), dtype=tf.float64)
    return tf.argsort(noise, stable=True)[:used]


def _slice_of(input_context, batch_size):
    """(first, size) of the part of every global batch that this input pipeline makes."""
    if input_context is None:
        return 0, batch_size
    pipelines = input_context.num_input_pipelines
    if batch_size % input_context.num_replicas_in_sync:
        raise ValueError(
            f"batch_size {batch_size} must be a multiple of the {input_context.num_replicas_in_sync} replicas"
        )
    size = batch_size // pipelines
    return input_context.input_pipeline_id * size, size


def _record_stream(files, batch_size, seed, start, shuffle, input_context, num_videos=None):
    """The infinite stream of (serialized record, data-epoch, index in the epoch, sample
    position) from sample position ``start`` on, restricted to this input pipeline's
    slice of each batch."""
    files = [str(f) for f in files]
    if not files:
        raise ValueError("files is empty: no TFRecord shards to read")
    counts = records_per_file(files)
    if num_videos is not None and num_videos != sum(counts):
        raise ValueError(f"num_videos {num_videos} differs from the {sum(counts)} records in the files")
    num_videos = sum(counts)
    if num_videos < batch_size:
        raise ValueError(
            f"batch_size {batch_size} is larger than the {num_videos} records in {len(files)} TFRecord file(s) "
            f"starting with {files[0]}: a batch holds distinct videos"
        )
    used = num_videos // batch_size * batch_size
    first, size = _slice_of(input_context, batch_size)
    file_of = tf.constant(np.repeat(np.arange(len(files)), counts), tf.int64)
    number_in_file = tf.constant(np.concatenate([np.arange(c) for c in counts]), tf.int64)
    paths = tf.constant(files)
    first_epoch, offset = divmod(start, used)

    def epoch_positions(epoch):
        order = epoch_order(num_videos, used, seed, epoch, shuffle)
        return tf.data.Dataset.from_tensor_slices((order, tf.range(used, dtype=tf.int64))).map(
            lambda record, index: (record, epoch, index)
        )

    def read(record, epoch, index):
        reader = tf.data.TFRecordDataset(tf.gather(paths, file_of[record]), buffer_size=0)
        position = epoch * used + index
        return reader.skip(number_in_file[record]).take(1).map(lambda serialized: (serialized, epoch, index, position))

    stream = tf.data.Dataset.counter(first_epoch).flat_map(epoch_positions).skip(offset)
    if size < batch_size:  # only this pipeline's slice: the others' records are never read

        def mine(record, epoch, index):
            place = index % batch_size
            return (place >= first) & (place < first + size)

        stream = stream.filter(mine)
    return stream.interleave(
        read, cycle_length=16, block_length=1, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
    )


def _decode_square(jpegs, indices, seed, sample_size):
    """Decode the frames at ``indices`` and cut one random sample_size square out of them.

    Returns the distinct frames, cut, (N, s, s, 3) and, per index, its position in them.
    (Decoding whole frames and slicing is faster here than ``decode_and_crop_jpeg``.)
    """
    unique, positions = tf.unique(indices)
    frames = tf.map_fn(
        lambda jpeg: tf.io.decode_jpeg(jpeg, channels=3),
        tf.gather(jpegs, unique),
        fn_output_signature=tf.TensorSpec([None, None, 3], tf.uint8),
    )
    height, width = tf.shape(frames)[1], tf.shape(frames)[2]
    size = tf.minimum(sample_size, tf.minimum(height, width))
    top = tf.random.stateless_uniform([], _fold(seed, 0), 0, height - size + 1, dtype=tf.int32)
    left = tf.random.stateless_uniform([], _fold(seed, 1), 0, width - size + 1, dtype=tf.int32)
    return frames[:, top : top + size, left : left + size], positions


def _example(record, epoch, index, position, seed, clip, recipes, layout):
    """One packed example (``data.recipes``): every recipe draws its frame indices, the
    union is decoded once and cut to one random sample square, then each recipe makes
    its views. ``position`` (the sample's place in the stream) keys pair-shared draws."""
    key = _key(seed, epoch, _SAMPLE, index)
    pair_key = _key(seed, _PAIR, position // 2)
    jpegs = parse_example(record)["frames"]
    num_frames = tf.shape(jpegs)[0]
    indices, values, keys = [], {}, []
    for recipe, wanted in recipes:
        recipe_key = _fold(key, recipe.tag) if recipe.tag else key
        clips, labels = recipe.indices(recipe_key, _fold(pair_key, recipe.tag), num_frames, clip.frames, wanted)
        indices.append(clips)
        values.update(labels)
        keys.append(recipe_key)
    flat = [i for clips in indices for i in clips.values()]
    frames, positions = _decode_square(jpegs, tf.concat(flat, 0), _fold(key, 2), clip.sample_size)
    start = 0
    for (recipe, wanted), clips, recipe_key in zip(recipes, indices, keys):
        decoded = {}
        for name, idx in clips.items():
            decoded[name] = tf.gather(frames, positions[start : start + idx.shape[0]])
            start += idx.shape[0]
        values.update(recipe.views(recipe_key, _fold(pair_key, recipe.tag), decoded, clip.crop, wanted))
    return pack(layout, values)


def _finetune_clip(record, epoch, index, seed, clip, augment):
    """HDC §4 fine-tuning: one random T-frame window (every ``clip.stride``-th frame),
    random square, crop + scale jitter + flip."""
    key = _key(seed, epoch, _SAMPLE, index)
    parsed = parse_example(record)
    jpegs = parsed["frames"]
    window = temporal.window(_fold(key, 0), tf.shape(jpegs)[0], clip.frames, clip.stride)
    frames, positions = _decode_square(jpegs, window, _fold(key, 2), clip.sample_size)
    view = aug.spatial_augment(tf.gather(frames, positions), _fold(key, 3), clip.crop, augment)
    return tf.ensure_shape(view, [clip.frames, clip.crop, clip.crop, 3]), tf.cast(parsed["label"], tf.int32)


def _batched(dataset, batch_size, input_context):
    """Batch per replica (``input_context``) or whole, deterministically, with prefetch."""
    if input_context is not None:
        batch_size = input_context.get_per_replica_batch_size(batch_size)
    options = tf.data.Options()
    options.deterministic = True
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
    return dataset.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE).with_options(options)


def _check_stream(batch_size, start_step):
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, received {batch_size!r}")
    if start_step < 0:
        raise ValueError(f"start_step must be >= 0, received {start_step}")


def pretrain_dataset(
    files,
    batch_size,
    clip=ClipSpec(),
    augment=aug.AugmentConfig(),
    seed=0,
    start_step=0,
    num_videos=None,
    shuffle=True,
    layout=None,
    recipes=None,
    input_context=None,
):
    """Infinite dataset of packed uint8 batches for pretraining (``data.packing``).

    ``layout``: the fields the model reads (``model.layout``); default HDC's three
    views u_o, u_s, u_t. ``recipes``: the view recipes that make them (``data.recipes``;
    default the HDC recipe with ``augment``). A layout of same-shaped views without
    labels gives (batch_size, V, T, crop, crop, 3) — the views stacked on axis 1 —
    any other (batch_size, bytes per example). One tensor per element (not a tuple)
    so MultiWorkerMirroredStrategy can distribute it (keras-team/keras#20585). Conversion
    to [-1, 1] happens on the device (HDC §3.3).
    Order, resume (``start_step``) and ``input_context``: the module docstring.
    ``num_videos``: optional, the caller's count of records in ``files`` (checked).
    ``shuffle=False`` takes the records in file order (still random windows and
    augmentations). Recipes with ``pair_shared`` need an even ``batch_size``, so
    that partners 2k, 2k + 1 land in one batch.
    """
    _check_stream(batch_size, start_step)
    if clip.stride != 1:
        raise ValueError(
            f"pretrain_dataset takes its playback speeds from the view recipes; ClipSpec.stride must be 1, "
            f"received {clip.stride}"
        )
    view_shape = (clip.frames, clip.crop, clip.crop, 3)
    layout = layout or packing.make_layout(("o", "s", "t"), {}, view_shape)
    assigned = recipes_lib.assign(layout, recipes or (recipes_lib.HDCRecipe(augment),), clip.frames)
    shared = [recipe.name for recipe, _ in assigned if recipe.pair_shared]
    if shared and batch_size % 2:
        raise ValueError(
            f"batch_size must be even with recipe {shared[0]!r}: examples 2k and 2k + 1 share its "
            f"relative temporal transformation (time-equivariant Fig. 3), received {batch_size}"
        )
    stream = _record_stream(files, batch_size, seed, start_step * batch_size, shuffle, input_context, num_videos)
    dataset = stream.map(
        lambda r, e, i, p: _example(r, e, i, p, seed, clip, assigned, layout),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )
    shapes = {f.shape for f in layout}
    if all(f.kind == packing.VIEW for f in layout) and len(shapes) == 1:
        stacked = (len(layout), *shapes.pop())
        dataset = dataset.map(lambda x: tf.reshape(x, stacked))
    return _batched(dataset, batch_size, input_context)


def finetune_train_dataset(
    files, batch_size, clip=ClipSpec(), seed=0, start_step=0, num_videos=None, input_context=None
):
    """Infinite dataset of (uint8 clips (B, T, crop, crop, 3), int32 labels (B,)) for fine-tuning.

    HDC §4: one random T-frame clip, random sample square, random crop with scale jitter and
    horizontal flip (no colour jitter, no channel replication). Order and resume as
    ``pretrain_dataset``. The clip takes every ``clip.stride``-th frame: indices start + stride·k
    (k < T) modulo the video length, start uniform in [0, max(num_frames − span, 0)],
    span = (T − 1)·stride + 1; videos shorter than the span start at 0 and loop, as in pretraining.
    """
    _check_stream(batch_size, start_step)
    augment = aug.AugmentConfig(color_jitter=False, channel_replication=False)
    stream = _record_stream(files, batch_size, seed, start_step * batch_size, True, input_context, num_videos)
    dataset = stream.map(
        lambda r, e, i, p: _finetune_clip(r, e, i, seed, clip, augment),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )
    return _batched(dataset, batch_size, input_context)


def clip_starts(num_frames, frames, mode, stride=1):
    """First frame of each evaluation clip of a ``num_frames`` video (list of int).

    A clip takes T = ``frames`` frames every ``stride``-th frame, start + stride·k (k < T),
    so it spans S = (T − 1)·stride + 1 frames; stride 1 gives T consecutive frames.

    - "dense" (HDC §4 test): every non-overlapping clip, each owning a slot of T·stride
      frames: starts k·T·stride for k < max(n // (T·stride), 1), i.e. 0, T, 2T, ... at
      stride 1; a video shorter than one slot gives one clip at 0 (looping if n < S).
    - "retrieval" (VCOP) and "10x3": 10 clips centred at linspace(S/2, n − S/2, 10),
      i.e. start_k = floor(k · max(n − S, 0) / 9); all 0 for videos shorter than S.
    """
    if mode not in CLIP_MODES:
        raise ValueError(f"mode must be one of {CLIP_MODES}, received {mode!r}")
    num_frames, frames, stride = int(num_frames), int(frames), int(stride)
    if min(num_frames, frames, stride) < 1:
        raise ValueError(
            f"num_frames, frames and stride must be >= 1, received {num_frames}, {frames} and {stride}"
        )
    if mode == "dense":
        slot = frames * stride
        return [k * slot for k in range(max(num_frames // slot, 1))]
    room = max(num_frames - ((frames - 1) * stride + 1), 0)
    return [k * room // (_RETRIEVAL_CLIPS - 1) for k in range(_RETRIEVAL_CLIPS)]


def crop_boxes(height, width, crop, sample_size, mode):
    """Evaluation crop boxes (top, left, size, size) in a height×width frame (list of tuples).

    - "dense" (HDC §4 test): centre, top-left, top-right, bottom-left, bottom-right
      crop×crop boxes of the frame's central sample_size square.
    - "retrieval" (VCOP): the centre crop of the frame.
    - "10x3": left (or top), centre, right (or bottom) crops along the long side.
    Boxes larger than the frame shrink to it (and are resized to crop by the pipeline).
    """
    if mode not in CLIP_MODES:
        raise ValueError(f"mode must be one of {CLIP_MODES}, received {mode!r}")
    height, width, crop, sample_size = int(height), int(width), int(crop), int(sample_size)
    if min(height, width, crop, sample_size) < 1:
        raise ValueError(f"sizes must be >= 1, received {height}x{width}, crop {crop}, sample_size {sample_size}")
    size = min(crop, height, width)
    centre = ((height - size) // 2, (width - size) // 2, size, size)
    if mode == "retrieval":
        return [centre]
    if mode == "10x3":
        if width >= height:
            return [(centre[0], left, size, size) for left in (0, (width - size) // 2, width - size)]
        return [(top, centre[1], size, size) for top in (0, (height - size) // 2, height - size)]
    square = min(sample_size, height, width)
    size = min(size, square)
    top, left = (height - square) // 2, (width - square) // 2
    far = square - size
    return [
        (top + far // 2, left + far // 2, size, size),
        (top, left, size, size),
        (top, left + far, size, size),
        (top + far, left, size, size),
        (top + far, left + far, size, size),
    ]


def _eval_layout(num_frames, height, width, clip, mode):
    starts = np.asarray(clip_starts(num_frames, clip.frames, mode, clip.stride), np.int32)
    boxes = np.asarray(crop_boxes(height, width, clip.crop, clip.sample_size, mode), np.int32)
    return starts, boxes


def _video_clips(record, clip, mode):
    parsed = parse_example(record)
    jpegs = parsed["frames"]
    num_frames = tf.shape(jpegs)[0]
    shape = tf.io.extract_jpeg_shape(jpegs[0])
    starts, boxes = tf.numpy_function(
        lambda n, h, w: _eval_layout(n, h, w, clip, mode),
        [num_frames, shape[0], shape[1]],
        [tf.int32, tf.int32],
        stateful=False,
    )
    num_boxes = len(crop_boxes(clip.sample_size, clip.sample_size, clip.crop, clip.sample_size, mode))  # per mode
    starts = tf.ensure_shape(starts, [None])
    boxes = tf.ensure_shape(boxes, [num_boxes, 4])
    indices = (starts[:, None] + clip.stride * tf.range(clip.frames)[None, :]) % num_frames  # (C, T)
    unique, positions = tf.unique(tf.reshape(indices, [-1]))
    frames = tf.map_fn(
        lambda jpeg: tf.io.decode_jpeg(jpeg, channels=3),
        tf.gather(jpegs, unique),
        fn_output_signature=tf.TensorSpec([None, None, 3], tf.uint8),
    )
    frames = tf.gather(frames, positions)  # (C * T, H, W, 3), clip-major
    shape = [-1, clip.frames, clip.crop, clip.crop, 3]
    views = [tf.reshape(aug.crop_resize(frames, boxes[b], clip.crop), shape) for b in range(num_boxes)]
    clips = aug.to_uint8(tf.reshape(tf.stack(views, axis=1), shape))  # (C * boxes, T, crop, crop, 3)
    return {
        "clips": clips,
        "label": tf.cast(parsed["label"], tf.int32),
        "video_id": parsed["video_id"],
        "num_frames": num_frames,
    }


def video_clips_dataset(files, clip=ClipSpec(), mode="dense"):
    """One element per video, in file order: dict(clips=uint8 (K, T, crop, crop, 3), label=int32,
    video_id=string, num_frames=int32).

    Clips are ordered clip-major, crop-minor (k = clip * num_crops + crop) with the starts of
    ``clip_starts`` and the boxes of ``crop_boxes``; a clip's frames are start + clip.stride·t
    (t < T) modulo the video length, so short videos loop. K = (number of clips) × 5 for "dense"
    (HDC §4), 10 for "retrieval" (VCOP), 30 for "10x3". K varies per video in dense mode, so
    videos are not batched here; batch their clips downstream.
    """
    if mode not in CLIP_MODES:
        raise ValueError(f"mode must be one of {CLIP_MODES}, received {mode!r}")
    files = [str(f) for f in files]
    if not files:
        raise ValueError("files is empty: no TFRecord shards to read")
    dataset = tf.data.TFRecordDataset(files).map(
        lambda r: _video_clips(r, clip, mode), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
    )
    options = tf.data.Options()
    options.deterministic = True
    return dataset.prefetch(tf.data.AUTOTUNE).with_options(options)

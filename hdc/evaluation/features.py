"""Per-video features and scores: the encoder applied to every test-time clip
of a video, outputs averaged per video (HDC §4: "averaging over all crops and
clips"; VCOP retrieval: features averaged over 10 clips)."""

import numpy as np
import keras
from tqdm import tqdm

from hdc.evaluation.encoders import load_backbone, load_savedmodel
from hdc.evaluation.metrics import require_finite


def to_unit_range(inputs):
    """uint8 pixels → [−1, 1] floats (HDC §3.3), as a Keras layer."""
    return keras.layers.Rescaling(1.0 / 127.5, offset=-1.0, name="to_unit_range")(inputs)


def pooled_feature(taps, feature):
    """Global-average-pooled ``blockN``, or ``vcop``: block5 max-pooled (1, 2, 2)
    without padding and flattened — VCOP's retrieval feature, its pool5 output.
    For 16×112×112 clips: C3D and R(2+1)D-10, block5 2×7×7×512 → 2×3×3×512 =
    9216-d (VCOP's C3D conv5 feature); 3D-ResNet18, 1×4×4×512 → 1×2×2×512 = 2048-d."""
    if feature == "vcop":
        x = keras.layers.MaxPooling3D((1, 2, 2), padding="valid", name="vcop_pool")(taps["block5"])
        return keras.layers.Flatten(name="vcop_flatten")(x)
    if feature not in taps:
        raise ValueError(f"feature {feature!r} is not a tap of the backbone ({sorted(taps)})")
    return keras.layers.GlobalAveragePooling3D(name=f"{feature}_pool")(taps[feature])


def feature_model(backbone, feature="block5"):
    """uint8 clips (B, T, H, W, 3) → features (B, D)."""
    inputs = keras.Input(backbone.input_shape[1:], dtype="uint8", name="clips")
    taps = backbone(to_unit_range(inputs))
    return keras.Model(inputs, pooled_feature(taps, feature), name=f"{backbone.name}_{feature}")


def clip_feature_fn(source, clip_shape, feature):
    """A function uint8 clips (B, T, H, W, 3) → np.ndarray (B, D) for any source."""
    if source.is_savedmodel():
        layer = load_savedmodel(source.path())

        def from_export(clips):
            outputs = layer(clips)
            keys = sorted(k for k in outputs if feature in k)
            if len(keys) != 1:
                raise ValueError(
                    f"the SavedModel {source.path()} has no single output for feature {feature!r}; "
                    f"its outputs are {sorted(outputs)}"
                )
            return np.asarray(outputs[keys[0]])

        return from_export
    model = feature_model(load_backbone(source, clip_shape), feature)
    return lambda clips: np.asarray(model.predict_on_batch(clips))


def per_video_means(fn, videos, batch_size, total=None, desc="videos"):
    """Average ``fn`` over the clips of every video.

    Args:
        fn: uint8 clips (B, T, H, W, 3) → (B, D) numpy outputs.
        videos: a ``tf.data.Dataset`` of dicts with ``clips`` (K, T, H, W, 3),
            ``label``, ``video_id``, ``num_frames`` (one element per video).
        batch_size: clips per call of ``fn`` (clips of several videos share a batch).
        total: number of videos, for the progress bar.

    Returns:
        dict with ``outputs`` (N, D) float32 means, ``labels`` (N,) int,
        ``video_ids`` (N,) str, ``num_frames`` (N,) int, ``num_clips`` (N,) int.

    Raises:
        ValueError: naming ``desc`` and the videos, when outputs hold NaN or inf.
    """
    import tensorflow as tf

    def explode(index, video):
        k = tf.shape(video["clips"])[0]
        fields = (index, video["label"], video["video_id"], video["num_frames"])
        return tf.data.Dataset.from_tensor_slices((video["clips"],) + tuple(tf.fill([k], x) for x in fields))

    clips = videos.enumerate().flat_map(explode).batch(batch_size).prefetch(tf.data.AUTOTUNE)
    sums, counts, meta = [], [], []
    with tqdm(total=total, desc=desc, unit="video") as bar:
        for batch, *fields in clips.as_numpy_iterator():
            if len(batch) < batch_size:  # pad the last batch: one traced shape for the whole pass
                batch = np.concatenate([batch, np.zeros((batch_size - len(batch),) + batch.shape[1:], batch.dtype)])
            out = np.asarray(fn(batch), np.float64).reshape(batch_size, -1)
            for row, index, label, video_id, num_frames in zip(out, *fields):
                if index == len(sums):  # flat_map keeps the order: videos arrive one after another
                    sums.append(row.copy())
                    counts.append(0)
                    meta.append((int(label), video_id.decode(), int(num_frames)))
                    bar.update(1)
                else:
                    sums[index] += row
                counts[index] += 1
    if not sums:
        raise ValueError("the dataset holds no videos")
    counts = np.array(counts)
    labels, video_ids, num_frames = zip(*meta)
    outputs = require_finite(np.stack(sums) / counts[:, None], f"encoder outputs for the {desc} videos", video_ids)
    return {
        "outputs": outputs.astype(np.float32),
        "labels": np.array(labels),
        "video_ids": np.array(video_ids),
        "num_frames": np.array(num_frames),
        "num_clips": counts,
    }

"""What a pretraining run hands to other programs (TensorFlow backend).

- ``encoder.keras``: the trained backbone, loadable with
  ``keras.saving.load_model`` after ``import models``.
- ``export/``: a TF SavedModel feature extractor. Its ``serving_default``
  signature takes ``clips``: **uint8** (B, T, H, W, 3) RGB in [0, 255] (it
  rescales to [−1, 1] itself) and returns float32 ``block3``, ``block4``,
  ``block5`` (globally average-pooled taps, (B, C)) and ``embedding`` (the
  objective's embedding, L2-normalised, when it defines one — for a
  ``Composite``, the first part that does; HDC: the u_o projection of the
  deepest pooled tap it uses, block 5 by default). It serves
  in a process that has TensorFlow only::

      f = tf.saved_model.load("RUN/export").signatures["serving_default"]
      features = f(clips=tf.constant(uint8_clips))
"""

import os
import shutil

import keras
import tensorflow as tf

from hdc.model import to_unit_range
from hdc.pooling import global_pool

FEATURE_TAPS = ("block3", "block4", "block5")


def feature_extractor(backbone, objective):
    """A functional model: uint8 clips → pooled block 3–5 features and the embedding."""
    clips = keras.Input(shape=backbone.input_shape[1:], dtype="uint8", name="clips")
    taps = backbone(to_unit_range(clips, backbone.compute_dtype))
    outputs = {tap: keras.ops.cast(global_pool(taps[tap]), "float32") for tap in FEATURE_TAPS}
    embedding = objective.embedding(taps)
    if embedding is not None:
        embedding = keras.ops.cast(embedding, "float32")
        outputs["embedding"] = embedding / keras.ops.maximum(keras.ops.norm(embedding, axis=-1, keepdims=True), 1e-12)
    return keras.Model(clips, outputs, name="hdc_features")


def export_saved_model(extractor, path):
    """Write ``extractor`` as a SavedModel at ``path`` (atomically: temp dir, then rename)."""
    archive = keras.export.ExportArchive()
    archive.track(extractor)
    spec = tf.TensorSpec((None,) + tuple(extractor.input_shape[1:]), tf.uint8, name="clips")
    archive.add_endpoint("serving_default", lambda clips: extractor(clips, training=False), input_signature=[spec])
    tmp = f"{path}.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    archive.write_out(tmp, verbose=False)
    shutil.rmtree(path, ignore_errors=True)
    os.replace(tmp, path)


def write_outputs(model, config, is_chief=True):
    """Save encoder.keras and export/ into ``config.out``; print and return the paths."""
    out = config.out
    paths = {
        "config": os.path.join(out, "config.json"),
        "metrics": os.path.join(out, "metrics.csv"),
        "tensorboard": os.path.join(out, "tensorboard"),
        "checkpoints": os.path.join(out, "checkpoints"),
        "encoder": os.path.join(out, "encoder.keras"),
        "export": os.path.join(out, "export"),
    }
    tmp = os.path.join(out, "encoder.partial.keras")
    model.backbone.save(tmp)
    os.replace(tmp, paths["encoder"])
    export_saved_model(feature_extractor(model.backbone, model.objective), paths["export"])
    print("Outputs:")
    for name, path in paths.items():
        print(f"  {name:12s} {path}")
    return paths

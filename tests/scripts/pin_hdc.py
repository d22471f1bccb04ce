"""Write tests/data/hdc_pin.npz: the HDC loss, its terms and gradient
fingerprints on fixed weights and views, float64.

Produced once at commit 87ee87d (before HDCObjective moved into the
``hdc.objectives`` package) and kept as the reference that
``tests/test_objective_pin.py`` recomputes with the current code. Re-running
it overwrites the pin; do so only for a deliberate change of HDC's numbers.
Usage: python tests/scripts/pin_hdc.py
"""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import models  # noqa: E402
from hdc.model import HDCModel  # noqa: E402
from hdc.objectives import HDCObjective  # noqa: E402

SHAPE = (8, 32, 32, 3)


def build():
    """The pinned model, views and random projection directions (float64)."""
    keras.config.set_floatx("float64")
    keras.config.set_dtype_policy("float64")  # in case a caller set the global policy explicitly
    keras.utils.set_random_seed(0)
    backbone = models.build_backbone("r2plus1d10", input_shape=SHAPE, kernel_regularizer=5e-5, width_multiplier=0.125)
    model = HDCModel(backbone, HDCObjective())
    rng = np.random.default_rng(0)
    views = rng.integers(0, 256, (3, 3) + SHAPE, dtype=np.uint8)
    model(views)
    for w in model.weights:  # float32-representable weights: the pin stores them as float32
        w.assign(w.numpy().astype("float32").astype("float64"))
    return model, views


def fingerprint(model, views):
    """{'loss', each term, 'grad_sum', 'grad_norm', 'grad_proj'} for one training-mode forward."""
    variables = model.trainable_variables
    with tf.GradientTape() as tape:
        outputs = model.objective_outputs(views, training=True)
        loss = outputs["loss"] + tf.cast(model.weight_decay(), outputs["loss"].dtype)
    grads = [g.numpy() for g in tape.gradient(loss, variables)]
    directions = np.random.default_rng(1)
    return {
        **{k: np.float64(v) for k, v in outputs.items()},
        "total": np.float64(loss),
        "grad_sum": np.array([g.sum() for g in grads]),
        "grad_norm": np.array([np.linalg.norm(g) for g in grads]),
        "grad_proj": np.array([(g * directions.normal(size=g.shape)).sum() for g in grads]),
    }


if __name__ == "__main__":
    model, views = build()
    path = os.path.join(ROOT, "tests", "data", "hdc_pin.npz")
    weights = {f"w{i}": w.numpy().astype("float32") for i, w in enumerate(model.weights)}
    np.savez_compressed(path, **fingerprint(model, views), **weights)
    print("wrote", path)

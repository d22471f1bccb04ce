"""One HDC train step on a fixed global batch; prints the loss and saves the
weights. Usage: replica_step.py OUT.npz {one,mirrored,multiworker} [cpu_devices]

Run in a subprocess: logical CPU devices and TF_CONFIG must be set before
TensorFlow starts."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from hdc import distribute  # noqa: E402

out, strategy_name = sys.argv[1], sys.argv[2]
distribute.split_cpu(int(sys.argv[3]) if len(sys.argv) > 3 else 0)

import keras  # noqa: E402
keras.config.disable_traceback_filtering()
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import models  # noqa: E402
from hdc import optim  # noqa: E402
from hdc.model import HDCModel  # noqa: E402
from hdc.objectives import HDCObjective  # noqa: E402

SHAPE = (8, 32, 32, 3)
keras.config.set_floatx("float64")  # exactness without float32 conditioning noise
BATCH = 4
strategy = distribute.make_strategy(strategy_name, int(sys.argv[3]) if len(sys.argv) > 3 else 0)
keras.utils.set_random_seed(0)
views = np.random.default_rng(0).integers(0, 256, (BATCH, 3) + SHAPE, dtype=np.uint8)
with strategy.scope():
    model = HDCModel(
        models.build_backbone("r2plus1d10", input_shape=SHAPE, kernel_regularizer=5e-5), HDCObjective()
    )
    model.compile(optimizer=optim.make_optimizer("sgd", 0.1))
    model(views[:1])
dataset = tf.data.Dataset.from_tensor_slices(views).batch(BATCH).repeat()
history = model.fit(dataset, epochs=1, steps_per_epoch=1, verbose=0)
loss = float(np.ravel(history.history["loss"])[0])
if distribute.is_chief(strategy):
    np.savez(out, loss=loss, *[keras.ops.convert_to_numpy(w) for w in model.trainable_weights])
print("loss", loss)

"""Three train steps of a composite objective (HDC at block 5, the stateful toy
of tests/toy_objective.py with labels, and videoMoCo: momentum encoders and
queues) on fixed global
batches; saves the losses and every weight (EMA and queue included).
Usage: replica_step.py OUT.npz {one,mirrored,multiworker} [cpu_devices]

Run in a subprocess: logical CPU devices and TF_CONFIG must be set before
TensorFlow starts. Under "mirrored" it also checks that every replica holds
the same state."""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path[:0] = [ROOT, os.path.join(ROOT, "tests")]

from hdc import distribute  # noqa: E402

out, strategy_name = sys.argv[1], sys.argv[2]
cpu_devices = int(sys.argv[3]) if len(sys.argv) > 3 else 0
distribute.split_cpu(cpu_devices)

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import models  # noqa: E402
from hdc import optim  # noqa: E402
from hdc.model import HDCModel  # noqa: E402
from hdc.objectives import Composite, HDCObjective, MoCoObjective  # noqa: E402
from toy_objective import ToyMomentumQueue  # noqa: E402

SHAPE = (8, 32, 32, 3)
BATCH, STEPS = 4, 3
keras.config.disable_traceback_filtering()
keras.config.set_floatx("float64")  # exactness without float32 conditioning noise


def packed_batches(rng):
    """STEPS·BATCH examples: views o, s, t, a, b then the int32 label as 4
    little-endian bytes (data.packing's layout, written here with numpy)."""
    views = rng.integers(0, 256, (STEPS * BATCH, 5) + SHAPE, dtype=np.uint8)
    labels = rng.integers(-300, 300, STEPS * BATCH).astype("<i4")
    return np.concatenate([views.reshape(STEPS * BATCH, -1), labels[:, None].view(np.uint8)], axis=1), labels


strategy = distribute.make_strategy(strategy_name, cpu_devices)
keras.utils.set_random_seed(0)
packed, labels = packed_batches(np.random.default_rng(0))
with strategy.scope():
    backbone = models.build_backbone("r2plus1d10", input_shape=SHAPE, kernel_regularizer=5e-5, width_multiplier=0.25)
    objective = Composite(
        [HDCObjective(sc_blocks=(5,), tc_blocks=(5,), name="hdc"), ToyMomentumQueue(queue_size=8, name="toy"),
         MoCoObjective(dim=16, hidden=32, queue_size=8, momentum=0.9, name="moco")],
        weights=(0.5, 1.0, 1.0),
    )
    model = HDCModel(backbone, objective, input_views=("o", "s", "t", "a", "b"))
    model.compile(optimizer=optim.make_optimizer("sgd", 0.1))
    model(packed[:1])
dataset = tf.data.Dataset.from_tensor_slices(packed).batch(BATCH)
history = model.fit(dataset, epochs=STEPS, steps_per_epoch=1, verbose=0, shuffle=False)
if strategy_name == "mirrored":
    for variable in model.non_trainable_weights:
        values = [np.asarray(v) for v in strategy.experimental_local_results(variable.value)]
        assert all(np.array_equal(values[0], v) for v in values[1:]), f"replicas differ in {variable.path}"
logs = {k: np.ravel(v) for k, v in history.history.items()}
np.testing.assert_allclose(logs["toy/label_mean"], labels.reshape(STEPS, BATCH).mean(axis=1), rtol=1e-12)
np.savez(out, loss=logs["loss"], **{f"w{i}": keras.ops.convert_to_numpy(w) for i, w in enumerate(model.weights)})
print("loss", logs["loss"])

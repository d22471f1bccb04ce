"""Three train steps of the time-equivariant objective (every term on) on fixed
global batches of 8 examples (4 partner pairs, clips p and q each); saves the logs and every weight.
Usage: te_replica_step.py OUT.npz {one,mirrored,multiworker} [cpu_devices]
(multiworker: one process per worker, with TF_CONFIG set as in tests/test_distributed.py)

The labels put partner pairs whose ids differ (dropped from L_equi) unevenly
across the two replicas, and two pairs of one step share an id (left out of
each other's denominators), so the global normalisation of L_equi is what
makes 2 replicas equal one device. Run in a subprocess: logical CPU devices
must be set before TensorFlow starts."""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path[:0] = [ROOT]

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
from hdc.objectives import TEObjective  # noqa: E402

SHAPE = (8, 32, 32, 3)
BATCH, STEPS = 8, 3
# Per step: partners (2k, 2k+1) that differ are dropped; replica 0 holds rows 0-3, replica 1 rows 4-7.
IDS = np.array([[5, 5, 7, 8, 2, 2, 5, 5],     # kept: replica 0 two rows, replica 1 four; id 5 twice
                [1, 1, 3, 3, 4, 6, 9, 9],     # four and two
                [0, 1, 2, 2, 3, 3, 7, 7]])    # two and four
EXPECTED_KEPT = np.mean(IDS[:, 0::2] == IDS[:, 1::2], axis=1)
keras.config.disable_traceback_filtering()
keras.config.set_floatx("float64")  # exactness without float32 conditioning noise


def packed_batches(rng, labels):
    """STEPS·BATCH examples: views p, q then each int32 label as 4 little-endian
    bytes, in the model's layout order (data.packing's layout, written with numpy)."""
    views = rng.integers(0, 256, (STEPS * BATCH, 2) + SHAPE, dtype=np.uint8).reshape(STEPS * BATCH, -1)
    columns = [np.asarray(labels[name], "<i4").reshape(-1, 1).view(np.uint8) for name in labels]
    return np.concatenate([views] + columns, axis=1)


strategy = distribute.make_strategy(strategy_name, cpu_devices)
keras.utils.set_random_seed(0)
rng = np.random.default_rng(0)
with strategy.scope():
    backbone = models.build_backbone("r2plus1d10", input_shape=SHAPE, width_multiplier=0.25)
    objective = TEObjective(weights=(1.0, 1.0, 0.5, 0.5, 0.5), name="te")
    model = HDCModel(backbone, objective)
    model.compile(optimizer=optim.make_optimizer("sgd", 0.1))
    values = {"te_transform_id": IDS.ravel(), "te_speed_p": rng.integers(0, 4, STEPS * BATCH),
              "te_speed_q": rng.integers(0, 4, STEPS * BATCH), "te_direction_p": rng.integers(0, 2, STEPS * BATCH),
              "te_direction_q": rng.integers(0, 2, STEPS * BATCH), "te_order": rng.integers(0, 3, STEPS * BATCH)}
    labels = {f.name: values[f.name] for f in model.layout if f.kind == "label"}
    packed = packed_batches(rng, labels)
    model(packed[:2])
dataset = tf.data.Dataset.from_tensor_slices(packed).batch(BATCH)
history = model.fit(dataset, epochs=STEPS, steps_per_epoch=1, verbose=0, shuffle=False)
logs = {k: np.ravel(v) for k, v in history.history.items()}
np.testing.assert_allclose(logs["equi_kept"], EXPECTED_KEPT, rtol=1e-12)  # pairs arrive whole on every replica
np.savez(out, **{f"log_{k}": v for k, v in logs.items()},
         **{f"w{i}": keras.ops.convert_to_numpy(w) for i, w in enumerate(model.weights)})
print("loss", logs["loss"])

"""Train the composite (HDC, the stateful toy objective, videoMoCo) for 4 steps with step
checkpoints, whole or killed and resumed. Usage: toy_resume.py DIR MODE

- full:  4 steps, then save every model and optimizer variable to DIR/full.npz;
- first: checkpoint every 2 steps into DIR/checkpoints, SIGKILL itself after step 2;
- rest:  restore DIR/checkpoints, run the remaining steps on the remaining
         batches, save DIR/resumed.npz.

Deterministic ops (oneDNN off, op determinism), so the comparison can be bitwise."""

import os
import signal
import sys

os.environ["TF_ENABLE_ONEDNN_OPTS"] = "0"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path[:0] = [ROOT, os.path.join(ROOT, "tests")]

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import models  # noqa: E402
from hdc import checkpoint, optim  # noqa: E402
from hdc.model import HDCModel  # noqa: E402
from hdc.objectives import Composite, HDCObjective, MoCoObjective  # noqa: E402
from toy_objective import ToyMomentumQueue  # noqa: E402

SHAPE, BATCH, STEPS = (8, 32, 32, 3), 2, 4
directory, mode = sys.argv[1], sys.argv[2]
tf.config.experimental.enable_op_determinism()
keras.utils.set_random_seed(0)
rng = np.random.default_rng(0)
views = rng.integers(0, 256, (STEPS * BATCH, 5 * np.prod(SHAPE)), dtype=np.uint8)
labels = rng.integers(0, 5, STEPS * BATCH).astype("<i4")[:, None].view(np.uint8)
dataset = tf.data.Dataset.from_tensor_slices(np.concatenate([views, labels], axis=1)).batch(BATCH)

backbone = models.build_backbone("c3d", input_shape=SHAPE, kernel_regularizer=5e-5, width_multiplier=0.125)
objective = Composite([HDCObjective(sc_blocks=(5,), tc_blocks=(4,), name="hdc"), ToyMomentumQueue(name="toy"),
                       MoCoObjective(version=1, dim=8, queue_size=4, momentum=0.9, name="moco")])
model = HDCModel(backbone, objective, input_views=("o", "s", "t", "a", "b"))
model.compile(optimizer=optim.make_optimizer("sgd", 0.05))
model(np.zeros((1, views.shape[1] + 4), np.uint8))
saver = checkpoint.StepCheckpoint(os.path.join(directory, "checkpoints"), every_steps=2)
step = checkpoint.restore(model, saver.directory) if mode == "rest" else 0


class KillAfterSecondStep(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        if saver.step() == 2:
            os.kill(os.getpid(), signal.SIGKILL)


callbacks = [saver] + ([KillAfterSecondStep()] if mode == "first" else [])
model.fit(dataset.skip(step), epochs=1, steps_per_epoch=STEPS - step, callbacks=callbacks, verbose=0, shuffle=False)
variables = model.weights + model.optimizer.variables
np.savez(os.path.join(directory, f"{mode}.npz"), *[keras.ops.convert_to_numpy(v) for v in variables])

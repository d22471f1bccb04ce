"""Step-level checkpoints for exact resume (docs/distributed.md, "Resume").

Keras' ``BackupAndRestore`` resumes at the start of the interrupted epoch, so
the steps already done in that epoch would be repeated on data they had
already seen. Here the model and optimizer state (weights, momentum,
iteration count) are saved every N steps, at each epoch end and on SIGTERM,
with ``model.save_weights`` to a temporary file that is then renamed, so a
SIGKILL at any moment leaves the previous checkpoint intact. The optimizer's
iteration count is the global step; the data pipeline, whose randomness is
keyed by position, restarts at that step, so a resumed run continues exactly
as if it had not stopped.
"""

import os
import signal
import threading

import keras
import numpy as np

CHECKPOINT_NAME = "latest.weights.h5"


def _finite(value):
    return value is None or bool(np.all(np.isfinite(np.asarray(value, dtype="float64"))))


def _build_optimizer(model):
    if not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)


def restore(model, directory):
    """Load the latest checkpoint in ``directory`` into a built, compiled
    model; return the global step it reached (0 when there is none)."""
    path = os.path.join(directory, CHECKPOINT_NAME)
    _build_optimizer(model)
    if not os.path.exists(path):
        return 0
    model.load_weights(path)
    return int(keras.ops.convert_to_numpy(model.optimizer.iterations))


class StepCheckpoint(keras.callbacks.Callback):
    """Save every ``every_steps`` steps, at epoch end and on SIGTERM.

    A checkpoint is written only when the step's logged loss and all weights
    are finite, so a run stopped by a NaN keeps its last good state.
    ``write`` is False on non-chief workers of a multi-worker run.
    """

    def __init__(self, directory, every_steps, write=True):
        super().__init__()
        self.directory = directory
        self.every_steps = every_steps
        self.write = write
        self.stopped_by_signal = False
        self.saw_nonfinite_loss = False
        self._signalled = False
        self._previous_handler = None

    @property
    def path(self):
        return os.path.join(self.directory, CHECKPOINT_NAME)

    def step(self):
        return int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))

    def save(self, logs=None):
        if not self.write or not _finite((logs or {}).get("loss")):
            return False
        if not all(_finite(keras.ops.convert_to_numpy(w)) for w in self.model.trainable_weights):
            return False
        os.makedirs(self.directory, exist_ok=True)
        tmp = os.path.join(self.directory, "partial.weights.h5")
        self.model.save_weights(tmp)
        os.replace(tmp, self.path)
        return True

    def on_train_begin(self, logs=None):
        if threading.current_thread() is threading.main_thread():
            self._previous_handler = signal.signal(signal.SIGTERM, self._on_sigterm)

    def _on_sigterm(self, signum, frame):
        self._signalled = True

    def on_train_batch_end(self, batch, logs=None):
        if not _finite((logs or {}).get("loss")):
            self.saw_nonfinite_loss = True
        if self._signalled:
            self.save(logs)
            self.stopped_by_signal = True
            self.model.stop_training = True
        elif self.step() % self.every_steps == 0:
            self.save(logs)

    def on_epoch_end(self, epoch, logs=None):
        self.save(logs)

    def on_train_end(self, logs=None):
        if self._previous_handler is not None:
            signal.signal(signal.SIGTERM, self._previous_handler)
            self._previous_handler = None

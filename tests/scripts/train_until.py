"""Run ``train.py`` with its own flags, but send this process a signal at the end of a
chosen global step, for the deterministic resume tests (tests/test_training.py).

Usage: train_until.py STEP {SIGKILL,SIGTERM} [train.py flags]

The signal comes from one extra Keras callback placed first, before the step
checkpoint runs for that step: it models a signal arriving during step STEP.
After SIGKILL the last checkpoint is an earlier step's; after SIGTERM the
checkpoint holds step STEP and the run exits 0. Nothing else differs from
``python train.py [flags]``.
"""

import argparse
import os
import signal
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

import train  # noqa: E402  (imports no TensorFlow)

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("step", type=int, help="global step (1-based) at whose end the signal is sent")
parser.add_argument("signal", choices=("SIGKILL", "SIGTERM"))
parser.add_argument("flags", nargs=argparse.REMAINDER, help="train.py's flags")
args = parser.parse_args()
if args.step < 1:
    parser.error(f"step must be >= 1, received {args.step}")
if train.config_from_args(args.flags)[0].deterministic:
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")  # as train.main, before TensorFlow is imported

import keras  # noqa: E402

from hdc import pretrain  # noqa: E402


class SignalAtStep(keras.callbacks.Callback):
    def __init__(self, step, signum):
        super().__init__()
        self.step, self.signum = step, signum

    def on_train_batch_end(self, batch, logs=None):
        if int(keras.ops.convert_to_numpy(self.model.optimizer.iterations)) == self.step:
            os.kill(os.getpid(), self.signum)


production_callbacks = pretrain.callbacks


def callbacks(config, is_chief):
    saver, others = production_callbacks(config, is_chief)
    return saver, [SignalAtStep(args.step, signal.Signals[args.signal])] + others


pretrain.callbacks = callbacks
sys.exit(train.main(args.flags))

"""``train.py`` in float64 (Keras floatx), for comparisons across devices that float32's
conditioning noise would hide (see tests/test_distributed.py). Usage: train_float64.py FLAGS..."""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

import keras  # noqa: E402

import train  # noqa: E402

keras.config.set_floatx("float64")
sys.exit(train.main(sys.argv[1:]))

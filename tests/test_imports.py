"""The backend-agnostic packages never import TensorFlow, and the backbones
run under the PyTorch and JAX backends."""

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Modules that must stay free of TensorFlow (DESIGN.md §2).
BACKEND_AGNOSTIC = ["models", "hdc"]

FORWARD = """
import sys, numpy as np
import {modules}
import models
m = models.build_backbone("r2plus1d10", input_shape=(8, 16, 16, 3))
out = m(np.zeros((2, 8, 16, 16, 3), "float32"))
assert tuple(out["block5"].shape) == (2, 1, 1, 1, 512), out["block5"].shape
bad = sorted(k for k in sys.modules if k == "tensorflow" or k.startswith("tensorflow."))
assert not bad, "TensorFlow was imported: " + ", ".join(bad[:5])
print("ok")
"""


def run(code, backend):
    env = dict(os.environ, KERAS_BACKEND=backend, PYTHONPATH=ROOT)
    return subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("backend", ["torch", "jax"])
def test_forward_without_tensorflow(backend):
    result = run(FORWARD.format(modules=", ".join(BACKEND_AGNOSTIC)), backend)
    assert result.returncode == 0 and result.stdout.strip().endswith("ok"), result.stderr[-3000:]

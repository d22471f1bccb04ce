"""The backend-agnostic packages never import TensorFlow, and the backbones
run under the PyTorch and JAX backends."""

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Modules that must stay free of TensorFlow, so they run under the JAX and PyTorch backends.
BACKEND_AGNOSTIC = ["models", "hdc", "hdc.objectives", "hdc.losses", "data.packing", "hdc.model", "hdc.families", "hdc.optim"]

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


STATEFUL = """
import sys, numpy as np
sys.path.insert(0, "tests")
import models
from hdc.model import HDCModel
from hdc.objectives import Composite, HDCObjective
from toy_objective import ToyMomentumQueue
backbone = models.build_backbone("c3d", input_shape=(8, 32, 32, 3), width_multiplier=0.125)
toy = ToyMomentumQueue(queue_size=4, momentum=0.5, name="toy")
model = HDCModel(backbone, Composite([HDCObjective(sc_blocks=(5,), tc_blocks=(), name="hdc"), toy]))
rng = np.random.default_rng(0)
views = rng.integers(0, 256, (2, 4 * 8 * 32 * 32 * 3), dtype=np.uint8)
inputs = np.concatenate([views, np.array([[3, 0, 0, 0], [255, 255, 255, 255]], np.uint8)], axis=1)
out = model.objective_outputs(inputs, training=True)
assert abs(float(out["toy/label_mean"]) - 1.0) < 1e-6, out["toy/label_mean"]   # labels 3 and -1
assert int(np.asarray(toy.queue.count.value)) == 2
assert np.isfinite(float(out["loss"]))
bad = sorted(k for k in sys.modules if k == "tensorflow" or k.startswith("tensorflow."))
assert not bad, "TensorFlow was imported: " + ", ".join(bad[:5])
print("ok")
"""


@pytest.mark.parametrize("backend", ["torch", "jax"])
def test_stateful_composite_trains_a_step_without_tensorflow(backend):
    """Labels, a momentum copy and a queue work under the other backends too."""
    result = run(STATEFUL, backend)
    assert result.returncode == 0 and result.stdout.strip().endswith("ok"), result.stderr[-3000:]

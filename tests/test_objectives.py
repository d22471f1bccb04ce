"""HDCObjective end to end (pooling, projection heads, Eqs. 4–6) against numpy
with the layer's own Dense weights, across replicas, under mixed precision,
and free of TensorFlow under another backend."""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from hdc.objectives import HDCObjective
from test_losses import numpy_info_nce, numpy_spatial_contrast

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TAP_SHAPES = {"block3": (4, 4, 4, 6), "block4": (2, 2, 2, 10), "block5": (1, 1, 1, 12)}  # (T, H, W, C)


def random_taps(rng, batch, views="ost"):
    return {v: {t: rng.normal(size=(batch,) + s).astype("float32") for t, s in TAP_SHAPES.items()} for v in views}


def numpy_objective(objective, view_taps):
    """Pooling (§3.2) + the layer's linear heads (§3.3) + Eqs. 4–6, float64."""
    dense = {name: [np.float64(w) for w in layer.get_weights()] for name, layer in objective.heads.dense.items()}

    def project(view, block, x):
        kernel, bias = dense[f"{view}_block{block}"]
        return x @ kernel + bias

    weights = dict(zip(objective.blocks, zip(objective.alpha, objective.beta)))
    out, total = {}, 0.0
    for block in objective.sc_blocks:
        tap = {v: np.float64(view_taps[v][f"block{block}"]).mean(axis=(2, 3)) for v in "os"}
        loss, acc, _ = numpy_spatial_contrast(project("o", block, tap["o"]), project("s", block, tap["s"]),
                                              objective.temperature)
        out[f"sc_block{block}"], out[f"sc_block{block}_acc"] = loss, acc
        total += weights[block][0] * loss
    for block in objective.tc_blocks:
        tap = {v: np.float64(view_taps[v][f"block{block}"]).mean(axis=(1, 2, 3)) for v in "ot"}
        loss, acc, _ = numpy_info_nce(project("o", block, tap["o"]), project("t", block, tap["t"]),
                                      objective.temperature)
        out[f"tc_block{block}"], out[f"tc_block{block}_acc"] = loss, acc
        total += weights[block][1] * loss
    return {"loss": total, **out}


def as_floats(result):
    return {k: float(v) for k, v in result.items()}


def assert_results_close(got, want, rtol=1e-5):
    assert set(got) == set(want)
    for key in want:
        np.testing.assert_allclose(got[key], want[key], rtol=rtol, atol=1e-6, err_msg=key)


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        dict(sc_blocks=(4, 5), tc_blocks=(), temperature=0.1, proj_dim=16),
        dict(sc_blocks=(), tc_blocks=(3,), alpha=(1.0, 1.0, 1.0), beta=(2.0, 1.0, 1.0)),
        dict(sc_blocks=(5,), tc_blocks=(3, 4), alpha=(1.0, 1.0, 1.0), beta=(0.5, 0.1, 1.0), temperature=0.5),
    ],
)
def test_objective_matches_numpy(kwargs):
    rng = np.random.default_rng(len(kwargs))
    objective = HDCObjective(**kwargs)
    taps = random_taps(rng, 5)
    got = as_floats(objective(taps))
    assert_results_close(got, numpy_objective(objective, taps))


def test_fake_gather_across_replicas_equals_single_device():
    rng = np.random.default_rng(7)
    objective = HDCObjective()
    taps = [random_taps(rng, 3), random_taps(rng, 3)]  # two replicas, 3 clips each
    single = as_floats(objective(keras.tree.map_structure(lambda *x: np.concatenate(x), *taps)))

    # Record what each replica would contribute to every all_gather, in call order.
    local = [[], []]
    for r in range(2):
        objective(taps[r], gather=lambda z, r=r: local[r].append(z) or z)

    per_replica = []
    for r in range(2):
        calls = iter(range(len(local[r])))

        def gather(z, r=r):
            i = next(calls)
            np.testing.assert_allclose(keras.ops.convert_to_numpy(z), keras.ops.convert_to_numpy(local[r][i]))
            return keras.ops.concatenate([local[0][i], local[1][i]], axis=0)

        per_replica.append(as_floats(objective(taps[r], gather=gather, replica_offset=3 * r)))
    assert_results_close({k: np.mean([p[k] for p in per_replica]) for k in single}, single)


def test_anchors_stay_local_and_gathered_candidates_are_used():
    rng = np.random.default_rng(8)
    objective = HDCObjective(sc_blocks=(5,), tc_blocks=())
    taps = random_taps(rng, 4, views="os")
    shapes = []
    extra = rng.normal(size=(6, 1, 128)).astype("float32")  # another replica's candidates

    def gather(z):
        shapes.append(tuple(z.shape))
        return keras.ops.concatenate([z, extra], axis=0)

    result = objective(taps, gather=gather)
    assert shapes == [(4, 1, 128)]  # only u_s at block5 was gathered
    z_o, z_s = (keras.ops.convert_to_numpy(z) for z in objective.embed(taps)["sc", 5])
    want = numpy_spatial_contrast(z_o, np.concatenate([z_s, extra]), 0.07)[0]
    np.testing.assert_allclose(float(result["loss"]), want, rtol=1e-5)


def test_mixed_precision_gives_float32_losses():
    rng = np.random.default_rng(9)
    taps = random_taps(rng, 4)
    reference = HDCObjective()
    want = as_floats(reference(taps))
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        objective = HDCObjective()
        half_taps = keras.tree.map_structure(lambda x: x.astype("float16"), taps)
        objective(half_taps)
        objective.set_weights(reference.get_weights())
        result = objective(half_taps)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert objective.heads.dense["o_block3"].compute_dtype == "float16"
    assert all(v.dtype == tf.float32 for v in result.values())
    np.testing.assert_allclose(float(result["loss"]), want["loss"], rtol=2e-2)


def test_heads_are_trainable_weights_of_the_owner_and_get_gradients():
    class Owner(keras.Model):
        def __init__(self):
            super().__init__()
            self.objective = HDCObjective()

    owner = Owner()
    taps = random_taps(np.random.default_rng(10), 4)
    with tf.GradientTape() as tape:
        loss = owner.objective(taps)["loss"]
    assert len(owner.trainable_weights) == 2 * 9  # kernel + bias for o, s, t at blocks 3, 4, 5
    grads = tape.gradient(loss, owner.trainable_weights)
    for weight, grad in zip(owner.trainable_weights, grads):
        assert grad is not None and np.all(np.isfinite(grad.numpy())), weight.path
        assert np.any(grad.numpy() != 0), weight.path


@pytest.mark.parametrize(
    "kwargs, views, taps",
    [
        ({}, ("o", "s", "t"), ("block3", "block4", "block5")),
        (dict(sc_blocks=(5,), tc_blocks=()), ("o", "s"), ("block5",)),
        (dict(sc_blocks=(), tc_blocks=(4, 3)), ("o", "t"), ("block3", "block4")),
        (dict(sc_blocks=(4,), tc_blocks=(5,)), ("o", "s", "t"), ("block4", "block5")),
    ],
)
def test_views_taps_and_heads_follow_the_enabled_terms(kwargs, views, taps):
    objective = HDCObjective(**kwargs)
    assert objective.views == views and objective.taps == taps
    objective(random_taps(np.random.default_rng(11), 3))  # extra views and taps are ignored
    used = {(v, f"block{b}") for b in objective.sc_blocks for v in "os"} | {
        (v, f"block{b}") for b in objective.tc_blocks for v in "ot"}
    assert set(objective.heads.pairs) == used
    assert len(objective.trainable_weights) == 2 * len(used)


def test_config_round_trip_rebuilds_the_same_objective():
    objective = HDCObjective(sc_blocks=(4,), tc_blocks=(3, 5), alpha=(1.0, 2.0, 3.0), temperature=0.2, proj_dim=8)
    taps = random_taps(np.random.default_rng(12), 3)
    want = as_floats(objective(taps))
    clone = HDCObjective.from_config(objective.get_config())
    assert clone.get_config() == objective.get_config()
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(objective))
    assert type(restored) is HDCObjective and restored.built
    restored.set_weights(objective.get_weights())
    assert_results_close(as_floats(restored(taps)), want)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(sc_blocks=(6,)), "unknown blocks"),
        (dict(tc_blocks=(2, 3)), "unknown blocks"),
        (dict(sc_blocks=(), tc_blocks=()), "no terms"),
        (dict(alpha=(1.0, 1.0)), "one weight per block"),
        (dict(beta=(1.0, -1.0, 1.0)), ">= 0"),
        (dict(temperature=0.0), "temperature"),
        (dict(temperature=-0.07), "temperature"),
        (dict(proj_dim=0), "proj_dim"),
        (dict(blocks=(3, 3, 5)), "distinct"),
    ],
)
def test_bad_settings_raise_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        HDCObjective(**kwargs)


def test_missing_view_or_tap_raises_clear_error():
    rng = np.random.default_rng(13)
    with pytest.raises(ValueError, match="view 't'"):
        HDCObjective()(random_taps(rng, 2, views="os"))
    taps = random_taps(rng, 2)
    del taps["s"]["block4"]
    with pytest.raises(ValueError, match="tap 'block4' of view 's'"):
        HDCObjective()(taps)


NO_TENSORFLOW = """
import sys, numpy as np, torch
import hdc.losses, hdc.pooling, hdc.heads, hdc.objectives
bad = sorted(k for k in sys.modules if k == "tensorflow" or k.startswith("tensorflow."))
assert not bad, "TensorFlow was imported: " + ", ".join(bad[:5])
rng = np.random.default_rng(0)
taps = {v: {"block5": torch.tensor(rng.normal(size=(3, 2, 2, 2, 4)), dtype=torch.float32)} for v in "ost"}
taps["o"]["block5"][1] = 0.0  # a zero vector must not give NaN gradients
objective = hdc.objectives.HDCObjective(sc_blocks=(5,), tc_blocks=(5,))
objective(taps)
for v in "ost":
    taps[v]["block5"].requires_grad_(True)
objective(taps)["loss"].backward()
assert all(torch.isfinite(taps[v]["block5"].grad).all() for v in "ost"), "non-finite gradient"
print("ok")
"""


def test_backend_agnostic_without_tensorflow():
    env = dict(os.environ, KERAS_BACKEND="torch", PYTHONPATH=ROOT)
    result = subprocess.run([sys.executable, "-c", NO_TENSORFLOW], env=env, cwd=ROOT, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0 and result.stdout.strip().endswith("ok"), result.stderr[-3000:]

"""TEObjective (time-equivariant §3): every term and accuracy against numpy with
the objective's own weights, the three equivariance modes, terms switched off
with their logs, labels and heads, the labels against the TE recipe's, a .keras
round trip of HDC + TE in one HDCModel, and 2 replicas against one device."""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

import models
from data import packing
from hdc.model import HDCModel
from hdc.objectives import Composite, HDCObjective, TEObjective, context
from hdc.objectives.te import EQUIVARIANCES, TERMS
from tests.test_composition import numpy_pack
from tests.test_te_losses import IDS, numpy_equi, numpy_inst

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHAPE = (8, 32, 32, 3)
ALL_LABELS = ("te_transform_id", "te_speed_p", "te_speed_q", "te_direction_p", "te_direction_q", "te_order")


def random_labels(rng, batch, num_speeds=4, ids=IDS):
    return {"te_transform_id": np.asarray(ids, "int32"),
            "te_speed_p": rng.integers(0, num_speeds, batch).astype("int32"),
            "te_speed_q": rng.integers(0, num_speeds, batch).astype("int32"),
            "te_direction_p": rng.integers(0, 2, batch).astype("int32"),
            "te_direction_q": rng.integers(0, 2, batch).astype("int32"),
            "te_order": rng.integers(0, 3, batch).astype("int32")}


def numpy_mlp(head, x):
    """The head's layers from their own weights: Dense, batch norm with the batch's
    statistics (training; biased variance) and ReLU."""
    for layer in head.layers:
        if isinstance(layer, keras.layers.Dense):
            x = x @ layer.kernel.numpy() + (layer.bias.numpy() if layer.use_bias else 0)
            x = np.maximum(x, 0) if layer.activation.__name__ == "relu" else x
        elif isinstance(layer, keras.layers.BatchNormalization):
            x = (x - x.mean(0)) / np.sqrt(x.var(0) + layer.epsilon) * layer.gamma.numpy() + layer.beta.numpy()
        else:
            assert isinstance(layer, keras.layers.ReLU), layer
            x = np.maximum(x, 0)
    return x


def numpy_classifier(logits, targets):
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_softmax = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return -log_softmax[np.arange(len(targets)), targets].mean(), np.mean(logits.argmax(axis=1) == targets)


@pytest.mark.parametrize("head_batch_norm", [True, False])
@pytest.mark.parametrize("equivariance", EQUIVARIANCES)
def test_objective_matches_numpy_with_its_own_weights(equivariance, head_batch_norm):
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    dim, batch, lam = 16, 8, 0.25  # λ exact in float32 (see test_te_losses.py)
    taps = {v: {"block5": rng.normal(size=(batch, 2, 2, 2, dim))} for v in "pq"}
    labels = random_labels(rng, batch, num_speeds=3)
    weights = dict(zip(TERMS, (0.5, 2.0, 1.0, 0.3, 0.7)))
    objective = TEObjective(weights=tuple(weights.values()), equivariance=equivariance, temperature=lam,
                            num_speeds=3, aux_hidden=5, head_batch_norm=head_batch_norm, dtype="float64", name="te")
    got = {k: float(v) for k, v in objective(taps, context=context(labels=labels), training=True).items()}

    f_p, f_q = (taps[v]["block5"].mean(axis=(1, 2, 3)) for v in "pq")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(objective.embedding(taps["p"])), f_p, rtol=1e-12)
    heads = objective.heads
    widths = {term: [la.units for la in head.layers if isinstance(la, keras.layers.Dense)] for term, head in heads.items()}
    norms = {sum(isinstance(la, keras.layers.BatchNormalization) for la in head.layers) for head in heads.values()}
    assert norms == ({1, 2} if head_batch_norm else {0})  # one per hidden layer
    assert widths == {"inst": [dim] * 3, "equi": [dim] * 3, "speed": [5, 3], "direction": [5, 2], "order": [5, 3]}
    inputs = {term: head.layers[0].kernel.shape[0] for term, head in heads.items()}
    assert inputs == {"inst": dim, "equi": 2 * dim, "speed": dim, "direction": dim, "order": 2 * dim}
    pairs = np.arange(batch) // 2
    ids = {"temporal": IDS, "spatial": pairs, "spatiotemporal": pairs * 1000 + IDS}[equivariance]
    want = {}
    want["inst"], want["inst_acc"] = numpy_inst(numpy_mlp(heads["inst"], f_p), numpy_mlp(heads["inst"], f_q), lam)
    want["equi"], want["equi_acc"] = numpy_equi(numpy_mlp(heads["equi"], np.concatenate([f_p, f_q], 1)), ids, lam)
    want["equi_kept"] = np.mean(ids == ids[np.arange(batch) ^ 1])
    for term in ("speed", "direction"):
        want[term], want[f"{term}_acc"] = numpy_classifier(
            numpy_mlp(heads[term], np.concatenate([f_p, f_q])),
            np.concatenate([labels[f"te_{term}_p"], labels[f"te_{term}_q"]]))
    want["order"], want["order_acc"] = numpy_classifier(
        numpy_mlp(heads["order"], np.concatenate([f_p, f_q], 1)), labels["te_order"])
    want["loss"] = sum(weights[t] * want[t] for t in TERMS)
    assert set(got) == set(want)
    for key, value in want.items():
        np.testing.assert_allclose(got[key], value, rtol=1e-10, atol=1e-12, err_msg=key)
    assert want["equi_kept"] == (1.0 if equivariance == "spatial" else 0.75)


@pytest.mark.parametrize("terms, equivariance, labels, heads", [
    (("inst",), "temporal", (), ("phi",)),  # Table 1 (a), (e)
    (("equi",), "temporal", ("te_transform_id",), ("psi",)),  # (f)
    (("inst", "equi"), "spatial", (), ("phi", "psi")),  # (b)
    (("speed",), "temporal", ("te_speed_p", "te_speed_q"), ("speed_head",)),
    (("speed", "order"), "temporal", ("te_speed_p", "te_speed_q", "te_order"), ("speed_head", "order_head")),
    (("speed", "direction", "order"), "temporal", ALL_LABELS[1:],
     ("speed_head", "direction_head", "order_head")),  # (g)
    (TERMS, "spatiotemporal", ALL_LABELS, ("phi", "psi", "speed_head", "direction_head", "order_head")),  # (c)
])
def test_switched_off_terms_leave_no_logs_labels_or_heads(terms, equivariance, labels, heads):
    rng = np.random.default_rng(1)
    objective = TEObjective(terms=terms, equivariance=equivariance)
    assert tuple(objective.labels) == labels
    taps = {v: {"block5": rng.normal(size=(8, 1, 2, 2, 4)).astype("float32")} for v in "pq"}
    out = objective(taps, context=context(labels={k: v for k, v in random_labels(rng, 8).items() if k in labels}))
    logs = {"loss"} | {t for t in terms} | {f"{t}_acc" for t in terms} | ({"equi_kept"} if "equi" in terms else set())
    assert set(out) == logs
    assert sorted(h.name for h in objective.heads.values()) == sorted(heads)
    np.testing.assert_allclose(float(out["loss"]), sum(float(out[t]) for t in terms), rtol=1e-6)


def test_bad_arguments_and_an_odd_local_batch_are_named():
    for kwargs, message in [
        (dict(terms=("inst", "speeds")), "terms must be distinct names"),
        (dict(terms=()), "terms must be"),
        (dict(weights=(1.0, 1.0)), r"weights must be one number >= 0 per term.*\(1.0, 1.0\)"),
        (dict(weights=(1, 1, 1, -1, 1)), "weights must be"),
        (dict(equivariance="both"), "equivariance must be one of.*'both'"),
        (dict(temperature=0.0), "temperature must be > 0, received 0.0"),
        (dict(num_speeds=5), "num_speeds must be an integer in 1..4, received 5"),
        (dict(aux_hidden=0), "aux_hidden must be None or a positive integer, received 0"),
    ]:
        with pytest.raises(ValueError, match=message):
            TEObjective(**kwargs)
    taps = {v: {"block5": np.ones((3, 1, 1, 1, 4), "float32")} for v in "pq"}
    with pytest.raises(ValueError, match="even local batch; received 3 clips"):
        TEObjective(terms=("equi",), equivariance="spatial")(taps)
    assert set(TEObjective(terms=("inst",))(taps)) == {"loss", "inst", "inst_acc"}  # no pairs needed


@pytest.mark.parametrize("num_speeds", [2, 4])
def test_labels_and_speed_classes_match_the_te_recipe(num_speeds):
    from data import recipes

    objective = TEObjective(num_speeds=num_speeds, equivariance="spatiotemporal")
    layout = packing.make_layout(objective.views, objective.labels, SHAPE)
    [(recipe, wanted)] = recipes.assign(layout, [recipes.TERecipe(num_speeds=num_speeds)], SHAPE[0])
    assert wanted == {"p", "q", *ALL_LABELS}
    objective.build({v: {"block5": (None, 1, 1, 1, 8)} for v in "pq"})
    assert objective.heads["speed"].layers[-1].units == num_speeds


def test_hdc_and_te_train_together_and_round_trip_through_keras_file(tmp_path):
    keras.utils.set_random_seed(2)
    backbone = models.build_backbone("c3d", input_shape=SHAPE, width_multiplier=0.125)
    objective = Composite([HDCObjective(sc_blocks=(5,), tc_blocks=(), name="hdc"), TEObjective(name="te")],
                          weights=(1.0, 0.5))
    model = HDCModel(backbone, objective)
    assert model.input_views == ("o", "s", "p", "q")
    rng = np.random.default_rng(2)
    values = random_labels(rng, 4, ids=[3, 3, 8, 8])
    inputs = numpy_pack(rng.integers(0, 256, (4, 4) + SHAPE, dtype=np.uint8),
                        [values[f.name] for f in model.layout if f.kind == packing.LABEL])
    model.compile(optimizer="sgd")
    history = model.fit(tf.data.Dataset.from_tensors(inputs), epochs=1, verbose=0)
    assert {"hdc/loss", "te/loss", "te/equi", "te/equi_kept", "te/order_acc"} <= set(history.history)
    assert history.history["te/equi_kept"] == [1.0]
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    assert loaded.objective.parts[1].get_config() == objective.parts[1].get_config()
    assert len(model.weights) == len(loaded.weights) > 0
    for a, b in zip(model.weights, loaded.weights):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b), err_msg=a.path)
    for key, value in model(inputs).items():
        np.testing.assert_allclose(float(loaded(inputs)[key]), float(value), rtol=1e-6, err_msg=key)


def test_two_replicas_equal_one_device(tmp_path):
    """tests/scripts/te_replica_step.py: 3 steps on 2 logical CPUs (MirroredStrategy)
    and on one device, float64: the same logs (the script checks equi_kept) and weights."""
    script = os.path.join(ROOT, "tests", "scripts", "te_replica_step.py")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    runs = {"one": [], "mirrored": ["2"]}
    procs = {name: subprocess.Popen([sys.executable, script, str(tmp_path / f"{name}.npz"), name, *extra], env=env,
                                    cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for name, extra in runs.items()}
    for proc in procs.values():
        output, _ = proc.communicate(timeout=400)
        assert proc.returncode == 0, output[-4000:]
    a, b = np.load(tmp_path / "one.npz"), np.load(tmp_path / "mirrored.npz")
    assert a.files == b.files and len([k for k in a.files if k.startswith("w")]) > 50
    assert {"log_loss", "log_inst", "log_equi", "log_speed", "log_direction", "log_order"} <= set(a.files)
    for key in a.files:
        np.testing.assert_allclose(a[key], b[key], rtol=0, atol=1e-9, err_msg=key)

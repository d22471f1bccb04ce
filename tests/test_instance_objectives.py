"""videoSimCLR and videoMoCo objectives end to end against numpy: the MLP head
and NT-Xent; MoCo's EMA update, key encoder, loss and FIFO queue."""

import keras
import numpy as np
import pytest

import models
from hdc.model import HDCModel
from hdc.objectives import MoCoObjective, SimCLRObjective
from test_instance_losses import numpy_moco, numpy_nt_xent

SHAPE = (8, 32, 32, 3)


def numpy_head(layer, x):
    """Dense layers with ReLU between, from the layer's own weights, float64."""
    weights = [np.float64(w) for w in layer.get_weights()]
    for i in range(0, len(weights), 2):
        x = x @ weights[i] + weights[i + 1]
        if i + 2 < len(weights):
            x = np.maximum(x, 0)
    return x


def test_simclr_objective_matches_numpy():
    rng = np.random.default_rng(0)
    objective = SimCLRObjective(hidden=(16,), out_dim=8, temperature=0.3)
    taps = {v: {"block5": rng.normal(size=(5, 1, 2, 2, 12)).astype("float32")} for v in "ab"}
    out = objective(taps)
    z = {v: numpy_head(objective.head, np.float64(taps[v]["block5"]).mean(axis=(1, 2, 3))) for v in "ab"}
    np.testing.assert_allclose(float(out["loss"]), numpy_nt_xent(z["a"], z["b"], 0.3), rtol=1e-5)
    assert len(objective.head.layers) == 2 and objective.head.layers[0].activation.__name__ == "relu"


def moco_model(**kwargs):
    keras.utils.set_random_seed(1)
    backbone = models.build_backbone("c3d", input_shape=SHAPE, width_multiplier=0.125)
    return HDCModel(backbone, MoCoObjective(**kwargs))


def test_moco_step_updates_the_key_encoder_then_encodes_keys_then_enqueues():
    model = moco_model(version=2, dim=8, hidden=16, queue_size=6, momentum=0.8)
    moco, backbone = model.objective, model.backbone
    # Make θ_k differ from θ_q, so that the update is visible.
    for ema in moco.key_backbone.ema + moco.key_head.ema:
        ema.assign(ema.numpy() * 0.5)
    theta_q = [w.numpy() for w in backbone.trainable_weights + moco.head.trainable_weights]
    theta_k = [w.numpy() for w in moco.key_backbone.ema + moco.key_head.ema]
    queue_before = moco.queue.values.numpy()
    rng = np.random.default_rng(2)
    views = rng.integers(0, 256, (3, 2) + SHAPE, dtype=np.uint8)
    out = model.objective_outputs(views, training=True)
    want = [0.8 * k + 0.2 * q for k, q in zip(theta_k, theta_q)]
    for got, expected in zip(moco.key_backbone.ema + moco.key_head.ema, want):
        np.testing.assert_allclose(got.numpy(), expected, rtol=1e-6, atol=1e-7)
    # Keys from a separate model holding the updated EMA weights.
    key_backbone = models.build_backbone("c3d", input_shape=SHAPE, width_multiplier=0.125)
    key_backbone.set_weights(want[: len(backbone.trainable_weights)])
    key_head = keras.models.clone_model(moco.head)
    key_head.set_weights(want[len(backbone.trainable_weights):])
    clips = views.astype("float32") / 127.5 - 1.0
    k = numpy_head(key_head, keras.ops.convert_to_numpy(key_backbone(clips[:, 1])["block5"]).mean(axis=(1, 2, 3)))
    q = numpy_head(moco.head, keras.ops.convert_to_numpy(backbone(clips[:, 0])["block5"]).mean(axis=(1, 2, 3)))
    loss, _ = numpy_moco(q, k, queue_before, 0.07)
    np.testing.assert_allclose(float(out["loss"]), loss, rtol=1e-4)
    unit = k / np.linalg.norm(k, axis=1, keepdims=True)
    np.testing.assert_allclose(moco.queue.values.numpy()[:3], unit, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(moco.queue.values.numpy()[3:], queue_before[3:])
    assert int(moco.queue.count.numpy()) == 3


def test_moco_queue_holds_the_last_k_keys_and_checks_its_size():
    model = moco_model(version=1, dim=4, queue_size=4, momentum=0.0)  # m = 0: keys = the online encoder
    rng = np.random.default_rng(3)
    keys = []
    for _ in range(3):
        views = rng.integers(0, 256, (2, 2) + SHAPE, dtype=np.uint8)
        model.objective_outputs(views, training=True)
        clips = views[:, 1].astype("float32") / 127.5 - 1.0
        k = model.objective.embedding(model.backbone(clips))
        keys.append(keras.ops.convert_to_numpy(k / keras.ops.norm(k, axis=1, keepdims=True)))
    # 6 keys through a queue of 4: positions 0,1 ← step 3; 2,3 ← step 2.
    np.testing.assert_allclose(model.objective.queue.values.numpy(), np.concatenate([keys[2], keys[1]]),
                               rtol=1e-4, atol=1e-5)
    bad = moco_model(version=1, dim=4, queue_size=5)
    with pytest.raises(ValueError, match="multiple of the global batch 2"):
        bad.objective_outputs(rng.integers(0, 256, (2, 2) + SHAPE, dtype=np.uint8), training=True)
    with pytest.raises(ValueError, match="version must be 1 or 2"):
        MoCoObjective(version=3)

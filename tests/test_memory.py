"""Memory of the training step (issue 19): the instance norm's fused gradient
against numpy and Keras' own layer, backbone rematerialisation against the
plain backward pass, and the estimate ``train.py`` prints before the first step."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import models
from hdc import memory
from hdc.config import REMAT_BLOCKS
from hdc.model import HDCModel
from hdc.objectives import HDCObjective
from models.layers import GroupNormalization, instance_norm


def numpy_instance_norm(x, gamma, beta, epsilon=1e-5):
    mean = x.mean(axis=(1, 2, 3), keepdims=True)
    return (x - mean) / np.sqrt(x.var(axis=(1, 2, 3), keepdims=True) + epsilon) * gamma + beta


def norm_and_grads(layer, x, dy):
    """Output and the gradients of sum(output · dy) for x, gamma and beta."""
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x)
        loss = tf.reduce_sum(y * tf.cast(dy, y.dtype))
    return [y.numpy()] + [g.numpy() for g in tape.gradient(loss, [x, layer.gamma.value, layer.beta.value])]


def built_norm(cls, shape, gamma, beta, dtype=None):
    layer = cls(groups=-1, epsilon=1e-5, dtype=dtype)
    layer.build(shape)
    layer.set_weights([gamma, beta])
    return layer


def test_instance_norm_gradients_match_numpy_finite_differences():
    rng = np.random.default_rng(0)
    x = rng.normal(3.0, 2.0, (2, 3, 4, 2, 3))  # float64 throughout: differences far below the tolerances
    gamma, beta, dy = rng.normal(size=3), rng.normal(size=3), rng.normal(size=x.shape)
    layer = built_norm(GroupNormalization, x.shape, gamma, beta, dtype="float64")
    y, dx, dgamma, dbeta = norm_and_grads(layer, x, dy)
    np.testing.assert_allclose(y, numpy_instance_norm(x, gamma, beta), atol=1e-12)
    loss = lambda x, g, b: np.sum(numpy_instance_norm(x, g, b) * dy)  # noqa: E731
    h = 1e-6
    numeric = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[index] = h
        numeric[index] = (loss(x + step, gamma, beta) - loss(x - step, gamma, beta)) / (2 * h)
    np.testing.assert_allclose(dx, numeric, atol=1e-6)
    eye = np.eye(3) * h
    np.testing.assert_allclose(dgamma, [(loss(x, gamma + e, beta) - loss(x, gamma - e, beta)) / (2 * h) for e in eye],
                               rtol=1e-6)
    np.testing.assert_allclose(dbeta, dy.sum(axis=(0, 1, 2, 3)), rtol=1e-12)  # d/dbeta by hand


@pytest.mark.parametrize("policy", ["float32", "mixed_float16"])
def test_instance_norm_matches_keras_group_normalization(policy):
    """The old computation (Keras' layer, autodiff) and the new one agree to float32 rounding
    (float16 rounding of the output under mixed precision)."""
    rng = np.random.default_rng(1)
    x = rng.normal(2.0, 3.0, (2, 4, 5, 6, 8)).astype("float32")
    gamma, beta = rng.normal(size=8).astype("float32"), rng.normal(size=8).astype("float32")
    dy = rng.normal(size=x.shape).astype("float32")
    keras.mixed_precision.set_global_policy(policy)
    try:
        old, new = (norm_and_grads(built_norm(cls, x.shape, gamma, beta), x, dy)
                    for cls in (keras.layers.GroupNormalization, GroupNormalization))
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert new[0].dtype == old[0].dtype == ("float16" if policy == "mixed_float16" else "float32")
    tolerance = 1e-5 if policy == "float32" else 2e-3
    for a, b in zip(old, new):
        np.testing.assert_allclose(b.astype("float32"), a.astype("float32"), rtol=tolerance,
                                   atol=tolerance * np.abs(a.astype("float32")).max())


def test_weights_saved_with_keras_group_normalization_load(tmp_path):
    """Weight files name layers by class: ours keeps Keras' name, so old checkpoints load."""
    inputs = keras.Input((4, 5, 6, 3))
    old = keras.Model(inputs, keras.layers.GroupNormalization(groups=-1, epsilon=1e-5)(inputs))
    old.set_weights([np.array([1.0, 2.0, 3.0]), np.array([-1.0, 0.0, 1.0])])
    old.save_weights(tmp_path / "old.weights.h5")
    inputs = keras.Input((4, 5, 6, 3))
    new = keras.Model(inputs, instance_norm(inputs, "norm"))
    new.load_weights(tmp_path / "old.weights.h5")
    x = np.random.default_rng(2).normal(size=(2, 4, 5, 6, 3)).astype("float32")
    np.testing.assert_allclose(new(x), numpy_instance_norm(x, [1.0, 2.0, 3.0], [-1.0, 0.0, 1.0]), atol=1e-5)


def tiny_model(name, remat):
    backbone = models.build_backbone(name, input_shape=(16, 32, 32, 3), width_multiplier=0.125,
                                     kernel_regularizer=5e-5, remat=remat)
    return HDCModel(backbone, HDCObjective())


def loss_and_grads(model, clips):
    with tf.GradientTape() as tape:
        loss = model.objective_outputs(clips, training=True)["loss"] + model.weight_decay()
    return float(loss), [g.numpy() for g in tape.gradient(loss, model.trainable_variables)]


@pytest.mark.parametrize("name", ["c3d", "r2plus1d10"])
def test_remat_keeps_loss_and_gradients_and_recomputes_its_blocks(name):
    clips = np.random.default_rng(3).integers(0, 256, (2, 3, 16, 32, 32, 3), dtype=np.uint8)
    plain, rematted = tiny_model(name, ()), tiny_model(name, ("block1", "block3"))
    rematted.set_weights(plain.get_weights())
    calls = {}
    for layer in rematted.backbone.layers:  # count every forward call of each norm
        if isinstance(layer, GroupNormalization):
            def counted(x, call=layer.call, layer_name=layer.name):
                calls[layer_name] = calls.get(layer_name, 0) + 1
                return call(x)
            layer.call = counted
    loss, grads = loss_and_grads(plain, clips)
    remat_loss, remat_grads = loss_and_grads(rematted, clips)
    assert remat_loss == pytest.approx(loss, rel=1e-6)
    for a, b in zip(grads, remat_grads):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5 * np.abs(a).max())
    block1 = {"c3d": "c3d_conv1a_norm", "r2plus1d10": "r2plus1d10_stem_spatial_norm"}[name]
    block2 = {"c3d": "c3d_conv2a_norm", "r2plus1d10": "r2plus1d10_stage1_block1_norm1"}[name]
    assert calls[block1] == 2 and calls[block2] == 1  # block1 ran again in the backward pass, block2 did not


def test_remat_round_trips_and_rejects_unknown_blocks():
    assert REMAT_BLOCKS == models.TAP_NAMES  # train.py's names are the backbone's blocks
    model = models.build_backbone("c3d", input_shape=(8, 32, 32, 3), remat=("block3", "block1"))
    assert model.remat == ("block1", "block3")
    assert type(model).from_config(model.get_config()).remat == ("block1", "block3")
    with pytest.raises(ValueError, match="remat must be distinct block names"):
        models.build_backbone("c3d", input_shape=(8, 32, 32, 3), remat=("block6",))


PAPER = dict(backbone="c3d", clip_shape=(16, 112, 112, 3), batch_size=128, views=3)


def test_estimate_scales_with_clips_and_clip_volume():
    mb = memory.PER_CLIP_MB["c3d"]["float32"]
    one = memory.per_clip_bytes("c3d", False, (), (16, 112, 112, 3))
    assert one == pytest.approx(mb * 2**20)
    assert memory.per_clip_bytes("c3d", False, (), (8, 56, 56, 3)) == pytest.approx(one / 8)
    activations, fixed = memory.estimate_bytes("c3d", False, (), (16, 112, 112, 3), clips=384)
    assert activations == pytest.approx(384 * one) and fixed == pytest.approx(5 * 4 * 27.66e6)
    half, _ = memory.estimate_bytes("c3d", True, (), (16, 112, 112, 3), clips=384)
    assert half < activations


def test_memory_message_names_the_options_when_the_step_cannot_fit():
    message = memory.fit_message(**PAPER, mixed_precision=False, remat=(), replicas=1, device_bytes=8e9)
    for option in ("more devices", "--mixed-precision", "--remat all", "--batch-size"):
        assert option in message, option
    assert "c3d" in message and "384 clips" in message
    # Enough devices, or no device limit (a CPU): nothing to say.
    activations, fixed = memory.estimate_bytes("c3d", False, (), (16, 112, 112, 3), clips=384 / 64)
    assert memory.fit_message(**PAPER, mixed_precision=False, remat=(), replicas=64,
                              device_bytes=activations + fixed + 1) is None
    assert memory.fit_message(**PAPER, mixed_precision=False, remat=(), replicas=1, device_bytes=None) is None
    # Options already taken are not offered again.
    taken = memory.fit_message(**PAPER, mixed_precision=True, remat=REMAT_BLOCKS, replicas=1, device_bytes=8e9)
    assert "--mixed-precision" not in taken and "--remat all" not in taken and "more devices" in taken


@pytest.mark.parametrize("objectives, blocks", [(("hdc",), {}), (("hdc",), {"tc_blocks": ()}),
                                                (("simclr",), {}), (("moco",), {}), (("te",), {}), (("mlfo",), {})])
def test_clips_per_video_follows_the_objectives_views(objectives, blocks):
    from hdc import families
    from hdc.config import TrainConfig

    config = TrainConfig(objectives=objectives, **blocks)
    objective = families.build_objective(config)
    assert memory.clips_per_video(config) == sum(objective.view_frames.get(v, 1) for v in objective.views)


def test_train_py_stops_before_the_first_step_and_writes_nothing_when_the_gpus_are_too_small(
        tmp_path, monkeypatch, capsys):
    """The paper's C3D clips at batch 64 (the small synthetic set has 80 videos; ~42 GB by the
    estimate) against one simulated 8 GB GPU: exit 2 with the options, before the model is
    built or --out is created."""
    import train

    monkeypatch.setattr(memory, "visible_gpu_bytes", lambda: [8e9])
    out = tmp_path / "never"
    code = train.main(["--preset", "paper", "--backbone", "c3d", "--batch-size", "64", "--data", "synthetic", "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 2 and not out.exists()
    assert "Estimated step memory per replica" in captured.out
    error = captured.err
    assert error.startswith("error: --backbone c3d at --batch-size 64 (192 clips of 16×112×112"), error
    for option in ("more devices", "--mixed-precision", "--remat all", "a smaller --batch-size"):
        assert option in error, option

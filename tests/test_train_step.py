"""One training step through ``fit`` against an independent computation: the
loss with its L2 term and the SGD-momentum update written by hand, and the
schedules' values at chosen steps against their formulas."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

import models
from hdc import optim
from hdc.model import HDCModel
from hdc.objectives import HDCObjective

SHAPE = (8, 32, 32, 3)


def test_two_fit_steps_equal_hand_written_sgd_momentum_with_l2():
    keras.config.set_floatx("float64")
    keras.config.set_dtype_policy("float64")
    try:
        keras.utils.set_random_seed(0)
        backbone = models.build_backbone("r2plus1d10", input_shape=SHAPE, kernel_regularizer=1e-2, width_multiplier=0.125)
        model = HDCModel(backbone, HDCObjective(sc_blocks=(5,), tc_blocks=(4, 5)))
        views = np.random.default_rng(0).integers(0, 256, (2, 3, 3) + SHAPE, dtype=np.uint8)  # 2 steps of 3 videos
        model(views[0])
        start = [w.numpy().copy() for w in model.trainable_weights]
        lr, decay, momentum = 0.05, 0.5, 0.9
        model.compile(optimizer=optim.make_optimizer("sgd", lr, momentum, "inverse-time", decay))
        model.fit(tf.data.Dataset.from_tensor_slices(views), epochs=1, verbose=0, shuffle=False)
        fitted = [w.numpy().copy() for w in model.trainable_weights]

        # By hand from the same start: loss + λ·Σk² over the conv kernels (Keras holds λ = 1e-2 in
        # float32), Keras' SGD momentum
        # (v ← m·v − lr_t·g; w ← w + v) with lr_t = lr / (1 + decay·t), which Keras' schedule computes in float32.
        for w, value in zip(model.trainable_weights, start):
            w.assign(value)
        kernels = [w for w in model.trainable_weights if len(w.shape) == 5]
        velocity = [np.zeros_like(v) for v in start]
        for step in range(len(views)):
            with tf.GradientTape() as tape:
                loss = model.objective_outputs(views[step], training=True)["loss"]
                loss += np.float64(np.float32(1e-2)) * tf.add_n([tf.reduce_sum(tf.square(k.value)) for k in kernels])
            grads = [g.numpy() for g in tape.gradient(loss, model.trainable_variables)]
            rate = np.float64(np.float32(lr) / (np.float32(1) + np.float32(decay) * np.float32(step)))  # Keras: float32
            velocity = [momentum * v - rate * g for v, g in zip(velocity, grads)]
            for w, v in zip(model.trainable_weights, velocity):
                w.assign(w.numpy() + v)
        for w, want in zip(model.trainable_weights, fitted):
            # Step 1 matches to 1e-13; step 2 to ~2e-8 (the float32 schedule value): far below what
            # a wrong momentum, learning rate or L2 factor changes (~1e-3).
            np.testing.assert_allclose(w.numpy(), want, rtol=1e-7, atol=1e-7, err_msg=w.path)
        assert any(not np.allclose(a, b) for a, b in zip(start, fitted))
    finally:
        keras.config.set_floatx("float32")
        keras.config.set_dtype_policy("float32")


@pytest.mark.parametrize("step", [0, 1, 10, 1000])
def test_inverse_time_schedule(step):
    schedule = optim.learning_rate_schedule(0.1, "inverse-time", decay=1e-4)
    np.testing.assert_allclose(float(schedule(step)), 0.1 / (1 + 1e-4 * step), rtol=1e-6)


@pytest.mark.parametrize("step", [0, 5, 10, 55, 100])
def test_cosine_schedule_with_warmup(step):
    schedule = optim.learning_rate_schedule(3e-4, "cosine", total_steps=100, warmup_steps=10)
    want = 3e-4 * step / 10 if step < 10 else 3e-4 * 0.5 * (1 + math.cos(math.pi * (step - 10) / 90))
    np.testing.assert_allclose(float(schedule(step)), want, rtol=1e-5, atol=1e-12)

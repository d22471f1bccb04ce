"""Optimiser and learning-rate schedules (HDC §3.3, §4).

The paper trains "with stochastic gradient descent with learning rate 0.1,
momentum 0.9, decay 0.0001" in Keras. Keras' legacy ``decay`` argument is
time-based decay applied every step, lr_t = lr_0 / (1 + decay·t), which is
``InverseTimeDecay(lr_0, decay_steps=1, decay_rate=decay)``. The L2
regulariser (5e-5) lives on the conv kernels, not in the optimiser.
"""

import keras


def learning_rate_schedule(lr, schedule="inverse-time", decay=1e-4, total_steps=None, warmup_steps=0):
    """The schedule: "inverse-time" (paper; HDC† = smaller ``decay``) or
    "cosine" (to 0 over ``total_steps`` after ``warmup_steps`` of linear warm-up)."""
    if schedule == "inverse-time":
        return keras.optimizers.schedules.InverseTimeDecay(lr, decay_steps=1, decay_rate=decay)
    if schedule == "cosine":
        if not total_steps or total_steps <= warmup_steps:
            raise ValueError(
                f"cosine schedule needs total_steps > warmup_steps, received {total_steps} and {warmup_steps}"
            )
        return keras.optimizers.schedules.CosineDecay(
            0.0 if warmup_steps else lr,
            decay_steps=total_steps - warmup_steps,
            warmup_target=lr if warmup_steps else None,
            warmup_steps=warmup_steps,
        )
    raise ValueError(f"schedule must be 'inverse-time' or 'cosine', received {schedule!r}")


def make_optimizer(
    name="sgd", lr=0.1, momentum=0.9, schedule="inverse-time", decay=1e-4, total_steps=None, warmup_steps=0
):
    """"sgd" (with ``momentum``; the defaults are the paper's pretraining) or
    "adam" (Keras' defaults besides the rate; not in the paper — it learns
    faster from few steps, e.g. the CPU quality benchmark), on the schedule."""
    learning_rate = learning_rate_schedule(lr, schedule, decay, total_steps, warmup_steps)
    if name == "sgd":
        return keras.optimizers.SGD(learning_rate=learning_rate, momentum=momentum)
    if name == "adam":
        return keras.optimizers.Adam(learning_rate=learning_rate)
    raise ValueError(f"optimizer must be 'sgd' or 'adam', received {name!r}")

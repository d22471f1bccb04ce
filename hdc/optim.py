"""Optimisers and learning-rate schedules of the papers (all Keras built-ins).

- HDC (§3.3, §4): "stochastic gradient descent with learning rate 0.1,
  momentum 0.9, decay 0.0001" in Keras. Keras' legacy ``decay`` argument is
  time-based decay applied every step, lr_t = lr_0 / (1 + decay·t), which is
  ``InverseTimeDecay(lr_0, decay_steps=1, decay_rate=decay)``. The L2
  regulariser (5e-5) lives on the conv kernels, not in the optimiser.
- Time-equivariant (§3.4): AdamW (decoupled weight decay 1e-4), lr linearly
  warmed up to 3e-4, then cosine annealing: ``"adamw"`` + ``"cosine"``.
- Multi-level (§4.2): Adam, lr 1e-3 divided by 10 at 70% of training (70 of
  100 epochs on Kinetics-400, 200 of 300 on UCF101), weight decay 1e-5 as an
  L2 penalty: ``"adam"`` + ``"step"`` with milestones (0.7,).
"""

import keras

from hdc.config import OPTIMIZERS, SCHEDULES


def learning_rate_schedule(
    lr, schedule="inverse-time", decay=1e-4, total_steps=None, warmup_steps=0, milestones=(0.7,), factor=0.1
):
    """The schedule:

    - "inverse-time": lr / (1 + decay·t) (HDC; HDC† = smaller ``decay``);
    - "cosine": to 0 over ``total_steps`` after ``warmup_steps`` of linear warm-up;
    - "step": lr · factor^k after the k-th milestone (fractions of ``total_steps``).
    """
    if schedule == "inverse-time":
        return keras.optimizers.schedules.InverseTimeDecay(lr, decay_steps=1, decay_rate=decay)
    if schedule in ("cosine", "step") and not total_steps:
        raise ValueError(f"the {schedule} schedule needs total_steps, received {total_steps!r}")
    if schedule == "cosine":
        if total_steps <= warmup_steps:
            raise ValueError(
                f"cosine schedule needs total_steps > warmup_steps, received {total_steps} and {warmup_steps}"
            )
        return keras.optimizers.schedules.CosineDecay(
            0.0 if warmup_steps else lr,
            decay_steps=total_steps - warmup_steps,
            warmup_target=lr if warmup_steps else None,
            warmup_steps=warmup_steps,
        )
    if schedule == "step":
        if list(milestones) != sorted(milestones) or not all(0 < m < 1 for m in milestones):
            raise ValueError(f"milestones must be increasing fractions in (0, 1), received {tuple(milestones)}")
        boundaries = [int(round(m * total_steps)) for m in milestones]
        return keras.optimizers.schedules.PiecewiseConstantDecay(
            boundaries, [lr * factor**k for k in range(len(boundaries) + 1)]
        )
    raise ValueError(f"schedule must be one of {SCHEDULES}, received {schedule!r}")


def make_optimizer(
    name="sgd",
    lr=0.1,
    momentum=0.9,
    schedule="inverse-time",
    decay=1e-4,
    total_steps=None,
    warmup_steps=0,
    milestones=(0.7,),
    factor=0.1,
    adamw_weight_decay=1e-4,
):
    """"sgd" (with ``momentum``; the defaults are HDC's pretraining), "adam"
    (Keras' defaults besides the rate) or "adamw" (decoupled weight decay
    ``adamw_weight_decay``), on the schedule of ``learning_rate_schedule``."""
    learning_rate = learning_rate_schedule(lr, schedule, decay, total_steps, warmup_steps, milestones, factor)
    if name == "sgd":
        return keras.optimizers.SGD(learning_rate=learning_rate, momentum=momentum)
    if name == "adam":
        return keras.optimizers.Adam(learning_rate=learning_rate)
    if name == "adamw":
        return keras.optimizers.AdamW(learning_rate=learning_rate, weight_decay=adamw_weight_decay)
    raise ValueError(f"optimizer must be one of {OPTIMIZERS}, received {name!r}")

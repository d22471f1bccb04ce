"""Objective families by name, built from a ``TrainConfig``: what
``train.py --objectives hdc[,…]`` trains. A plain mapping (nothing registers
itself on import); a new family adds its builder here and its name to
``hdc.config.FAMILY_NAMES``."""

from hdc.config import FAMILY_NAMES
from hdc.objectives import Composite, HDCObjective, MoCoObjective, SimCLRObjective


def _hdc(config):
    return HDCObjective(
        sc_blocks=tuple(config.sc_blocks),
        tc_blocks=tuple(config.tc_blocks),
        alpha=tuple(config.alpha),
        beta=tuple(config.beta),
        temperature=config.temperature,
        proj_dim=config.proj_dim,
        name="hdc",
    )


def _simclr(config):
    return SimCLRObjective(
        hidden=(config.simclr_hidden,), out_dim=config.simclr_dim, temperature=config.simclr_temperature, name="simclr"
    )


def _moco(config):
    return MoCoObjective(
        version=config.moco_version,
        dim=config.moco_dim,
        hidden=config.moco_hidden,
        queue_size=config.moco_queue_size,
        momentum=config.moco_momentum,
        temperature=config.moco_temperature,
        name="moco",
    )


BUILDERS = {"hdc": _hdc, "simclr": _simclr, "moco": _moco}


def build_objective(config):
    """The ``Composite`` of ``config.objectives`` with ``config.objective_weights``
    (1 each when empty); every term is logged as ``"<family>/<term>"``."""
    parts = [BUILDERS[name](config) for name in config.objectives]
    return Composite(parts, weights=config.objective_weights or None, name="objectives")

"""Objective families by name, built from a ``TrainConfig``: what
``train.py --objectives hdc[,…]`` trains. A plain mapping (nothing registers
itself on import); a new family adds its builder here and its name to
``hdc.config.FAMILY_NAMES``."""

from hdc.config import FAMILY_NAMES
from hdc.objectives import Composite, HDCObjective, MLFOObjective, MoCoObjective, SimCLRObjective, TEObjective


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


def _te(config):
    return TEObjective(
        terms=tuple(config.te_terms),
        weights=tuple(config.te_weights),
        equivariance=config.te_equivariance,
        temperature=config.te_temperature,
        num_speeds=config.te_num_speeds,
        aux_hidden=config.te_aux_hidden or None,
        head_batch_norm=config.te_head_batch_norm,
        name="te",
    )


def _mlfo(config):
    return MLFOObjective(
        num_prototypes=config.mlfo_prototypes,
        queue_size=config.mlfo_queue_size,
        proj_dim=config.mlfo_proj_dim,
        hidden=config.mlfo_hidden or None,
        temperature=config.mlfo_temperature,
        proto_temperature=config.mlfo_proto_temperature,
        sinkhorn_epsilon=config.mlfo_sinkhorn_epsilon,
        sinkhorn_iterations=config.mlfo_sinkhorn_iterations,
        graph=config.mlfo_graph,
        graph_blocks=tuple(config.mlfo_graph_blocks),
        eta=config.mlfo_eta,
        temporal=config.mlfo_temporal,
        temporal_blocks=tuple(config.mlfo_temporal_blocks) or "auto",
        permutation_length=config.mlfo_permutation_length,
        me_reduction=config.mlfo_me_reduction,
        sem_weight=config.mlfo_sem_weight,
        level_weights=tuple(config.mlfo_level_weights),
        stage_split=config.mlfo_stage_split,
        name="mlfo",
    )


BUILDERS = {"hdc": _hdc, "simclr": _simclr, "moco": _moco, "te": _te, "mlfo": _mlfo}


def build_objective(config):
    """The ``Composite`` of ``config.objectives`` with ``config.objective_weights``
    (1 each when empty); every term is logged as ``"<family>/<term>"``."""
    parts = [BUILDERS[name](config) for name in config.objectives]
    return Composite(parts, weights=config.objective_weights or None, name="objectives")

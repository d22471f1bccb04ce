"""Self-supervised objectives: one module per family, all following the
contract of :mod:`hdc.objectives.base` (keras.ops and keras.layers only; no
TensorFlow import).

- ``HDCObjective`` (``hdc.objectives.hdc``): HDC's HD-NCE (Eqs. 4–6).
- ``SimCLRObjective`` (``simclr``), ``MoCoObjective`` (``moco``): videoSimCLR
  and videoMoCo v1/v2 (video-simclr-moco-thesis §3).
- ``TEObjective`` (``te``): time-equivariant contrast L_equi, the speed /
  direction / order classifiers L_aux and instance contrast L_inst
  (time-equivariant §3, Eqs. 1–3).
- ``MLFOObjective`` (``mlfo``): multi-level feature optimisation (L_ins,
  L_sem, the graph constraint L_mul, L_aug, L_ret; multi-level §3).
- ``Composite`` (``hdc.objectives.composite``): a weighted sum of several.
- ``MomentumCopy`` and ``Queue`` (``hdc.objectives.state``): the state
  blocks that momentum-encoder and queue objectives are built from.

Nothing registers itself by import side effect beyond Keras' serialisation
names; the caller hands the objective to the model.
"""

from hdc.objectives.base import Objective, context
from hdc.objectives.composite import Composite
from hdc.objectives.hdc import HDCObjective
from hdc.objectives.mlfo import MLFOObjective
from hdc.objectives.moco import MoCoObjective
from hdc.objectives.simclr import SimCLRObjective
from hdc.objectives.state import MomentumCopy, Queue
from hdc.objectives.te import TEObjective

__all__ = ["Composite", "HDCObjective", "MLFOObjective", "MoCoObjective", "MomentumCopy", "Objective", "Queue",
           "SimCLRObjective", "TEObjective", "context"]

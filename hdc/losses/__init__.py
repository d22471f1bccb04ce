"""Contrastive losses: pure functions of embeddings (``keras.ops`` only).

- ``hdc.losses.contrast``: InfoNCE and HDC's Spatial/Temporal Contrast and
  HD-NCE (HDC Eqs. 1–6), and the shared helpers;
- ``hdc.losses.instance``: videoSimCLR's NT-Xent and videoMoCo's queue loss
  (thesis Eqs. 1–2);
- ``hdc.losses.equivariance``: time-equivariant contrast of relative
  transformations L_equi and instance contrast L_inst (time-equivariant Eqs. 1–3).

Every name is re-exported here, e.g. ``hdc.losses.info_nce``.
"""

from hdc.losses.contrast import (  # noqa: F401
    HDC_BLOCKS,
    HDC_WEIGHTS,
    NORM_EPSILON,
    contrastive_logits,
    hd_nce,
    info_nce,
    info_nce_with_metrics,
    l2_normalize,
    loss_dtype,
    spatial_contrast,
    spatial_contrast_with_metrics,
    temporal_contrast,
    temporal_contrast_with_metrics,
)
from hdc.losses.equivariance import (  # noqa: F401
    equivariance_contrast,
    equivariance_contrast_with_metrics,
    instance_contrast,
    instance_contrast_with_metrics,
)
from hdc.losses.instance import moco_loss, moco_loss_with_metrics, nt_xent, nt_xent_with_metrics  # noqa: F401
from hdc.losses.multilevel import (  # noqa: F401
    GRAPH_KINDS,
    augmentation_contrast,
    graph_contrast,
    graph_targets,
    sinkhorn,
    swapped_prediction,
    timestamp_retrieval,
)

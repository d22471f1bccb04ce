"""Video backbones (keras only; importing this package never imports TensorFlow).

``build_backbone(name, input_shape=(16, 112, 112, 3), **kwargs)`` returns a
functional ``keras.Model`` whose output is ``{"block1": …, …, "block5": …}``,
each tap shaped (B, T, H, W, C).
"""

from models.backbone import TAP_NAMES, VideoBackbone
from models.c3d import C3D
from models.flops import conv_flops
from models.resnet import ResNet3D

BACKBONES = {
    "c3d": (C3D, {}),
    "r3d18": (ResNet3D, dict(stage_blocks=(2, 2, 2, 2), conv_unit="full", stem_kernel=(7, 7, 7), stem_pool=True)),
    "r2plus1d10": (
        ResNet3D,
        dict(stage_blocks=(1, 1, 1, 1), conv_unit="factorized", stem_kernel=(3, 7, 7), stem_pool=False),
    ),
}


def build_backbone(name, input_shape=(16, 112, 112, 3), **kwargs):
    """Build a backbone by name: "c3d", "r3d18" or "r2plus1d10".

    ``kwargs`` go to the constructor (``kernel_regularizer``, ``norm_epsilon``,
    ...). Raises ``ValueError`` for an unknown name or a bad clip shape.
    """
    if name not in BACKBONES:
        raise ValueError(f"Unknown backbone {name!r}; expected one of {sorted(BACKBONES)}")
    cls, defaults = BACKBONES[name]
    return cls(input_shape=input_shape, name=kwargs.pop("name", name), **{**defaults, **kwargs})


__all__ = ["BACKBONES", "TAP_NAMES", "C3D", "ResNet3D", "VideoBackbone", "build_backbone", "conv_flops"]

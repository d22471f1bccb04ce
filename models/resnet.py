"""3D ResNets with instance norm: 3D-ResNet18 (Hara et al. 2018) and
R(2+1)D-10 (Tran et al. 2018, with VCOP's layer sizes 1,1,1,1).

Both are the same stage builder given a different conv unit
(``models.layers.CONV_UNITS``): "full" t×k×k convolutions for 3D-ResNet18,
"factorized" 1×k×k → norm → ReLU → t×1×1 units for R(2+1)D. As HDC §3.3
prescribes, every batch norm is an instance norm and the classifier is removed.

Taps at a 16×112×112 clip (T×H×W, channels):

| tap    | 3D-ResNet18                     | R(2+1)D-10                 |
| ------ | ------------------------------- | -------------------------- |
| block1 | stem 7×7×7 /(1,2,2): 16×56×56×64 | stem (3,7,7) /(1,2,2): 16×56×56×64 |
| block2 | max-pool /2, stage 1: 8×28×28×64 | stage 1: 16×56×56×64       |
| block3 | stage 2 /2: 4×14×14×128          | stage 2 /2: 8×28×28×128    |
| block4 | stage 3 /2: 2×7×7×256            | stage 3 /2: 4×14×14×256    |
| block5 | stage 4 /2: 1×4×4×512            | stage 4 /2: 2×7×7×512      |

Total stride at block5: (16, 32, 32) for 3D-ResNet18, (8, 16, 16) for R(2+1)D-10.

``stem_time_pool=False`` keeps the time axis at 3D-ResNet18's stem pool (strides 1, 2, 2), as
the multi-level authors' network does ("both learning objectives are implemented on
multi-level features" needs time steps below block 5): 16/8/4/2 time steps at blocks 2-5 for
16 frames, total stride (8, 32, 32).
"""

import functools

import keras

from models.backbone import VideoBackbone
from models.layers import CONV_UNITS, instance_norm

STAGE_WIDTHS = (64, 128, 256, 512)


def apply_basic_block(x, filters, strides, name, conv_unit, regularizer, norm_epsilon):
    """BasicBlock: unit → norm → ReLU → unit → norm, + shortcut, ReLU.

    The shortcut is a 1×1×1 unit + norm (Hara's type B) when the shape changes.
    """
    unit = functools.partial(CONV_UNITS[conv_unit], kernel_regularizer=regularizer, norm_epsilon=norm_epsilon)
    shortcut = x
    if strides != 1 or x.shape[-1] != filters:
        shortcut = unit(x, filters, (1, 1, 1), (strides,) * 3, name=f"{name}_shortcut")
        shortcut = instance_norm(shortcut, f"{name}_shortcut_norm", norm_epsilon)
    x = unit(x, filters, (3, 3, 3), (strides,) * 3, name=f"{name}_conv1")
    x = instance_norm(x, f"{name}_norm1", norm_epsilon)
    x = keras.layers.ReLU(name=f"{name}_relu1")(x)
    x = unit(x, filters, (3, 3, 3), (1, 1, 1), name=f"{name}_conv2")
    x = instance_norm(x, f"{name}_norm2", norm_epsilon)
    x = keras.layers.Add(name=f"{name}_add")([x, shortcut])
    return keras.layers.ReLU(name=f"{name}_out")(x)


def apply_resnet_taps(
    inputs, regularizer, norm_epsilon, width, prefix, stage_blocks, conv_unit, stem_kernel, stem_pool, stem_time_pool
):
    unit = CONV_UNITS[conv_unit]
    x = unit(inputs, width(64), stem_kernel, (1, 2, 2), f"{prefix}_stem", kernel_regularizer=regularizer, norm_epsilon=norm_epsilon)
    x = instance_norm(x, f"{prefix}_stem_norm", norm_epsilon)
    x = keras.layers.ReLU(name=f"{prefix}_stem_relu")(x)
    taps = {"block1": x}
    if stem_pool:
        strides = (2 if stem_time_pool else 1, 2, 2)
        x = keras.layers.MaxPooling3D(3, strides, padding="same", name=f"{prefix}_stem_pool")(x)
    for stage, (blocks, channels) in enumerate(zip(stage_blocks, STAGE_WIDTHS)):
        for block in range(blocks):
            strides = 2 if stage > 0 and block == 0 else 1
            name = f"{prefix}_stage{stage + 1}_block{block + 1}"
            x = apply_basic_block(x, width(channels), strides, name, conv_unit, regularizer, norm_epsilon)
        taps[f"block{stage + 2}"] = x
    return taps


@keras.saving.register_keras_serializable(package="hdc_models")
class ResNet3D(VideoBackbone):
    """A 3D ResNet trunk of BasicBlocks with instance norm.

    Args:
        stage_blocks: BasicBlocks per stage (4 stages, widths 64…512).
        conv_unit: "full" (3D convolutions) or "factorized" (R(2+1)D units).
        stem_kernel: (t, k, k) of the stem convolution, spatial stride 2.
        stem_pool: a 3×3×3 stride-2 max-pool after the stem (Hara's 3D-ResNet).
        stem_time_pool: whether that pool halves time too (True, Hara's) or only
            space (the multi-level authors'; module docstring).
    """

    def __init__(
        self,
        stage_blocks=(2, 2, 2, 2),
        conv_unit="full",
        stem_kernel=(7, 7, 7),
        stem_pool=True,
        stem_time_pool=True,
        input_shape=(16, 112, 112, 3),
        name="r3d18",
        **kwargs,
    ):
        if conv_unit not in CONV_UNITS:
            raise ValueError(f"conv_unit must be one of {sorted(CONV_UNITS)}, received {conv_unit!r}")
        if len(stage_blocks) != 4 or min(stage_blocks) < 1:
            raise ValueError(f"stage_blocks must be 4 positive counts, received {stage_blocks!r}")
        stride = 16 if stem_pool else 8
        time_stride = stride if stem_time_pool else 8
        super().__init__(
            functools.partial(
                apply_resnet_taps,
                prefix=name,
                stage_blocks=tuple(stage_blocks),
                conv_unit=conv_unit,
                stem_kernel=tuple(stem_kernel),
                stem_pool=stem_pool,
                stem_time_pool=stem_time_pool,
            ),
            (time_stride, 2 * stride, 2 * stride),
            input_shape=input_shape,
            name=name,
            **kwargs,
        )
        self.stage_blocks = tuple(stage_blocks)
        self.conv_unit = conv_unit
        self.stem_kernel = tuple(stem_kernel)
        self.stem_pool = stem_pool
        self.stem_time_pool = stem_time_pool

    def get_config(self):
        return {
            **super().get_config(),
            "stage_blocks": list(self.stage_blocks),
            "conv_unit": self.conv_unit,
            "stem_kernel": list(self.stem_kernel),
            "stem_pool": self.stem_pool,
            "stem_time_pool": self.stem_time_pool,
        }

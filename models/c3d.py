"""C3D (Tran et al. 2015) as used by HDC §3.3: every convolution is followed by
instance norm and ReLU, and the three fully-connected layers are removed.

Taps at a 16×112×112 clip (T×H×W, channels):

| tap    | layers                      | T×H×W      | C   |
| ------ | --------------------------- | ---------- | --- |
| block1 | conv1a                      | 16×112×112 | 64  |
| block2 | pool1 (1,2,2), conv2a       | 16×56×56   | 128 |
| block3 | pool2 (2,2,2), conv3a, 3b   | 8×28×28    | 256 |
| block4 | pool3 (2,2,2), conv4a, 4b   | 4×14×14    | 512 |
| block5 | pool4 (2,2,2), conv5a, 5b   | 2×7×7      | 512 |

Taps are taken after each block's last ReLU, before its pooling; pool5 is
dropped with the classifier. Total stride at block5: (8, 16, 16).
"""

import functools

import keras

from models.backbone import VideoBackbone
from models.layers import conv3d, instance_norm

# (block, conv names, filters, pooling before the block)
C3D_BLOCKS = (
    ("block1", ("conv1a",), 64, None),
    ("block2", ("conv2a",), 128, (1, 2, 2)),
    ("block3", ("conv3a", "conv3b"), 256, (2, 2, 2)),
    ("block4", ("conv4a", "conv4b"), 512, (2, 2, 2)),
    ("block5", ("conv5a", "conv5b"), 512, (2, 2, 2)),
)


def apply_conv_norm_relu(x, filters, name, regularizer, norm_epsilon):
    """3×3×3 conv with bias → instance norm → ReLU."""
    x = conv3d(x, filters, 3, 1, f"{name}", True, regularizer)
    x = instance_norm(x, f"{name}_norm", norm_epsilon)
    return keras.layers.ReLU(name=f"{name}_relu")(x)


def apply_c3d_taps(inputs, regularizer, norm_epsilon, width, prefix):
    taps = {}
    x = inputs
    for tap, convs, filters, pool in C3D_BLOCKS:
        if pool is not None:
            x = keras.layers.MaxPooling3D(pool, pool, padding="same", name=f"{prefix}_pool_{tap}")(x)
        for conv in convs:
            x = apply_conv_norm_relu(x, width(filters), f"{prefix}_{conv}", regularizer, norm_epsilon)
        taps[tap] = x
    return taps


@keras.saving.register_keras_serializable(package="hdc_models")
class C3D(VideoBackbone):
    """C3D trunk with instance norm; see the module docstring for the taps."""

    def __init__(self, input_shape=(16, 112, 112, 3), name="c3d", **kwargs):
        super().__init__(
            functools.partial(apply_c3d_taps, prefix=name),
            (8, 16, 16),
            input_shape=input_shape,
            name=name,
            **kwargs,
        )

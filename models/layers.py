"""Building blocks shared by the backbones: instance norm and conv units.

Only ``keras`` is imported here, so the backbones build under the TensorFlow,
JAX and PyTorch backends alike.

Instance normalisation (HDC §3.3: every batch norm is replaced by instance
norm "to prevent cheating via batch statistics") is
``keras.layers.GroupNormalization(groups=-1)``: one group per channel,
statistics over (T, H, W) of each clip separately. ``tensorflow-addons``'
``InstanceNormalization`` is not usable under Keras 3.
"""

import keras

# torch.nn.InstanceNorm3d's epsilon; Keras' GroupNormalization default is 1e-3.
DEFAULT_NORM_EPSILON = 1e-5


def scaled_width(channels, multiplier):
    """``channels`` × ``multiplier``, rounded, at least 1."""
    return max(1, round(channels * multiplier))


def instance_norm(x, name, epsilon=DEFAULT_NORM_EPSILON):
    """Instance norm with a learned per-channel scale and offset."""
    return keras.layers.GroupNormalization(groups=-1, epsilon=epsilon, name=name)(x)


def conv3d(x, filters, kernel_size, strides, name, use_bias, kernel_regularizer):
    """A 'same'-padded 3D convolution (channels last)."""
    return keras.layers.Conv3D(
        filters,
        kernel_size,
        strides=strides,
        padding="same",
        use_bias=use_bias,
        kernel_regularizer=kernel_regularizer,
        name=name,
    )(x)


def full_conv_unit(x, filters, kernel_size, strides, name, kernel_regularizer, **_):
    """A plain t×k×k convolution without bias (it is followed by a norm)."""
    return conv3d(x, filters, kernel_size, strides, name, False, kernel_regularizer)


def factorized_width(in_channels, out_channels, kernel_size):
    """Intermediate width M of an R(2+1)D unit (Tran et al. 2018, §3.5).

    M = ⌊t·d²·N_in·N_out / (d²·N_in + t·N_out)⌋ keeps the parameter count of
    the t×d×d convolution it replaces.
    """
    t, d, _ = kernel_size
    return (t * d * d * in_channels * out_channels) // (d * d * in_channels + t * out_channels)


def factorized_conv_unit(
    x, filters, kernel_size, strides, name, kernel_regularizer, norm_epsilon=DEFAULT_NORM_EPSILON
):
    """R(2+1)D unit: spatial 1×d×d → instance norm → ReLU → temporal t×1×1.

    The spatial convolution takes the spatial stride, the temporal one the
    temporal stride, as in VCOP's R(2+1)D.
    """
    kernel_size = tuple(kernel_size)
    strides = tuple(strides)
    width = factorized_width(x.shape[-1], filters, kernel_size)
    x = conv3d(
        x, width, (1,) + kernel_size[1:], (1,) + strides[1:], f"{name}_spatial", False, kernel_regularizer
    )
    x = instance_norm(x, f"{name}_spatial_norm", norm_epsilon)
    x = keras.layers.ReLU(name=f"{name}_spatial_relu")(x)
    return conv3d(
        x, filters, kernel_size[:1] + (1, 1), strides[:1] + (1, 1), f"{name}_temporal", False, kernel_regularizer
    )


CONV_UNITS = {"full": full_conv_unit, "factorized": factorized_conv_unit}

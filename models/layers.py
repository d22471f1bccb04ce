"""Building blocks shared by the backbones: instance norm and conv units.

Only ``keras`` is imported here, so the backbones build under the TensorFlow,
JAX and PyTorch backends alike.

Instance normalisation (HDC §3.3: every batch norm is replaced by instance
norm "to prevent cheating via batch statistics") is
``keras.layers.GroupNormalization(groups=-1)``: one group per channel,
statistics over (T, H, W) of each clip separately, computed by this module's
``GroupNormalization`` subclass with a fused backward pass.
``tensorflow-addons``' ``InstanceNormalization`` is not usable under Keras 3.
"""

import keras
from keras import ops

# torch.nn.InstanceNorm3d's epsilon; Keras' GroupNormalization default is 1e-3.
DEFAULT_NORM_EPSILON = 1e-5


def scaled_width(channels, multiplier):
    """``channels`` × ``multiplier``, rounded, at least 1."""
    return max(1, round(channels * multiplier))


@keras.saving.register_keras_serializable(package="hdc_models")
class GroupNormalization(keras.layers.GroupNormalization):
    """Keras' ``GroupNormalization(groups=-1)`` (channels last) with a hand-written gradient.

    Same class name (weight files name a layer after its class), weights
    (gamma, beta), config and forward values as the Keras layer:
    statistics in float32 (float64 for float64 inputs), output in the
    layer's compute dtype. Autodiff through ``ops.moments`` builds the
    input's gradient from three full-size gradients (through the mean, the
    variance and the scale) and their sum; the fused gradient

        dx = γ·inv·(dy − mean(dy) − x̂·mean(dy·x̂)),   x̂ = (x − μ)·inv,

    keeps only ``x`` (in its own dtype) and the statistics from the forward
    pass and needs fewer full-size temporaries: C3D's step holds 208 instead
    of 263 MB per 16×112² clip (docs/performance.md, "Memory").
    """

    def build(self, input_shape):
        super().build(input_shape)
        if self.axis not in (-1, len(input_shape) - 1) or self.groups != input_shape[-1] or not (
            self.center and self.scale
        ):
            raise ValueError(
                f"{self.name}: instance norm needs groups=-1 (one per channel) on the last axis with center and "
                f"scale, received groups={self.groups}, axis={self.axis}, center={self.center}, scale={self.scale} "
                f"for input shape {input_shape}"
            )

    def call(self, inputs):
        dtype = "float64" if keras.backend.standardize_dtype(inputs.dtype) == "float64" else "float32"
        gamma, beta = (ops.cast(w, dtype) for w in (self.gamma, self.beta))
        return _instance_norm(inputs, gamma, beta, self.epsilon, dtype, self.compute_dtype)


def _instance_norm(x, gamma, beta, epsilon, dtype, output_dtype):
    """Normalise (B, *positions, C) over the positions in ``dtype``; see ``GroupNormalization``."""
    axes = tuple(range(1, len(x.shape) - 1))
    batch_axes = tuple(range(len(x.shape) - 1))

    @ops.custom_gradient
    def norm(x, gamma, beta):
        x_dtype = ops.cast(x, dtype)
        mean, variance = ops.moments(x_dtype, axes, keepdims=True)
        inv = ops.rsqrt(variance + epsilon)
        scale = inv * gamma
        y = ops.cast(x_dtype * scale + (beta - mean * scale), output_dtype)

        def grad(*args, upstream=None):
            dy = ops.cast(args[0] if upstream is None else upstream, dtype)
            centered = ops.cast(x, dtype) - mean
            sum_dy = ops.sum(dy, axes, keepdims=True)
            sum_dy_xhat = ops.sum(dy * centered, axes, keepdims=True) * inv
            count = 1
            for axis in axes:
                count = count * ops.shape(x)[axis]
            count = ops.cast(count, dtype)
            dx = dy * scale - (centered * (scale * inv * sum_dy_xhat / count) + scale * sum_dy / count)
            return ops.cast(dx, x.dtype), ops.sum(sum_dy_xhat, batch_axes), ops.sum(sum_dy, batch_axes)

        return y, grad

    return norm(x, gamma, beta)


def instance_norm(x, name, epsilon=DEFAULT_NORM_EPSILON):
    """Instance norm with a learned per-channel scale and offset."""
    return GroupNormalization(groups=-1, epsilon=epsilon, name=name)(x)


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

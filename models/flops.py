"""Forward FLOPs of a backbone's convolutions (2 FLOPs per multiply-add)."""

import math

import keras


def conv_flops(model):
    """FLOPs of one forward pass of one clip through every Conv3D of ``model``.

    Counts 2·(output positions)·(output channels)·(kernel volume)·(input
    channels) per convolution; norms, activations and pooling are excluded
    (they are < 1% of the total). The model's input shape must be fully known.
    """
    total = 0
    for layer in model._flatten_layers(include_self=False):
        if isinstance(layer, keras.layers.Conv3D):
            out_positions = math.prod(layer.output.shape[1:-1])
            kernel = layer.kernel.shape  # (t, h, w, in, out)
            total += 2 * out_positions * math.prod(kernel)
    return total

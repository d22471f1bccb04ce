"""Pooling of block taps into vectors for contrast (HDC §3.2, Fig. 3)."""

from keras import ops


def _check_tap(name, x):
    if len(x.shape) != 5:
        raise ValueError(f"{name}: expected a (B, T, H, W, C) feature map, received shape {tuple(x.shape)}")


def spatial_pool(x):
    """S-Avg pooling for Spatial Contrast: (B, T, H, W, C) -> (B, T, C).

    A 2D global average over H and W at every time step, so a clip gives N = T
    vectors (Eq. 4).
    """
    _check_tap("spatial_pool", x)
    return ops.mean(x, axis=(2, 3))


def global_pool(x):
    """G-Avg pooling for Temporal Contrast: (B, T, H, W, C) -> (B, C).

    A 3D global average over T, H and W, one vector per clip (Eq. 5).
    """
    _check_tap("global_pool", x)
    return ops.mean(x, axis=(1, 2, 3))

"""Spatial augmentation families: Φ of HDC (§3.1, §3.3) and the thesis' SimCLR-style family.

HDC draws each view as u = φ(x) with φ ~ Φ, where Φ holds "random spatial
cropping, scale jittering, horizontal flipping, color jittering, and channel
replication" (§3.3). Following the thesis §5.1 ("Chunk-way" beats
"Frame-way"), one parameter set is drawn per clip and the very same crop,
flip, colour and channel parameters are applied to every frame.

All randomness is stateless: every draw takes an explicit ``seed`` (a shape
[2] integer tensor) and goes through ``tf.random.stateless_*``, so a clip's
augmentation depends only on its seed, never on global state or thread timing.
Clips are uint8 in and uint8 out; resizing and colour compute in float32 inside.

``thesis_augment`` is the family of the videoSimCLR / videoMoCo thesis (§3 "Spatial
transformation", §5.1): random resized crop, flip, colour jitter, random grayscale and
Gaussian blur, per clip ("chunk") or per frame ("frame"), built from the same helpers.
"""

import dataclasses
import math

import tensorflow as tf


@dataclasses.dataclass(frozen=True)
class AugmentConfig:
    """Switches and strengths of the spatial family Φ (HDC §3.3, Table 2, §4.1).

    Every transform can be switched off on its own for the paper's ablations.
    """

    # Random crop with scale jitter: a box of area fraction U(scale) of the
    # sample square and aspect ratio log-U(ratio), resized to the view size.
    # Off: a plain random crop of exactly view size (no resizing).
    scale_jitter: bool = True
    scale: tuple = (0.3, 1.0)
    ratio: tuple = (3 / 4, 4 / 3)
    # Horizontal flip of the whole clip with probability flip_prob.
    flip: bool = True
    flip_prob: float = 0.5
    # Colour jitter, applied with probability color_prob: brightness and
    # contrast and saturation factors U(1 - s, 1 + s), hue shift U(-hue, hue)
    # (fraction of the hue circle). Strengths follow MoCo v2 / SimCLR (s = 0.5).
    color_jitter: bool = True
    color_prob: float = 0.8
    brightness: float = 0.4
    contrast: float = 0.4
    saturation: float = 0.4
    hue: float = 0.1
    # Channel replication [Lee et al., OPN]: with probability replication_prob
    # copy one uniformly chosen RGB channel to all three. 0.5 because Table 2
    # finds it the most important transform (-8.0 points without it) and OPN
    # applies it always, while 0.5 maximises the chance 2p(1-p) that exactly one
    # view of a positive pair lost its colour, and keeps half the views in colour.
    channel_replication: bool = True
    replication_prob: float = 0.5
    # Spatial augmentation of the temporal view u_t (HDC §4.1, "Spatial
    # augmentations in Temporal Contrast"). Off: u_t is the centre crop of its
    # sample square, the same square x_i was cut from.
    tc_spatial_aug: bool = True

    def __post_init__(self):
        _check_fields(self, ("flip_prob", "color_prob", "replication_prob"))


def _check_fields(config, probabilities):
    """Validate the probabilities named and the crop and colour-jitter fields both configs share."""
    cls = type(config).__name__
    for name in probabilities:
        value = getattr(config, name)
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{cls}.{name} must be in [0, 1], received {value}")
    lo, hi = config.scale
    if not 0.0 < lo <= hi <= 1.0:
        raise ValueError(f"{cls}.scale must satisfy 0 < lo <= hi <= 1, received {config.scale}")
    lo, hi = config.ratio
    if not 0.0 < lo <= hi:
        raise ValueError(f"{cls}.ratio must satisfy 0 < lo <= hi, received {config.ratio}")
    for name in ("brightness", "contrast", "saturation"):
        value = getattr(config, name)
        if not 0.0 <= value < 1.0:
            raise ValueError(f"{cls}.{name} must be in [0, 1), received {value}")
    if not 0.0 <= config.hue <= 0.5:
        raise ValueError(f"{cls}.hue must be in [0, 0.5], received {config.hue}")


def _uniform(seed, minval=0.0, maxval=1.0):
    return tf.random.stateless_uniform([], seed, minval=minval, maxval=maxval)


def _sub_seed(seed, k):
    return tf.random.experimental.stateless_fold_in(seed, k)


def random_box(seed, height, width, crop, config):
    """A random crop box (top, left, box_height, box_width), int32, in a height×width image.

    With ``config.scale_jitter`` the box has area fraction U(scale) of the image and
    aspect ratio log-uniform in ``ratio`` (clipped to the image); otherwise it is
    crop×crop (or the whole image side if smaller), at a uniformly random position.
    """
    height = tf.cast(height, tf.int32)
    width = tf.cast(width, tf.int32)
    if config.scale_jitter:
        area = tf.cast(height * width, tf.float32) * _uniform(_sub_seed(seed, 0), *config.scale)
        log_ratio = _uniform(_sub_seed(seed, 1), math.log(config.ratio[0]), math.log(config.ratio[1]))
        ratio = tf.exp(log_ratio)
        box_w = tf.cast(tf.round(tf.sqrt(area * ratio)), tf.int32)
        box_h = tf.cast(tf.round(tf.sqrt(area / ratio)), tf.int32)
    else:
        box_h = box_w = tf.constant(crop, tf.int32)
    box_h = tf.clip_by_value(box_h, 1, height)
    box_w = tf.clip_by_value(box_w, 1, width)
    top = tf.random.stateless_uniform([], _sub_seed(seed, 2), 0, height - box_h + 1, dtype=tf.int32)
    left = tf.random.stateless_uniform([], _sub_seed(seed, 3), 0, width - box_w + 1, dtype=tf.int32)
    return tf.stack([top, left, box_h, box_w])


def center_box(height, width, crop):
    """The centred crop×crop box (clipped to the image), as (top, left, h, w) int32."""
    height = tf.cast(height, tf.int32)
    width = tf.cast(width, tf.int32)
    box_h = tf.minimum(height, crop)
    box_w = tf.minimum(width, crop)
    return tf.stack([(height - box_h) // 2, (width - box_w) // 2, box_h, box_w])


def crop_resize(frames, box, size, flip=False):
    """The pixel box (top, left, h, w) of every frame, resized to size×size: float32 (N, size, size, C).

    frames: uint8 (N, H, W, C). Bilinear resizing (half-pixel centres); a box of exactly
    size×size is copied unchanged. ``flip`` (bool or scalar bool tensor) mirrors horizontally.
    """
    top, left, box_h, box_w = tf.unstack(tf.cast(box, tf.int32), num=4)
    clip = frames[:, top : top + box_h, left : left + box_w]
    clip = tf.cond(tf.convert_to_tensor(flip, tf.bool), lambda: tf.reverse(clip, [2]), lambda: clip)
    clip = tf.cond(
        tf.logical_and(tf.equal(box_h, size), tf.equal(box_w, size)),
        lambda: tf.cast(clip, tf.float32),
        lambda: tf.image.resize(clip, [size, size]),
    )
    return tf.ensure_shape(clip, [None, size, size, frames.shape[-1]])


_GRAY = (0.299, 0.587, 0.114)  # ITU-R BT.601 luma weights
_RGB_TO_YIQ = ((0.299, 0.587, 0.114), (0.596, -0.274, -0.322), (0.211, -0.523, 0.312))


def _hue_rotation(angle):
    """Rotation of the chroma (I, Q) plane in YIQ by ``angle`` radians, as an RGB matrix.

    The linear counterpart of an HSV hue shift: it keeps the gray axis (and luma) fixed.
    """
    to_yiq = tf.constant(_RGB_TO_YIQ, tf.float32)
    cos, sin = tf.cos(angle), tf.sin(angle)
    rotation = tf.stack([[1.0, 0.0, 0.0], [0.0, cos, -sin], [0.0, sin, cos]])
    return tf.linalg.inv(to_yiq) @ rotation @ to_yiq


def color_params(seed, config):
    """One clip's colour transform: (matrix (3, 3), mean_weight), both float32.

    The transform is y = matrix · x + mean_weight · m(x), with m(x) the mean intensity
    of each frame (over pixels and channels), then clipped to [0, 255]. It composes, each
    with its probability: colour jitter (brightness factor b, contrast factor c about m,
    saturation factor s about the pixel's gray, hue rotation; matrix = c·b·H·S and
    mean_weight = (1 − c)·b, since S and H keep the gray axis fixed), then channel
    replication (every output channel = input channel k). Every step is linear, so one
    matrix applies them all in a single pass over the clip.
    """
    matrix = tf.eye(3)
    mean_weight = tf.constant(0.0)
    if config.color_jitter:
        jitter = _uniform(_sub_seed(seed, 0)) < config.color_prob
        b = _uniform(_sub_seed(seed, 1), 1 - config.brightness, 1 + config.brightness)
        c = _uniform(_sub_seed(seed, 2), 1 - config.contrast, 1 + config.contrast)
        s = _uniform(_sub_seed(seed, 3), 1 - config.saturation, 1 + config.saturation)
        hue = _uniform(_sub_seed(seed, 4), -config.hue, config.hue)
        gray = tf.constant(_GRAY)
        saturation = s * tf.eye(3) + (1 - s) * tf.ones([3, 1]) * gray[None, :]
        jittered = c * b * _hue_rotation(2 * math.pi * hue) @ saturation
        matrix = tf.where(jitter, jittered, matrix)
        mean_weight = tf.where(jitter, (1 - c) * b, mean_weight)
    if config.channel_replication:
        replicate = _uniform(_sub_seed(seed, 5)) < config.replication_prob
        channel = tf.random.stateless_uniform([], _sub_seed(seed, 6), 0, 3, dtype=tf.int32)
        replication = tf.one_hot(tf.fill([3], channel), 3)
        matrix = tf.where(replicate, replication @ matrix, matrix)
    return matrix, mean_weight


def apply_color(clip, matrix, mean_weight):
    """y = matrix · x + mean_weight · (mean intensity of each frame), float32, not clipped.

    ``to_uint8`` saturates the result. The 3×3 product runs as one matrix multiply over
    groups of 4 pixels with kron(I_4, matrixᵀ) (12×12), which keeps the GEMM efficient.
    """
    frames = tf.shape(clip)[0]
    mean = tf.reduce_sum(tf.reshape(clip, [frames, -1]), axis=1) / tf.cast(tf.size(clip) // frames, tf.float32)
    group = 4 if clip.shape.num_elements() is not None and clip.shape.num_elements() % 12 == 0 else 1
    kron = tf.reshape(tf.einsum("ij,ab->iajb", tf.eye(group), tf.transpose(matrix)), [3 * group, 3 * group])
    out = tf.reshape(tf.reshape(clip, [-1, 3 * group]) @ kron, tf.shape(clip))
    return out + tf.reshape(mean_weight * mean, [-1, 1, 1, 1])


def to_uint8(clip):
    """Round and saturate a float clip to uint8 [0, 255]."""
    return tf.cast(tf.clip_by_value(clip + 0.5, 0.0, 255.0), tf.uint8)


def spatial_augment(frames, seed, crop, config=AugmentConfig(), color_seed=None):
    """One draw φ ~ Φ (HDC §3.1, §3.3) applied to a clip: uint8 (T, crop, crop, 3).

    frames: uint8 (T, H, W, 3). Crop box (with scale jitter), flip, colour factors and
    replicated channel are drawn once from ``seed`` and applied identically to every
    frame (thesis §5.1), in that order. ``color_seed``, if given, draws the colour
    factors and replicated channel instead, so two clips can share the geometry and
    not the colours (time-equivariant Table 1 b, c).
    """
    height, width = tf.shape(frames)[1], tf.shape(frames)[2]
    box = random_box(_sub_seed(seed, 0), height, width, crop, config)
    flip = _uniform(_sub_seed(seed, 1)) < config.flip_prob if config.flip else False
    clip = crop_resize(frames, box, crop, flip)
    if config.color_jitter or config.channel_replication:
        clip = apply_color(clip, *color_params(_sub_seed(seed if color_seed is None else color_seed, 2), config))
    return to_uint8(clip)


def center_crop(frames, crop):
    """The deterministic view: centre crop×crop (resized to crop if the frames are smaller), uint8."""
    box = center_box(tf.shape(frames)[1], tf.shape(frames)[2], crop)
    return to_uint8(crop_resize(frames, box, crop))


THESIS_MODES = ("chunk", "frame")


@dataclasses.dataclass(frozen=True)
class ThesisAugmentConfig:
    """The spatial family of the videoSimCLR / videoMoCo thesis (§3 "Spatial transformation", §5.1).

    §3 lists the transforms in order: random crop resized to the view size, horizontal
    flip, colour jitter, random grayscale, Gaussian blur. The strengths are the thesis
    code's (the text gives only the crop area [0.08, 1], §5.1): torchvision's
    RandomResizedCrop defaults, ColorJitter(0.8·s, 0.8·s, 0.8·s, 0.2·s) with strength
    s = 0.5 applied with p 0.8, RandomGrayscale(p=0.2), and a blur with p 0.5, σ ~ U(0.1, 2)
    and an odd kernel of about 10% of the view side (as in SimCLR).
    """

    # "chunk": one parameter set per clip, applied to every frame ("Chunk-way", the
    # better of the two in §5.1, Table 3); "frame": independent parameters per frame.
    mode: str = "chunk"
    scale: tuple = (0.08, 1.0)  # crop area fraction of the frame, uniform
    ratio: tuple = (3 / 4, 4 / 3)  # crop aspect ratio, log-uniform
    flip_prob: float = 0.5
    # Colour jitter with probability color_prob: brightness, contrast and saturation
    # factors U(1 - x, 1 + x), hue shift U(-hue, hue) of the hue circle (``color_params``).
    color_prob: float = 0.8
    brightness: float = 0.4
    contrast: float = 0.4
    saturation: float = 0.4
    hue: float = 0.1
    grayscale_prob: float = 0.2  # every channel set to the BT.601 luma, after the jitter
    blur_prob: float = 0.5
    blur_sigma: tuple = (0.1, 2.0)  # σ ~ U(lo, hi), in pixels of the view
    blur_kernel: float = 0.1  # kernel side / view side, rounded up to an odd integer

    def __post_init__(self):
        if self.mode not in THESIS_MODES:
            raise ValueError(f"ThesisAugmentConfig.mode must be one of {THESIS_MODES}, received {self.mode!r}")
        _check_fields(self, ("flip_prob", "color_prob", "grayscale_prob", "blur_prob"))
        lo, hi = self.blur_sigma
        if not 0.0 < lo <= hi:
            raise ValueError(f"ThesisAugmentConfig.blur_sigma must satisfy 0 < lo <= hi, received {self.blur_sigma}")
        if not 0.0 < self.blur_kernel <= 1.0:
            raise ValueError(f"ThesisAugmentConfig.blur_kernel must be in (0, 1], received {self.blur_kernel}")


def blur_kernel_size(crop, fraction):
    """The odd Gaussian kernel side ceil(fraction · crop), plus one if even (thesis code, SimCLR)."""
    size = math.ceil(fraction * crop)
    return size + 1 - size % 2


def gaussian_blur(clip, sigma, size):
    """Separable Gaussian blur of a float clip (N, H, W, C) with a size×size kernel of std ``sigma``.

    Weights exp(−x² / 2σ²) for x in [−size // 2, size // 2], normalised to sum 1; borders
    reflect without repeating the edge pixel (OpenCV's default, used by the thesis code).
    """
    radius = size // 2
    x = tf.range(-radius, radius + 1, dtype=tf.float32)
    weights = tf.exp(-(x**2) / (2.0 * sigma**2))
    weights = tf.tile((weights / tf.reduce_sum(weights))[:, None, None, None], [1, 1, clip.shape[-1], 1])
    padded = tf.pad(clip, [[0, 0], [radius, radius], [radius, radius], [0, 0]], mode="REFLECT")
    rows = tf.nn.depthwise_conv2d(padded, weights, [1, 1, 1, 1], "VALID")
    return tf.nn.depthwise_conv2d(rows, tf.reshape(weights, [1, size, -1, 1]), [1, 1, 1, 1], "VALID")


def _thesis_once(frames, seed, crop, config):
    """One parameter set of the thesis family applied to every frame of ``frames``: uint8."""
    shared = AugmentConfig(
        scale=config.scale,
        ratio=config.ratio,
        color_prob=config.color_prob,
        brightness=config.brightness,
        contrast=config.contrast,
        saturation=config.saturation,
        hue=config.hue,
        channel_replication=False,
    )
    box = random_box(_sub_seed(seed, 0), tf.shape(frames)[1], tf.shape(frames)[2], crop, shared)
    clip = crop_resize(frames, box, crop, _uniform(_sub_seed(seed, 1)) < config.flip_prob)
    matrix, mean_weight = color_params(_sub_seed(seed, 2), shared)
    # Gray rows g·x after y = M x + w m: g·1 = 1, so the mean term is unchanged.
    to_gray = tf.ones([3, 1]) * tf.constant(_GRAY)[None, :]
    matrix = tf.where(_uniform(_sub_seed(seed, 3)) < config.grayscale_prob, to_gray @ matrix, matrix)
    clip = tf.clip_by_value(apply_color(clip, matrix, mean_weight), 0.0, 255.0)
    sigma = _uniform(_sub_seed(seed, 5), *config.blur_sigma)
    size = blur_kernel_size(crop, config.blur_kernel)
    blur = _uniform(_sub_seed(seed, 4)) < config.blur_prob
    return to_uint8(tf.cond(blur, lambda: gaussian_blur(clip, sigma, size), lambda: clip))


def thesis_augment(frames, seed, crop, config=ThesisAugmentConfig()):
    """The thesis' spatial transformation (§3, §5.1) of a clip: uint8 (T, H, W, 3) → (T, crop, crop, 3).

    Random resized crop, flip, colour jitter, grayscale and blur, in that order. "chunk"
    mode draws one parameter set from ``seed`` for the whole clip; "frame" mode draws
    frame t's from ``fold_in(seed, t)``.
    """
    if config.mode == "chunk":
        return _thesis_once(frames, seed, crop, config)
    return tf.map_fn(
        lambda t: _thesis_once(frames[t][None], _sub_seed(seed, t), crop, config)[0],
        tf.range(tf.shape(frames)[0]),
        fn_output_signature=tf.TensorSpec([crop, crop, 3], tf.uint8),
    )

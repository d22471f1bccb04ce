"""HDC contrastive losses (HDC §3.1–3.3, Eqs. 1–6): pure functions of embeddings.

They know nothing of the model and use ``keras.ops`` only, so they run under
every Keras backend without importing TensorFlow. Every loss is computed in
float32 whatever the dtype of its inputs (mixed precision), except that
float64 inputs stay float64 (used to check exactness without float32 noise).

Distributed training: the anchors stay local to a replica while the
candidates are the *global* batch gathered from all replicas. The positive of
local anchor ``i`` is then global row ``offset + i`` (``offset`` is this
replica's first row in the global batch), so every anchor is contrasted with
all G - 1 negatives of the global batch, exactly as on a single device. With
``offset=0`` and as many candidates as anchors this is the single-device
form, where the positive of anchor ``i`` is candidate ``i``.
"""

import keras
from keras import ops

HDC_BLOCKS = (3, 4, 5)
HDC_WEIGHTS = (0.25, 0.5, 1.0)  # α_k = β_k for blocks (3, 4, 5), HDC §3.3
NORM_EPSILON = 1e-6


def loss_dtype(x):
    """float64 stays float64 (for exactness checks); anything else → float32,
    so the losses are float32 under a mixed-precision policy."""
    dtype = getattr(x, "dtype", "float32")  # a Python number computes in float32
    return "float64" if keras.backend.standardize_dtype(dtype) == "float64" else "float32"


def l2_normalize(x):
    """Cast to float32 (float64 stays) and L2-normalise the last axis.

    The squared norm is floored at ε² *before* the reciprocal square root, so
    a zero vector maps to zero with a finite gradient. (``keras.ops.normalize``
    takes ``rsqrt(0) = inf`` first and clamps afterwards; its gradient at a
    zero vector is NaN under the JAX and PyTorch backends.)
    """
    x = ops.cast(x, loss_dtype(x))
    square_norm = ops.sum(ops.square(x), axis=-1, keepdims=True)
    return x * ops.rsqrt(ops.maximum(square_norm, NORM_EPSILON**2))


def _check_temperature(temperature):
    if isinstance(temperature, (int, float)) and not temperature > 0:
        raise ValueError(f"temperature must be > 0, received {temperature!r}")


def _check_pair(name, anchors, candidates, rank):
    """Validate static shapes: rank, equal feature sizes, enough candidates."""
    a_shape, c_shape = tuple(anchors.shape), tuple(candidates.shape)
    if len(a_shape) != rank or len(c_shape) != rank:
        raise ValueError(
            f"{name}: expected rank-{rank} anchors and candidates, received shapes {a_shape} and {c_shape}"
        )
    if a_shape[1:] != c_shape[1:] and None not in a_shape[1:] + c_shape[1:]:
        raise ValueError(
            f"{name}: anchors and candidates must agree on every axis but the batch, "
            f"received shapes {a_shape} and {c_shape}"
        )
    if None not in (a_shape[0], c_shape[0]) and c_shape[0] < a_shape[0]:
        raise ValueError(
            f"{name}: need at least as many candidates as anchors, received {c_shape[0]} "
            f"candidates for {a_shape[0]} anchors"
        )


def contrastive_logits(anchors, candidates, temperature):
    """Cosine similarity / τ between every anchor and every candidate.

    Args:
        anchors: (..., B, D).
        candidates: (..., M, D), the same leading axes.
        temperature: τ > 0.

    Returns:
        float32 (..., B, M): ``sim(anchor_i, candidate_j) / τ`` (HDC Eq. 1).
    """
    _check_temperature(temperature)
    similarity = ops.matmul(l2_normalize(anchors), ops.swapaxes(l2_normalize(candidates), -1, -2))
    return similarity / ops.convert_to_tensor(temperature, similarity.dtype)


def _contrast(anchors, candidates, temperature, offset):
    """Eq. 1 on (..., B, D) anchors and (..., M, D) candidates.

    Returns dict(loss: mean over all anchors, accuracy, logits (..., B, M)).
    """
    logits = contrastive_logits(anchors, candidates, temperature)
    batch = ops.shape(logits)[-2]
    labels = ops.arange(batch, dtype="int32") + ops.cast(offset, "int32")
    labels = ops.broadcast_to(labels, ops.shape(logits)[:-1])
    # Cross entropy against the positive's index = -log softmax, computed from
    # the logits (log-sum-exp), which is stable for small τ.
    per_anchor = ops.sparse_categorical_crossentropy(labels, logits, from_logits=True)
    hits = ops.equal(ops.cast(ops.argmax(logits, axis=-1), "int32"), labels)
    return {
        "loss": ops.mean(per_anchor),
        "accuracy": ops.mean(ops.cast(hits, logits.dtype)),
        "logits": logits,
    }


def info_nce_with_metrics(anchors, positives, temperature=0.07, offset=0):
    """HDC Eq. 1 together with what metrics need.

    Args:
        anchors: (B, D) local anchors (e.g. projected u_o embeddings).
        positives: (M, D) candidates, M >= B. The positive of anchor ``i`` is
            row ``offset + i``; every other row is a negative.
        temperature: τ > 0 (HDC §3.3 uses 0.07).
        offset: int or scalar integer tensor; 0 on a single device, else this
            replica's first row in the gathered global batch.

    Returns:
        dict with ``loss`` (float32 scalar, the batch mean of Eq. 1's terms),
        ``accuracy`` (float32 scalar, the fraction of anchors whose positive
        has the largest logit) and ``logits`` (float32 (B, M)).
    """
    _check_pair("info_nce", anchors, positives, rank=2)
    return _contrast(anchors, positives, temperature, offset)


def info_nce(anchors, positives, temperature=0.07, offset=0):
    """InfoNCE, HDC Eq. 1: mean over anchors of -log softmax_j(sim_ij / τ)[positive].

    The paper sums over the batch; we take the mean, so the gradient scale,
    and with it a good learning rate, does not depend on the batch size.
    Arguments as in :func:`info_nce_with_metrics`; returns the float32 loss.
    """
    return info_nce_with_metrics(anchors, positives, temperature, offset)["loss"]


def spatial_contrast_with_metrics(z_o, z_s, temperature=0.07, offset=0):
    """Hierarchical Spatial Contrast at one scale, HDC Eq. 4, with metrics.

    Args:
        z_o: (B, N, D) anchors, one vector per time step (spatially pooled).
        z_s: (M, N, D) candidates at the same time steps, M >= B.
        temperature, offset: as in :func:`info_nce_with_metrics`.

    Returns:
        dict with ``loss`` (mean over the N time steps of Eq. 1 at each step,
        itself averaged over anchors), ``accuracy`` (over all steps) and
        ``logits`` (float32 (B, N, M)); step n contrasts only with step n.
    """
    _check_pair("spatial_contrast", z_o, z_s, rank=3)
    steps_first = _contrast(ops.swapaxes(z_o, 0, 1), ops.swapaxes(z_s, 0, 1), temperature, offset)
    return {**steps_first, "logits": ops.swapaxes(steps_first["logits"], 0, 1)}


def spatial_contrast(z_o, z_s, temperature=0.07, offset=0):
    """HDC Eq. 4 (mean over anchors instead of the sum, as in :func:`info_nce`).

    Arguments as in :func:`spatial_contrast_with_metrics`; returns the float32 loss.
    """
    return spatial_contrast_with_metrics(z_o, z_s, temperature, offset)["loss"]


def temporal_contrast_with_metrics(z_o, z_t, temperature=0.07, offset=0):
    """Hierarchical Temporal Contrast at one scale, HDC Eq. 5, with metrics.

    ``z_o`` (B, D) and ``z_t`` (M, D) are globally pooled embeddings of u_o and
    of the temporally cropped u_t; Eq. 5 is Eq. 1 on them, so this is
    :func:`info_nce_with_metrics`.
    """
    return info_nce_with_metrics(z_o, z_t, temperature, offset)


def temporal_contrast(z_o, z_t, temperature=0.07, offset=0):
    """HDC Eq. 5 (mean over anchors); returns the float32 loss."""
    return temporal_contrast_with_metrics(z_o, z_t, temperature, offset)["loss"]


def _check_weights(name, weights, blocks):
    if len(weights) != len(blocks):
        raise ValueError(
            f"{name} needs one weight per block of {tuple(blocks)}, received {tuple(weights)!r}"
        )
    if any(not isinstance(w, (int, float)) or w < 0 for w in weights):
        raise ValueError(f"{name} weights must be numbers >= 0, received {tuple(weights)!r}")


def hd_nce(sc_losses, tc_losses, alpha=HDC_WEIGHTS, beta=HDC_WEIGHTS, blocks=HDC_BLOCKS):
    """HD-NCE, HDC Eq. 6: L = Σ_k α_k·L_s^k + β_k·L_t^k.

    Args:
        sc_losses: {block k: L_s^k} (Eq. 4) for the blocks where Spatial
            Contrast is on; a block left out is off (Table 1 ablations).
        tc_losses: {block k: L_t^k} (Eq. 5), likewise for Temporal Contrast.
        alpha, beta: weights α_k, β_k, one per entry of ``blocks``.
        blocks: the block numbers that ``alpha`` and ``beta`` refer to.

    Returns:
        ``(total, terms)``: the float32 (float64 for float64 inputs) weighted total and the *unweighted*
        terms by name (``"sc_block3"``, …, ``"tc_block5"``), SC first, each in
        block order, only for the terms that are on.
    """
    blocks = tuple(blocks)
    _check_weights("alpha", alpha, blocks)
    _check_weights("beta", beta, blocks)
    total, terms = 0.0, {}
    for prefix, losses, weights in (("sc", sc_losses, alpha), ("tc", tc_losses, beta)):
        unknown = sorted(set(losses) - set(blocks), key=str)
        if unknown:
            raise ValueError(f"hd_nce: {prefix} losses for unknown blocks {unknown}; weights cover {blocks}")
        for block, weight in zip(blocks, weights):
            if block in losses:
                term = ops.cast(losses[block], loss_dtype(losses[block]))
                terms[f"{prefix}_block{block}"] = term
                total = total + weight * term
    if not terms:
        raise ValueError("hd_nce: no terms; give at least one SC or TC loss")
    return total, terms

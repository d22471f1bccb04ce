"""Multi-level feature optimisation losses (multi-level-feature-optimization
§3, Eqs. 1–13): prototypes with Sinkhorn-Knopp targets (L_sem), the
distribution graph and its constraint on lower levels (L_mul), and the two
temporal-modelling contrasts (L_aug, L_ret).

Same conventions as ``hdc.losses.contrast``: h(u, v) = exp(cos(u, v)/τ)
(Eq. 1) on L2-normalised vectors, float32 (float64 stays float64), the mean
over anchors where the paper sums (so the learning rate does not depend on
the batch size), and a global-candidate form where the batch enters: local
anchors, candidates gathered from every replica, ``offset`` = this replica's
first row among them, so the replicas' mean equals one device's loss.
L_aug and L_ret contrast each clip only with itself, so they need no gather.

Values the paper leaves to its supplement are taken from the authors' public
code (github.com/shvdiwnkozbw/Video-Representation-via-Multi-level-Optimization,
``train.py``): τ = 0.07 everywhere, η = 0.05 (``--thres``), and SwAV's
Sinkhorn (ε = 0.05, 3 iterations) and prototype temperature (0.1).
"""

import math

from keras import ops

from hdc.losses.contrast import _check_pair, _check_temperature, contrastive_logits, l2_normalize, loss_dtype

GRAPH_KINDS = ("onehot", "instance", "semantic", "combined")  # Table 2's lower-level constraints
_TINY = 1e-30  # floor of Sinkhorn's marginals: an underflowed row or column stays finite


def _local_rows(x, offset, rows):
    """Rows ``offset .. offset + rows − 1`` of ``x`` (a replica's own rows of a gathered tensor)."""
    return ops.take(x, ops.arange(rows, dtype="int32") + ops.cast(offset, "int32"), axis=0)


def _paired_logits(a, b, temperature):
    """cos(a_i, b_i) / τ for every row i: (B, D), (B, D) → (B, 1)."""
    similarity = ops.sum(l2_normalize(a) * l2_normalize(b), axis=-1, keepdims=True)
    return similarity / ops.convert_to_tensor(temperature, similarity.dtype)


def sinkhorn(scores, epsilon=0.05, iterations=3, queued=None, queued_mask=None):
    """Equal-partition soft assignments by Sinkhorn-Knopp (multi-level §3.1 after
    SwAV [10] and Cuturi [13]), under stop-gradient.

    Q = exp(scores/ε) over R rows (samples) and K columns (prototypes) is
    scaled ``iterations`` times, each time first so that every prototype
    holds mass 1/K, then so that every row holds 1/R; the rows of ``scores``
    are returned scaled to sum to 1. With enough iterations every prototype
    receives R/K rows' worth of mass ("around N/K samples per category").

    Args:
        scores: (B, K) prototype scores of the current batch (the global batch
            under ``tf.distribute``: gather first, so every replica gets the
            same targets and keeps its own rows).
        epsilon: ε, the entropy weight (0.05: SwAV's default, also the
            authors' code).
        iterations: number of scaling rounds (3: SwAV, the authors' code).
        queued: optional (Q, K) score rows of past batches (§3.1's queue, "to
            ensure equal partition into K prototypes" when K exceeds the
            batch); they take part in the partition but are not returned.
        queued_mask: optional bool (Q,), True for the rows of ``queued`` that
            hold data (``hdc.objectives.Queue.mask()``); others are ignored.

    Returns:
        (B, K) assignments, float32 (float64 for float64 scores), rows summing to 1.
    """
    if not isinstance(epsilon, (int, float)) or not epsilon > 0:
        raise ValueError(f"sinkhorn: epsilon must be a number > 0, received {epsilon!r}")
    if not isinstance(iterations, int) or iterations < 1:
        raise ValueError(f"sinkhorn: iterations must be an integer >= 1, received {iterations!r}")
    if len(scores.shape) != 2:
        raise ValueError(f"sinkhorn: scores must be (B, K), received shape {tuple(scores.shape)}")
    dtype = loss_dtype(scores)
    x = ops.cast(ops.stop_gradient(scores), dtype) / epsilon
    batch = ops.shape(x)[0]
    valid = ops.ones((batch,), dtype)
    if queued is not None:
        widths = (queued.shape[-1], scores.shape[1])
        if len(queued.shape) != 2 or (None not in widths and widths[0] != widths[1]):
            raise ValueError(
                f"sinkhorn: queued must be (Q, {scores.shape[1]}), received shape {tuple(queued.shape)}"
            )
        mask = ops.ones((ops.shape(queued)[0],), dtype) if queued_mask is None else ops.cast(queued_mask, dtype)
        x = ops.concatenate([x, ops.cast(ops.stop_gradient(queued), dtype) / epsilon], axis=0)
        valid = ops.concatenate([valid, mask], axis=0)
    # exp(x − max) is Q up to a constant factor, which the first scaling removes.
    peak = ops.max(ops.where(valid[:, None] > 0, x, ops.min(x)))
    q = ops.exp(x - peak) * valid[:, None]
    rows, prototypes = ops.sum(valid), ops.cast(ops.shape(x)[1], dtype)
    for _ in range(iterations):
        q = q / (prototypes * ops.maximum(ops.sum(q, axis=0, keepdims=True), _TINY))
        q = q / (rows * ops.maximum(ops.sum(q, axis=1, keepdims=True), _TINY))
    return ops.stop_gradient(q[:batch] * rows)


def swapped_prediction(scores1, scores2, targets1, targets2, temperature=0.1):
    """L_sem, multi-level Eq. 4: each view predicts the other view's Sinkhorn targets.

    p^a = softmax(scores^a / τ_p) over the K prototypes ("matrix
    multiplication between z and P followed with softmax regression");
    L = −Σ_i Σ_k s_i¹(k) log p_i²(k) + s_i²(k) log p_i¹(k). We take the mean
    over the 2B predictions (Eq. 4 sums). The paper gives no softmax
    temperature; τ_p = 0.1 is SwAV's and the authors' code's.

    Args:
        scores1, scores2: (B, K) prototype scores of the two views (gradients flow).
        targets1, targets2: (B, K) their targets s¹, s² (:func:`sinkhorn`,
            treated as constants).
        temperature: τ_p > 0.

    Returns the float32 loss. Row-local: on R replicas, pass each replica's
    own rows of targets computed on the global batch.
    """
    _check_pair("swapped_prediction", scores1, scores2, rank=2)
    _check_pair("swapped_prediction", targets1, targets2, rank=2)
    _check_temperature(temperature)
    dtype = loss_dtype(scores1)
    total = 0.0
    for scores, targets in ((scores2, targets1), (scores1, targets2)):
        log_p = ops.log_softmax(ops.cast(scores, dtype) / ops.convert_to_tensor(temperature, dtype), axis=-1)
        total = total - ops.sum(ops.stop_gradient(ops.cast(targets, dtype)) * log_p, axis=-1)
    return ops.mean(total) / 2


def graph_targets(z1, z2, s1, s2, eta=0.05, temperature=0.07, kind="combined", offset=0, rows=None):
    """The distribution graph E of multi-level Eqs. 6–9 (§3.2), under stop-gradient.

    W (Eq. 8): W(i, i) = h(z_i¹, z_i²); W(i, j) = ¼ Σ_{m,n} h(z_iᵐ, z_jⁿ) for
    i ≠ j. E_ins (Eq. 6) keeps W(i, j) where W(i, j)/Σ_j W(i, j) ≥ η.
    E_sem (Eq. 7) is 1 where argmax(s_i¹ + s_i²) = argmax(s_j¹ + s_j²).
    E (Eq. 9) is E_ins·E_sem normalised over each row. A row left with no
    entry (every sample that passes η belongs to another pseudo-class, the
    sample itself included) keeps only its diagonal, E(i, i) = 1: the
    one-hot target of InfoNCE, so that Eq. 10 never divides 0 by 0. (The
    authors' code keeps every diagonal before the product and thresholds a
    softmax of view-1-to-view-2 similarities; we follow Eqs. 6 and 8 as
    written.)

    ``kind`` picks the constraint of Table 2: "combined" (Eq. 9), "instance"
    (E_ins row-normalised), "semantic" (E_sem row-normalised: uniform over
    the sample's pseudo-class) or "onehot" (the identity, InfoNCE's labels).

    Args:
        z1, z2: (N, D) projected high-level features of the two views of all N
            samples (the global batch).
        s1, s2: (N, K) their Sinkhorn targets (:func:`sinkhorn`).
        eta: threshold η in [0, 1] (0.05, the authors' code's ``--thres``).
        temperature: τ of h (0.07, the authors' code).
        kind: one of ``GRAPH_KINDS``.
        offset, rows: return rows ``offset .. offset + rows − 1`` (default
            all N): a replica's own anchors against all N columns.

    Returns:
        (rows, N) float32 (float64 for float64 z), rows summing to 1.
    """
    if kind not in GRAPH_KINDS:
        raise ValueError(f"graph_targets: kind must be one of {GRAPH_KINDS}, received {kind!r}")
    if not isinstance(eta, (int, float)) or not 0 <= eta <= 1:
        raise ValueError(f"graph_targets: eta must be a number in [0, 1], received {eta!r}")
    _check_pair("graph_targets", z1, z2, rank=2)
    _check_pair("graph_targets", s1, s2, rank=2)
    _check_temperature(temperature)
    z1, z2 = ops.stop_gradient(z1), ops.stop_gradient(z2)
    dtype = loss_dtype(z1)
    total = ops.shape(z1)[0]
    rows = total if rows is None else rows
    own = ops.arange(rows, dtype="int32") + ops.cast(offset, "int32")
    diagonal = ops.equal(ops.arange(total, dtype="int32")[None, :], own[:, None])
    if kind == "onehot":
        return ops.cast(diagonal, dtype)
    masks = []
    if kind in ("instance", "combined"):
        anchors = [_local_rows(z, offset, rows) for z in (z1, z2)]
        cross = ops.stack([contrastive_logits(a, c, temperature) for a in anchors for c in (z1, z2)])
        log_w = ops.where(diagonal, cross[1], ops.logsumexp(cross, axis=0) - math.log(4.0))  # log W, Eq. 8
        ratio = ops.exp(log_w - ops.logsumexp(log_w, axis=-1, keepdims=True))  # W(i, j) / Σ_j W(i, j)
        masks.append(ratio >= eta)  # Eq. 6
    if kind in ("semantic", "combined"):
        labels = ops.argmax(ops.cast(s1, dtype) + ops.cast(s2, dtype), axis=-1)
        masks.append(ops.equal(_local_rows(labels, offset, rows)[:, None], labels[None, :]))  # Eq. 7
    keep = masks[0] if len(masks) == 1 else ops.logical_and(*masks)
    # E_ins carries W; W/Σ_j W is the same after Eq. 9's row normalisation. E_sem alone is 0/1.
    weights = ops.ones(ops.shape(keep), dtype) if kind == "semantic" else ratio
    edges = ops.where(keep, weights, ops.zeros((), dtype))
    norm = ops.sum(edges, axis=-1, keepdims=True)
    edges = ops.where(norm > 0, edges / ops.where(norm > 0, norm, 1.0), ops.cast(diagonal, dtype))
    return ops.stop_gradient(edges)


def graph_contrast(z1, z2, targets, temperature=0.07, offset=0, all_z1=None, all_z2=None):
    """L_mul at one level r, multi-level Eq. 10: cross entropy between the graph
    E and the inferred similarity distribution of the level's features.

    For anchor z_iᵃ the distribution over samples j is
    h(z_iᵃ, z_j*) / Σ_j h(z_iᵃ, z_j*) with h(·, z_j*) of Eq. 3: the positive
    h(z_i¹, z_i²) for j = i, h(z_iᵃ, z_j¹) + h(z_iᵃ, z_j²) otherwise (so a
    one-hot E gives exactly L_ins, Eq. 2). L = −Σ_i Σ_a Σ_j E(i, j) log(·),
    averaged here over the 2B anchors (i, a).

    Args:
        z1, z2: (B, D) local projected level-r features of the two views.
        targets: (B, G) rows of E for these anchors (:func:`graph_targets`
            with ``offset``, ``rows=B``), constants.
        temperature: τ > 0 (0.07).
        offset, all_z1, all_z2: the global-candidate form as in
            ``hdc.losses.nt_xent``: (G, D) gathered features of all replicas
            (default ``z1``, ``z2``) and this replica's first row in them.

    Returns the float32 loss.
    """
    all_z1 = z1 if all_z1 is None else all_z1
    all_z2 = z2 if all_z2 is None else all_z2
    _check_pair("graph_contrast", z1, z2, rank=2)
    _check_pair("graph_contrast", all_z1, all_z2, rank=2)
    dtype = loss_dtype(z1)
    own = ops.arange(ops.shape(z1)[0], dtype="int32") + ops.cast(offset, "int32")
    is_own = ops.equal(ops.arange(ops.shape(all_z1)[0], dtype="int32")[None, :], own[:, None])
    positive = _paired_logits(z1, z2, temperature)
    targets = ops.stop_gradient(ops.cast(targets, dtype))
    total = 0.0
    for anchor in (z1, z2):
        log_h = ops.logaddexp(contrastive_logits(anchor, all_z1, temperature),
                              contrastive_logits(anchor, all_z2, temperature))
        log_h = ops.where(is_own, positive, log_h)  # Eq. 3, j = i
        log_q = log_h - ops.logsumexp(log_h, axis=-1, keepdims=True)
        total = total - ops.sum(targets * log_q, axis=-1)
    return ops.mean(total) / 2


def augmentation_contrast(e1, e2, augmented1, augmented2, temperature=0.07):
    """L_aug, multi-level Eqs. 11–12: the two views of a clip are positives,
    the clip's own temporally transformed features are its negatives.

    Anchor ME(f_iᵃ) (a = 1, 2) has the positive h(ME(f_i¹), ME(f_i²)) and
    the negatives h(ME(f_iᵃ), ME(Aug_k(f_iᵃ))), k = 1..A (Eq. 12: only its
    own transformations, no other clip). Mean over the 2B anchors (Eq. 11
    sums). Each clip is contrasted only with itself, so the mean over
    replicas equals one device's without a gather.

    Args:
        e1, e2: (B, D) embeddings ME(f¹), ME(f²) of the two views.
        augmented1, augmented2: (B, A, D) embeddings of each view's A
            transformations ME(Aug_k(fᵃ)).
        temperature: τ > 0 (0.07).

    Returns the float32 loss.
    """
    _check_pair("augmentation_contrast", e1, e2, rank=2)
    _check_pair("augmentation_contrast", augmented1, augmented2, rank=3)
    if any(None not in (a, b) and a != b for a, b in zip(augmented1.shape[::2], e1.shape)):
        raise ValueError(f"augmentation_contrast: augmented must be (B, A, {e1.shape[-1]}) for embeddings "
                         f"{tuple(e1.shape)}, received {tuple(augmented1.shape)}")
    positive = _paired_logits(e1, e2, temperature)
    total = 0.0
    for anchor, augmented in ((e1, augmented1), (e2, augmented2)):
        negatives = contrastive_logits(anchor[:, None, :], augmented, temperature)[:, 0, :]  # (B, A)
        logits = ops.concatenate([positive, negatives], axis=-1)
        total = total + ops.logsumexp(logits, axis=-1) - positive[:, 0]
    return ops.mean(total) / 2


def timestamp_retrieval(short, long, temperature=0.07, start=0):
    """L_ret, multi-level Eq. 13: each time step of a short sequence retrieves
    its own time step among all steps of a long sequence of the same clip.

    Step t of ``short`` has the positive step ``start + t`` of ``long``; every
    other step of the same clip's ``long`` is a negative (no other clip
    enters, so no gather). Mean over clips and short steps (Eq. 13 sums).

    Args:
        short: (B, S, D) per-step embeddings of v_s.
        long: (B, M, D) per-step embeddings of v_l, M >= start + S.
        temperature: τ > 0 (0.07).
        start: the step of ``long`` aligned with step 0 of ``short``.

    Returns the float32 loss.
    """
    if len(short.shape) != 3 or len(long.shape) != 3 or short.shape[-1] != long.shape[-1]:
        raise ValueError(f"timestamp_retrieval: short and long must be (B, S, D) and (B, M, D), received shapes "
                         f"{tuple(short.shape)} and {tuple(long.shape)}")
    if None not in (short.shape[1], long.shape[1]) and start + short.shape[1] > long.shape[1]:
        raise ValueError(f"timestamp_retrieval: the long sequence has {long.shape[1]} steps, fewer than start "
                         f"{start} + {short.shape[1]} short steps")
    logits = contrastive_logits(short, long, temperature)  # (B, S, M)
    labels = ops.arange(ops.shape(short)[1], dtype="int32") + start
    labels = ops.broadcast_to(labels[None, :], ops.shape(logits)[:-1])
    return ops.mean(ops.sparse_categorical_crossentropy(labels, logits, from_logits=True))

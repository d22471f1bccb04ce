"""Instance contrast of two views: videoSimCLR's NT-Xent and videoMoCo's
queue InfoNCE (video-simclr-moco-thesis §3, Eqs. 1–2).

Same conventions as ``hdc.losses.contrast``: cosine similarities of
L2-normalised embeddings, float32 (float64 stays float64), the mean over
anchors, and a global-candidate form that is exact across replicas.
"""

from keras import ops

from hdc.losses.contrast import _check_pair, l2_normalize, contrastive_logits, loss_dtype

_MASKED = -1e9  # a logit that softmax turns into 0 (finite, so no NaN in gradients)


def nt_xent_with_metrics(z_a, z_b, temperature=0.5, offset=0, all_a=None, all_b=None):
    """NT-Xent (thesis Eq. 1, SimCLR's loss) with metrics.

    Rows i of ``z_a`` and ``z_b`` (B, D) are two views of one video. Every
    one of the 2B embeddings is an anchor; its candidates are the other
    2G − 1 embeddings of the global batch: the other view of its video is the
    positive, the 2G − 2 others are negatives (the anchor itself is left out,
    the indicator 1[k ≠ i] of Eq. 1). The loss is the mean over the 2B
    anchors of −log softmax[positive]. Eq. 1 writes one term L_{i,j}; SimCLR
    sums L_{i,j} + L_{j,i} over the batch and divides by 2N, which is this
    mean; a summed form is 2B times it.

    Distributed: ``all_a``, ``all_b`` (G, D) are the gathered views of all
    replicas (default: ``z_a``, ``z_b``, one device) and ``offset`` is this
    replica's first row in them, so the replicas' mean equals one device's.

    Returns dict(loss, accuracy, logits (2B, 2G)).
    """
    all_a = z_a if all_a is None else all_a
    all_b = z_b if all_b is None else all_b
    _check_pair("nt_xent", z_a, z_b, rank=2)
    _check_pair("nt_xent", all_a, all_b, rank=2)
    anchors = ops.concatenate([z_a, z_b], axis=0)
    candidates = ops.concatenate([all_a, all_b], axis=0)
    logits = contrastive_logits(anchors, candidates, temperature)
    local, total = ops.shape(z_a)[0], ops.shape(all_a)[0]
    rows = ops.arange(local, dtype="int32") + ops.cast(offset, "int32")
    own = ops.concatenate([rows, rows + total], axis=0)  # each anchor's own column
    positive = ops.concatenate([rows + total, rows], axis=0)  # the other view's column
    self_mask = ops.equal(ops.arange(2 * total, dtype="int32")[None, :], own[:, None])
    logits = ops.where(self_mask, ops.cast(_MASKED, logits.dtype), logits)
    per_anchor = ops.sparse_categorical_crossentropy(positive, logits, from_logits=True)
    hits = ops.equal(ops.cast(ops.argmax(logits, axis=-1), "int32"), positive)
    return {"loss": ops.mean(per_anchor), "accuracy": ops.mean(ops.cast(hits, logits.dtype)), "logits": logits}


def nt_xent(z_a, z_b, temperature=0.5, offset=0, all_a=None, all_b=None):
    """NT-Xent (thesis Eq. 1); arguments as :func:`nt_xent_with_metrics`; the float32 loss."""
    return nt_xent_with_metrics(z_a, z_b, temperature, offset, all_a, all_b)["loss"]


def moco_loss_with_metrics(q, k, queue, temperature=0.07):
    """videoMoCo's InfoNCE (thesis Eq. 2, MoCo Eq. 1) with metrics.

    q, k: (B, D) queries and their positive keys (row i of each from one
    video); queue: (K, D) negative keys. Logits are [q·k, q·queueᵀ] / τ on
    L2-normalised vectors (the positive first, column 0), and the loss is the
    batch mean of the cross entropy against column 0. Each query's candidates
    are its own key and the queue, so the replicas' mean equals one device's
    without gathering (the keys are gathered only to fill the queue).

    Returns dict(loss, accuracy, logits (B, 1 + K)).
    """
    _check_pair("moco_loss", q, k, rank=2)
    if len(queue.shape) != 2 or (None not in (queue.shape[-1], q.shape[-1]) and queue.shape[-1] != q.shape[-1]):
        raise ValueError(f"moco_loss: queue must be (K, {q.shape[-1]}), received shape {tuple(queue.shape)}")
    dtype = loss_dtype(q)
    negatives = contrastive_logits(q, ops.cast(queue, dtype), temperature)  # checks τ
    similarity = ops.sum(l2_normalize(q) * l2_normalize(ops.cast(k, dtype)), axis=-1, keepdims=True)
    positive = similarity / ops.convert_to_tensor(temperature, dtype)
    logits = ops.concatenate([positive, negatives], axis=1)
    labels = ops.zeros((ops.shape(q)[0],), "int32")
    per_query = ops.sparse_categorical_crossentropy(labels, logits, from_logits=True)
    hits = ops.equal(ops.cast(ops.argmax(logits, axis=-1), "int32"), labels)
    return {"loss": ops.mean(per_query), "accuracy": ops.mean(ops.cast(hits, logits.dtype)), "logits": logits}


def moco_loss(q, k, queue, temperature=0.07):
    """videoMoCo's loss (thesis Eq. 2); arguments as :func:`moco_loss_with_metrics`."""
    return moco_loss_with_metrics(q, k, queue, temperature)["loss"]

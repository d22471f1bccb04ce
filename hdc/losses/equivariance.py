"""Time-equivariant contrast (time-equivariant §3.1 and §3.3, Eqs. 1–3): pure
functions of embeddings (``keras.ops`` only).

Both losses use the paper's similarity (Eq. 2)

    d(x, y) = exp(cos(x, stopgrad(y)) / λ),   λ = 0.1,

so the gradient reaches only the anchor x: the candidates are wrapped in
``stop_gradient`` here (the paper compares this with SimSiam [11]). Same
conventions as ``hdc.losses.contrast``: float32 (float64 stays float64), the
mean over anchors, and a global-candidate form (local anchors against the
gathered batch) that is exact across replicas.
"""

from keras import ops

from hdc.losses.contrast import _check_pair, contrastive_logits
from hdc.losses.instance import _MASKED, nt_xent_with_metrics


def _partner(rows):
    """Each row's partner in a batch built in pairs: row i XOR 1."""
    return rows + 1 - 2 * (rows % 2)


def _check_ids(name, embeddings, ids, what):
    shape, count = tuple(ids.shape), embeddings.shape[0]
    if len(shape) != 1 or (None not in (shape[0], count) and shape[0] != count):
        raise ValueError(f"{name}: {what} must be ({count},), one id per row, received shape {shape}")


def equivariance_contrast_with_metrics(psi, transform_ids, temperature=0.1, offset=0, all_psi=None, all_ids=None):
    """L_equi (time-equivariant §3.1, Eqs. 1–2) with metrics.

    The batch is built in partner pairs: global rows 2k and 2k + 1 are two
    videos given the same relative transformation (τ_p, τ_q) (Fig. 3), and
    row i holds ψ_i^{pq} = ψ([F(τ_p x_i); F(τ_q x_i)]). For anchor row i:

    - the positive is its partner j = i XOR 1 (ψ_j^{pq}, Eq. 1's numerator);
    - the negatives are all rows whose ``transform_ids`` differ from row i's
      (ψ_k^{rs}, rs ≠ pq: Eq. 1's sum, over the batch as §3.1 says);
    - other rows that share row i's id (the same relative transformation
      drawn for another pair, and row i itself) are left out of the
      denominator: they are neither the positive nor distinct transformations.

    Partner with a different id (``data.temporal.place_pair`` lowers the
    speed of a pair that does not fit a short video, so partners can end
    with different transformations): such a row has no positive (Fig. 3:
    "a positive pair ... results from applying the same relative
    transformation to two different examples"), so it is dropped from the
    mean, as an anchor only; as a candidate it stays a negative of every row
    with another id. The loss is the mean over the kept rows of the global
    batch (0 when none is kept): each replica returns Σ_local kept terms ·
    (G / B) / (kept rows of the global batch), so the mean over replicas is
    exactly the single-device loss whatever the replicas' shares of kept rows.

    Args:
        psi: (B, D) local anchors ψ_i^{pq}.
        transform_ids: int (B,) id of each local row's relative transformation
            (``te_transform_id``, ``data.temporal.transform_id``).
        temperature: λ of Eq. 2 (0.1, §3.1).
        offset: this replica's first row in the global batch (0 on one device).
        all_psi, all_ids: (G, D) and (G,) of the global batch in replica
            order (default: ``psi``, ``transform_ids``, one device); G even.

    Returns:
        dict with ``loss``, ``accuracy`` (kept anchors whose partner has the
        largest logit among partner and negatives, same normalisation as the
        loss), ``kept`` (fraction of the local rows kept; its mean over
        replicas is the global fraction) and ``logits`` (B, G) (left-out
        columns at −1e9).
    """
    all_psi = psi if all_psi is None else all_psi
    all_ids = transform_ids if all_ids is None else all_ids
    _check_pair("equivariance_contrast", psi, all_psi, rank=2)
    _check_ids("equivariance_contrast", psi, transform_ids, "transform_ids")
    _check_ids("equivariance_contrast", all_psi, all_ids, "all_ids")
    if all_psi.shape[0] is not None and all_psi.shape[0] % 2:
        raise ValueError(
            f"equivariance_contrast: the global batch must hold partner pairs (rows 2k, 2k + 1), "
            f"received an odd batch of {all_psi.shape[0]} rows"
        )
    logits = contrastive_logits(psi, ops.stop_gradient(all_psi), temperature)
    ids, all_ids = ops.cast(transform_ids, "int32"), ops.cast(all_ids, "int32")
    local, total = ops.shape(psi)[0], ops.shape(all_psi)[0]
    all_rows = ops.arange(total, dtype="int32")
    partner = _partner(ops.arange(local, dtype="int32") + ops.cast(offset, "int32"))
    is_partner = ops.equal(all_rows[None, :], partner[:, None])
    in_denominator = ops.logical_or(ops.not_equal(all_ids[None, :], ids[:, None]), is_partner)
    logits = ops.where(in_denominator, logits, ops.cast(_MASKED, logits.dtype))
    per_row = ops.sparse_categorical_crossentropy(partner, logits, from_logits=True)
    hits = ops.cast(ops.equal(ops.cast(ops.argmax(logits, axis=-1), "int32"), partner), logits.dtype)
    kept = ops.cast(ops.equal(ids, ops.take(all_ids, partner)), logits.dtype)
    kept_globally = ops.sum(ops.cast(ops.equal(all_ids, ops.take(all_ids, _partner(all_rows))), logits.dtype))
    scale = ops.cast(total, logits.dtype) / ops.cast(local, logits.dtype) / ops.maximum(kept_globally, 1.0)
    return {
        "loss": ops.sum(kept * per_row) * scale,
        "accuracy": ops.sum(kept * hits) * scale,
        "kept": ops.mean(kept),
        "logits": logits,
    }


def equivariance_contrast(psi, transform_ids, temperature=0.1, offset=0, all_psi=None, all_ids=None):
    """L_equi, time-equivariant Eqs. 1–2 (the mean over kept rows instead of
    the expectation); arguments as :func:`equivariance_contrast_with_metrics`."""
    return equivariance_contrast_with_metrics(psi, transform_ids, temperature, offset, all_psi, all_ids)["loss"]


def instance_contrast_with_metrics(phi_p, phi_q, temperature=0.1, offset=0, all_p=None, all_q=None):
    """L_inst (time-equivariant §3.3, Eq. 3) with metrics.

    Rows i of ``phi_p``, ``phi_q`` (B, D) are ϕ(F(x̃_i^p)), ϕ(F(x̃_i^q)), the
    two clips of video i. Every one of the 2B clips is an anchor; its
    positive is the other clip of its video, its negatives are both clips of
    every other video of the global batch (Eq. 3's Σ_{j≠i} d(ϕ_i^p, ϕ_j^r),
    r ∈ {p, q}), and the loss is the mean over the 2B anchors, as SimCLR [10]
    symmetrises its pairs. With d's stop-gradient on the candidates this is
    NT-Xent (``hdc.losses.nt_xent``) whose candidates are constants, and it is
    computed as such.

    Args:
        phi_p, phi_q: (B, D) local embeddings of the clips p and q.
        temperature: λ of Eq. 2 (0.1).
        offset, all_p, all_q: the global-candidate form, as in
            ``nt_xent_with_metrics`` (default: one device).

    Returns dict(loss, accuracy, logits (2B, 2G)).
    """
    all_p = phi_p if all_p is None else all_p
    all_q = phi_q if all_q is None else all_q
    return nt_xent_with_metrics(phi_p, phi_q, temperature, offset, ops.stop_gradient(all_p), ops.stop_gradient(all_q))


def instance_contrast(phi_p, phi_q, temperature=0.1, offset=0, all_p=None, all_q=None):
    """L_inst, time-equivariant Eq. 3; arguments as :func:`instance_contrast_with_metrics`."""
    return instance_contrast_with_metrics(phi_p, phi_q, temperature, offset, all_p, all_q)["loss"]

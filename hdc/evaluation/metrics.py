"""Evaluation metrics in pure numpy (no Keras or TensorFlow), so features and
scores from any backend can be scored.

- Retrieval (HDC §4.3, Tables 4–5; VCOP protocol): test-split videos query
  the train-split gallery by cosine similarity; a query is a hit at k when
  any of its k nearest gallery videos shares its label.
- Classification top-k from per-video class scores (HDC §4, Table 3).

Edge cases, fixed so that results do not depend on BLAS rounding:

- Ties: gallery videos equally similar to a query keep gallery order (the
  lower gallery index ranks first). Gallery rows that are identical after L2
  normalisation get bit-identical similarities (computed once), so exact
  duplicates always tie.
- Zero features: the cosine similarity of an all-zero vector to anything is
  0, so an all-zero gallery video ranks below every positively similar video
  and above every negatively similar one, and an all-zero query sees the whole
  gallery tied (its neighbours are the first gallery videos).
- NaN or inf features or scores raise a ValueError that says where and in how
  many rows, instead of scoring (a NaN similarity or score would sort as a
  silent hit or miss).
"""

import numpy as np

RETRIEVAL_KS = (1, 5, 10, 20, 50)


def require_finite(values, name, ids=None):
    """``values`` (N, ...) as float64, or a ValueError naming ``name``, how many
    of the N rows hold NaN or inf, and the first few (their ``ids`` if given)."""
    values = np.asarray(values, dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(values.reshape(len(values), -1)).all(axis=1))
    if len(bad):
        first = ", ".join(str(ids[i] if ids is not None else i) for i in bad[:3])
        raise ValueError(f"{name}: NaN or inf in {len(bad)} of {len(values)} videos (first: {first})")
    return values


def _as_features(x, name):
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or len(x) == 0:
        raise ValueError(f"{name} must be a non-empty (N, D) array, received shape {x.shape}")
    return require_finite(x, name)


def cosine_similarity(query, gallery):
    """(Q, G) cosine similarities; an all-zero row has similarity 0 to everything.
    Identical (after normalisation) gallery rows get bit-identical columns."""
    query = _as_features(query, "query features")
    gallery = _as_features(gallery, "gallery features")
    if query.shape[1] != gallery.shape[1]:
        raise ValueError(
            f"query and gallery feature sizes differ: {query.shape[1]} vs {gallery.shape[1]}"
        )

    def unit(x):
        norm = np.linalg.norm(x, axis=1, keepdims=True)
        return np.divide(x, norm, out=np.zeros_like(x), where=norm > 0)

    # BLAS may round one dot product differently at different gallery positions:
    # score each distinct row once and give identical rows its column.
    distinct, owner = np.unique(unit(gallery), axis=0, return_inverse=True)
    return (unit(query) @ distinct.T)[:, owner.ravel()]


def nearest_neighbours(query, gallery, k):
    """Indices (Q, min(k, G)) of the most similar gallery rows, best first.

    Ties keep gallery order: the lower gallery index ranks first.
    """
    sims = cosine_similarity(query, gallery)
    k = min(int(k), sims.shape[1])
    if k < 1:
        raise ValueError(f"k must be at least 1, received {k}")
    return np.argsort(-sims, axis=1, kind="stable")[:, :k]


def topk_hits(query_features, query_labels, gallery_features, gallery_labels, ks=RETRIEVAL_KS):
    """Retrieval top-k: {"top{k}": fraction of queries with a same-label video
    among their k nearest}. k is capped at the gallery size (the key keeps the
    requested k), as when a small gallery cannot supply 50 neighbours.
    """
    query_labels = np.asarray(query_labels).reshape(-1)
    gallery_labels = np.asarray(gallery_labels).reshape(-1)
    if len(query_labels) != len(query_features) or len(gallery_labels) != len(gallery_features):
        raise ValueError(
            f"labels must match features: {len(query_labels)} query labels for {len(query_features)} "
            f"queries, {len(gallery_labels)} gallery labels for {len(gallery_features)} videos"
        )
    neighbours = nearest_neighbours(query_features, gallery_features, max(ks))
    same = gallery_labels[neighbours] == query_labels[:, None]
    return {f"top{k}": float(np.mean(same[:, :k].any(axis=1))) for k in ks}


def classification_topk(scores, labels, ks=(1, 5)):
    """{"top{k}": fraction of rows whose label is among the k highest scores};
    k is capped at the number of classes. Ties count against the label."""
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels).reshape(-1)
    if scores.ndim != 2 or len(scores) != len(labels) or len(labels) == 0:
        raise ValueError(
            f"scores must be (N, classes) with one label per row, received {scores.shape} and {labels.shape}"
        )
    require_finite(scores, "class scores")
    if labels.min() < 0 or labels.max() >= scores.shape[1]:
        raise ValueError(f"labels must lie in [0, {scores.shape[1]}), received {labels.min()}..{labels.max()}")
    own = scores[np.arange(len(labels)), labels]
    rank = (scores >= own[:, None]).sum(axis=1)  # 1 when the label's score is the strict maximum
    return {f"top{k}": float(np.mean(rank <= k)) for k in ks}

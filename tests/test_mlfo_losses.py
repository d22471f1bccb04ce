"""Multi-level feature optimisation losses (multi-level §3, Eqs. 4–13) against
short numpy implementations of the equations, and their global-candidate
forms: the mean of per-replica losses equals the single-device loss."""

import numpy as np
import pytest

from hdc import losses
from test_instance_losses import normalise, numpy_nt_xent


def h(u, v, tau):
    """Eq. 1: exp(cos(u, v) / τ)."""
    return np.exp(normalise(u) @ normalise(v) / tau)


def numpy_sinkhorn(scores, eps, iterations):
    """SwAV's Algorithm 1 on Q = exp(scores/ε)ᵀ (K × B): rows (prototypes) to 1/K,
    columns (samples) to 1/B, repeated; columns rescaled to sum to 1."""
    q = np.exp(scores / eps).T
    q /= q.sum()
    k, b = q.shape
    for _ in range(iterations):
        q /= q.sum(axis=1, keepdims=True) * k
        q /= q.sum(axis=0, keepdims=True) * b
    return (q * b).T


def numpy_graph(z1, z2, s1, s2, eta, tau, kind):
    """Eqs. 6–9 entry by entry; an empty row keeps its diagonal."""
    n = len(z1)
    w = np.empty((n, n))
    for i in range(n):
        for j in range(n):
            w[i, j] = h(z1[i], z2[i], tau) if i == j else sum(
                h(a[i], b[j], tau) for a in (z1, z2) for b in (z1, z2)) / 4
    e_ins = np.where(w / w.sum(axis=1, keepdims=True) >= eta, w, 0.0)
    label = np.argmax(s1 + s2, axis=1)
    e_sem = (label[:, None] == label[None, :]).astype(float)
    product = {"combined": e_ins * e_sem, "instance": e_ins, "semantic": e_sem, "onehot": np.eye(n)}[kind]
    edges = np.zeros((n, n))
    for i in range(n):
        if product[i].sum() > 0:
            edges[i] = product[i] / product[i].sum()
        else:
            edges[i, i] = 1.0
    return edges


def numpy_graph_contrast(z1, z2, edges, tau):
    """Eq. 10 with h(z_iᵃ, z_j*) of Eq. 3, averaged over the 2N anchors."""
    n = len(z1)
    total = 0.0
    for i in range(n):
        for a in (z1, z2):
            star = np.array([h(z1[i], z2[i], tau) if j == i else h(a[i], z1[j], tau) + h(a[i], z2[j], tau)
                             for j in range(n)])
            total -= (edges[i] * np.log(star / star.sum())).sum()
    return total / (2 * n)


def numpy_aug(e1, e2, negatives1, negatives2, tau):
    """Eqs. 11–12, averaged over the 2B anchors; negativesᵃ: A arrays (B, D), one per transformation."""
    total = 0.0
    for i in range(len(e1)):
        positive = h(e1[i], e2[i], tau)
        for e, negatives in ((e1, negatives1), (e2, negatives2)):
            total -= np.log(positive / (positive + sum(h(e[i], n[i], tau) for n in negatives)))
    return total / (2 * len(e1))


def numpy_ret(short, long, tau, start=0):
    """Eq. 13: step t of short retrieves step start + t of long, averaged over clips and steps."""
    total = 0.0
    for b in range(len(short)):
        for t in range(short.shape[1]):
            similar = np.array([h(short[b, t], long[b, k], tau) for k in range(long.shape[1])])
            total -= np.log(similar[start + t] / similar.sum())
    return total / (short.shape[0] * short.shape[1])


def softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


@pytest.mark.parametrize("b, k, eps", [(6, 4, 0.05), (5, 12, 0.5), (1, 3, 0.1)])
def test_sinkhorn_matches_numpy_and_rows_sum_to_one(b, k, eps):
    rng = np.random.default_rng(b)
    scores = normalise(rng.normal(size=(b, 8))) @ normalise(rng.normal(size=(k, 8))).T
    got = np.asarray(losses.sinkhorn(scores, eps, 3))
    np.testing.assert_allclose(got, numpy_sinkhorn(scores, eps, 3), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(got.sum(axis=1), 1.0, rtol=1e-12)
    assert got.dtype == np.float64 and np.asarray(losses.sinkhorn(scores.astype("float32"))).dtype == np.float32


def test_sinkhorn_converges_to_an_equal_partition():
    rng = np.random.default_rng(1)
    scores = rng.uniform(-1, 1, size=(12, 4))
    got = np.asarray(losses.sinkhorn(scores, 0.5, 300))
    np.testing.assert_allclose(got.sum(axis=0), 3.0, rtol=1e-9)  # 12 rows over 4 prototypes
    np.testing.assert_allclose(got.sum(axis=1), 1.0, rtol=1e-12)


def test_sinkhorn_with_a_queue_partitions_over_current_and_filled_rows():
    rng = np.random.default_rng(2)
    scores, queued = rng.uniform(-1, 1, size=(3, 5)), rng.uniform(-1, 1, size=(6, 5))
    mask = np.array([True, True, False, True, False, False])
    got = np.asarray(losses.sinkhorn(scores, 0.1, 4, queued, mask))
    want = numpy_sinkhorn(np.concatenate([scores, queued[mask]]), 0.1, 4)[:3]
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)
    junk = np.where(mask[:, None], queued, 50.0)  # unfilled rows never matter
    np.testing.assert_allclose(np.asarray(losses.sinkhorn(scores, 0.1, 4, junk, mask)), got, rtol=1e-12)
    with pytest.raises(ValueError, match="epsilon must be a number > 0"):
        losses.sinkhorn(scores, 0.0)
    with pytest.raises(ValueError, match="iterations must be an integer >= 1"):
        losses.sinkhorn(scores, 0.05, 0)
    with pytest.raises(ValueError, match=r"queued must be \(Q, 5\)"):
        losses.sinkhorn(scores, 0.05, 3, queued[:, :4])


def clustered(rng, n, k, clusters):
    """Sinkhorn-like targets whose argmax of s¹ + s² is ``clusters``."""
    s = rng.uniform(0, 0.2, size=(2, n, k))
    s[:, np.arange(n), clusters] += 1.0
    return s / s.sum(axis=-1, keepdims=True)


@pytest.mark.parametrize("kind", losses.GRAPH_KINDS)
def test_graph_targets_match_numpy(kind):
    rng = np.random.default_rng(3)
    z1, z2 = rng.normal(size=(2, 7, 6))
    s1, s2 = clustered(rng, 7, 4, np.array([0, 1, 0, 2, 1, 0, 3]))
    got = np.asarray(losses.graph_targets(z1, z2, s1, s2, eta=0.1, temperature=0.5, kind=kind))
    want = numpy_graph(z1, z2, s1, s2, 0.1, 0.5, kind)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(got.sum(axis=1), 1.0, rtol=1e-12)
    if kind == "combined":  # the graph is sparse and mixes instance and semantic edges
        assert 7 < (got > 0).sum() < 49


def test_graph_targets_keep_the_diagonal_of_an_emptied_row():
    z1 = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    z2 = np.array([[-1.0, 0.1, 0.0], [0.1, 1.0, 0.0], [0.0, 0.1, 1.0]])  # sample 0's views disagree
    z1[0] = [0.1, 1.0, 0.0]  # … and its first view sits next to sample 1, of another pseudo-class
    s1, s2 = clustered(np.random.default_rng(4), 3, 3, np.array([0, 1, 2]))
    got = np.asarray(losses.graph_targets(z1, z2, s1, s2, eta=0.2, temperature=0.2))
    want = numpy_graph(z1, z2, s1, s2, 0.2, 0.2, "combined")
    w_row = numpy_graph(z1, z2, s1, s2, 0.2, 0.2, "instance")[0]
    assert w_row[0] == 0 and w_row[1] > 0  # E_ins drops the diagonal and keeps another class only
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(got[0], [1.0, 0.0, 0.0])


def test_graph_targets_rows_of_a_replica_and_errors():
    rng = np.random.default_rng(5)
    z1, z2 = rng.normal(size=(2, 6, 4))
    s1, s2 = clustered(rng, 6, 3, np.array([0, 1, 0, 1, 2, 2]))
    full = np.asarray(losses.graph_targets(z1, z2, s1, s2, 0.15, 0.3))
    parts = [np.asarray(losses.graph_targets(z1, z2, s1, s2, 0.15, 0.3, offset=3 * r, rows=3)) for r in (0, 1)]
    np.testing.assert_allclose(np.concatenate(parts), full, rtol=1e-12)
    with pytest.raises(ValueError, match="kind must be one of"):
        losses.graph_targets(z1, z2, s1, s2, kind="hard")
    with pytest.raises(ValueError, match=r"eta must be a number in \[0, 1\], received 1.5"):
        losses.graph_targets(z1, z2, s1, s2, eta=1.5)


def test_swapped_prediction_matches_numpy():
    rng = np.random.default_rng(6)
    scores1, scores2 = rng.uniform(-1, 1, size=(2, 5, 8))
    t1, t2 = softmax(rng.normal(size=(2, 5, 8)))
    p1, p2 = softmax(scores1 / 0.1), softmax(scores2 / 0.1)
    want = -(np.sum(t1 * np.log(p2)) + np.sum(t2 * np.log(p1))) / (2 * 5)
    np.testing.assert_allclose(float(losses.swapped_prediction(scores1, scores2, t1, t2, 0.1)), want, rtol=1e-10)


def test_graph_contrast_matches_numpy_and_one_hot_is_instance_contrast():
    rng = np.random.default_rng(7)
    z1, z2 = rng.normal(size=(2, 6, 5))
    edges = numpy_graph(*rng.normal(size=(2, 6, 4)), *clustered(rng, 6, 3, np.array([0, 0, 1, 1, 2, 0])),
                        0.1, 0.5, "combined")
    got = float(losses.graph_contrast(z1, z2, edges, 0.5))
    np.testing.assert_allclose(got, numpy_graph_contrast(z1, z2, edges, 0.5), rtol=1e-10)
    one_hot = float(losses.graph_contrast(z1, z2, np.eye(6), 0.5))
    np.testing.assert_allclose(one_hot, numpy_nt_xent(z1, z2, 0.5), rtol=1e-10)  # Eq. 10 with E = I is Eq. 2


def test_augmentation_contrast_matches_numpy():
    rng = np.random.default_rng(8)
    e1, e2 = rng.normal(size=(2, 4, 6))
    aug1, aug2 = rng.normal(size=(2, 4, 2, 6))
    got = float(losses.augmentation_contrast(e1, e2, aug1, aug2, 0.2))
    np.testing.assert_allclose(got, numpy_aug(e1, e2, aug1.swapaxes(0, 1), aug2.swapaxes(0, 1), 0.2), rtol=1e-10)
    with pytest.raises(ValueError, match=r"augmented must be \(B, A, 6\)"):
        losses.augmentation_contrast(e1, e2, aug1[..., :5], aug2[..., :5])


@pytest.mark.parametrize("start", [0, 2])
def test_timestamp_retrieval_matches_numpy(start):
    rng = np.random.default_rng(9)
    short, long = rng.normal(size=(3, 4, 5)), rng.normal(size=(3, 7, 5))
    got = float(losses.timestamp_retrieval(short, long, 0.3, start))
    np.testing.assert_allclose(got, numpy_ret(short, long, 0.3, start), rtol=1e-10)
    with pytest.raises(ValueError, match="fewer than start 4"):
        losses.timestamp_retrieval(short, long, 0.3, start=4)


def test_replicas_equal_one_device():
    """Two replicas of 3: Sinkhorn on the gathered batch (plus a queue), each replica its own
    rows of the targets and of E, anchors local, candidates gathered."""
    rng = np.random.default_rng(10)
    z1, z2, g1, g2 = rng.normal(size=(4, 6, 5))
    scores1, scores2 = rng.uniform(-1, 1, size=(2, 6, 7))
    queue, mask = rng.uniform(-1, 1, size=(4, 7)), np.array([True, True, True, False])
    s1, s2 = (np.asarray(losses.sinkhorn(s, 0.05, 3, queue, mask)) for s in (scores1, scores2))

    def terms(offset, rows):
        part = slice(offset, offset + rows)
        edges = losses.graph_targets(z1, z2, s1, s2, 0.1, 0.5, offset=offset, rows=rows)
        return np.array([
            float(losses.nt_xent(z1[part], z2[part], 0.5, offset, z1, z2)),
            float(losses.swapped_prediction(scores1[part], scores2[part], s1[part], s2[part])),
            float(losses.graph_contrast(g1[part], g2[part], edges, 0.5, offset, g1, g2)),
        ])

    single = terms(0, 6)
    np.testing.assert_allclose((terms(0, 3) + terms(3, 3)) / 2, single, rtol=1e-12)

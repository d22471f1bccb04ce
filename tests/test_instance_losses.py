"""videoSimCLR's NT-Xent and videoMoCo's queue loss (thesis Eqs. 1–2) against
short numpy implementations, and their global-candidate form across replicas."""

import numpy as np
import pytest

from hdc import losses


def normalise(x):
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def numpy_nt_xent(a, b, tau):
    """Eq. 1 for every one of the 2N anchors, averaged."""
    z = normalise(np.concatenate([a, b]).astype("float64"))
    n = len(a)
    sim = z @ z.T / tau
    total = 0.0
    for i in range(2 * n):
        j = (i + n) % (2 * n)
        others = [k for k in range(2 * n) if k != i]
        total += -sim[i, j] + np.log(np.exp(sim[i, others]).sum())
    return total / (2 * n)


def numpy_moco(q, k, queue, tau):
    q, k, queue = (normalise(x.astype("float64")) for x in (q, k, queue))
    logits = np.concatenate([(q * k).sum(1, keepdims=True), q @ queue.T], axis=1) / tau
    return np.mean(np.log(np.exp(logits).sum(1)) - logits[:, 0]), np.mean(logits.argmax(1) == 0)


@pytest.mark.parametrize("n, tau", [(1, 0.5), (4, 0.5), (6, 0.1)])
def test_nt_xent_matches_numpy(n, tau):
    rng = np.random.default_rng(n)
    a, b = rng.normal(size=(2, n, 16)).astype("float32")
    np.testing.assert_allclose(float(losses.nt_xent(a, b, tau)), numpy_nt_xent(a, b, tau), rtol=1e-5)


def test_nt_xent_is_symmetric_in_the_views_and_order_free():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(2, 5, 8)).astype("float32")
    perm = rng.permutation(5)
    base = float(losses.nt_xent(a, b))
    np.testing.assert_allclose(float(losses.nt_xent(b, a)), base, rtol=1e-6)
    np.testing.assert_allclose(float(losses.nt_xent(a[perm], b[perm])), base, rtol=1e-6)


def test_nt_xent_perfect_views_reach_high_accuracy_and_low_loss():
    a = np.eye(4, 8, dtype="float32") * 5
    out = losses.nt_xent_with_metrics(a, a, 0.1)
    assert float(out["accuracy"]) == 1.0 and float(out["loss"]) < 1e-3
    assert tuple(out["logits"].shape) == (8, 8)


def test_nt_xent_replicas_equal_one_device():
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(2, 6, 8)).astype("float64")
    single = float(losses.nt_xent(a, b, 0.3))
    parts = [float(losses.nt_xent(a[r * 3:(r + 1) * 3], b[r * 3:(r + 1) * 3], 0.3, offset=3 * r, all_a=a, all_b=b))
             for r in range(2)]
    np.testing.assert_allclose(np.mean(parts), single, rtol=1e-12)


def test_moco_loss_matches_numpy_and_checks_shapes():
    rng = np.random.default_rng(5)
    q, k = rng.normal(size=(2, 4, 8)).astype("float32")
    queue = rng.normal(size=(32, 8)).astype("float32")
    out = losses.moco_loss_with_metrics(q, k, queue, 0.07)
    want, accuracy = numpy_moco(q, k, queue, 0.07)
    np.testing.assert_allclose(float(out["loss"]), want, rtol=1e-5)
    assert float(out["accuracy"]) == accuracy and tuple(out["logits"].shape) == (4, 33)
    with pytest.raises(ValueError, match="queue must be"):
        losses.moco_loss(q, k, queue[:, :4])
    with pytest.raises(ValueError, match="temperature"):
        losses.moco_loss(q, k, queue, 0.0)

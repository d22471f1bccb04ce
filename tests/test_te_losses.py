"""Time-equivariant L_equi and L_inst (Eqs. 1–3) against short numpy
implementations: same-id rows left out of the denominator, rows whose partner
has another id dropped, the gradient only through the anchors, and the
global-candidate form across replicas."""

import numpy as np
import pytest
import tensorflow as tf

from hdc import losses


def normalise(x):
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def numpy_equi(psi, ids, lam, candidates=None):
    """Eq. 1 with d of Eq. 2 for every row i whose partner i XOR 1 has its id: positive
    the partner, negatives the rows of other ids; mean over those rows (0 if none).
    ``candidates``: the vectors on the y side of d (default ``psi``). Returns (loss, accuracy)."""
    x = normalise(psi.astype("float64"))
    y = x if candidates is None else normalise(candidates.astype("float64"))
    terms, hits = [], []
    for i in range(len(x)):
        j = i ^ 1
        if ids[j] != ids[i]:
            continue
        d = lambda k: np.exp(x[i] @ y[k] / lam)  # noqa: E731
        negatives = [d(k) for k in range(len(x)) if ids[k] != ids[i]]
        terms.append(-np.log(d(j) / (d(j) + sum(negatives))))
        hits.append(all(d(j) > n for n in negatives))
    return (np.mean(terms), np.mean(hits)) if terms else (0.0, 0.0)


def numpy_inst(p, q, lam, candidates=None):
    """Eq. 3 for each of the 2N clips: positive the other clip of its video,
    negatives both clips of every other video; mean over the 2N clips. Returns (loss, accuracy)."""
    n = len(p)
    x = normalise(np.concatenate([p, q]).astype("float64"))
    y = x if candidates is None else normalise(np.concatenate(candidates).astype("float64"))
    terms, hits = [], []
    for a in range(2 * n):
        video, positive = a % n, (a + n) % (2 * n)
        d = np.exp(x[a] @ y.T / lam)
        negatives = [k for k in range(2 * n) if k % n != video]
        terms.append(-np.log(d[positive] / (d[positive] + d[negatives].sum())))
        hits.append(d[positive] > d[negatives].max())
    return np.mean(terms), np.mean(hits)


# rows (0,1) and (6,7) share id 3 (excluded from each other's denominators); the
# partners of (2,3) differ (a short-video reduction: both rows dropped)
IDS = np.array([3, 3, 5, 9, 4, 4, 3, 3], "int32")


# The float64 checks use a λ exact in float32, so they hold however a Python τ reaches
# float64 (a cast through float32 turns 0.1 into 0.10000000149, 1.5e-8 off)
@pytest.mark.parametrize("dtype, tol, lam", [("float32", 1e-5, 0.1), ("float32", 1e-5, 0.5), ("float64", 1e-12, 0.125),
                                            ("float64", 1e-12, 0.5)])
def test_equivariance_contrast_matches_numpy(dtype, tol, lam):
    psi = np.random.default_rng(0).normal(size=(8, 6)).astype(dtype)
    out = losses.equivariance_contrast_with_metrics(psi, IDS, lam)
    loss, accuracy = numpy_equi(psi, IDS, lam)
    np.testing.assert_allclose(float(out["loss"]), loss, rtol=tol)
    np.testing.assert_allclose(float(out["accuracy"]), accuracy, rtol=tol)
    assert float(out["kept"]) == 0.75 and tuple(out["logits"].shape) == (8, 8)
    assert out["loss"].dtype == dtype
    # the exclusion matters: with pairs (0,1) and (6,7) given distinct ids, they are negatives of each other
    assert abs(numpy_equi(psi, np.array([0, 0, 1, 2, 3, 3, 4, 4]), lam)[0] - loss) > 1e-3


def test_equivariance_contrast_with_no_valid_pair_is_zero_with_finite_gradient():
    psi = tf.Variable(np.random.default_rng(1).normal(size=(4, 3)))
    with tf.GradientTape() as tape:
        out = losses.equivariance_contrast_with_metrics(psi, np.array([0, 1, 2, 3], "int32"))
    assert float(out["loss"]) == 0.0 and float(out["kept"]) == 0.0
    assert np.all(tape.gradient(out["loss"], psi).numpy() == 0.0)


def numeric_gradient(f, x, step=1e-6):
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[index] += step
        down[index] -= step
        grad[index] = (f(up) - f(down)) / (2 * step)
    return grad


def gradient(loss, *arrays):
    variables = [tf.Variable(a) for a in arrays]
    with tf.GradientTape() as tape:
        value = loss(*variables)
    return [g.numpy() for g in tape.gradient(value, variables)]


def test_equivariance_gradient_reaches_only_the_anchors():
    psi = np.random.default_rng(2).normal(size=(8, 5))
    (got,) = gradient(lambda v: losses.equivariance_contrast(v, IDS, 0.2), psi)
    (constant,) = gradient(lambda v: losses.equivariance_contrast(v, IDS, 0.2, all_psi=tf.constant(psi)), psi)
    np.testing.assert_allclose(got, constant, rtol=1e-12, atol=1e-14)
    anchors_only = numeric_gradient(lambda x: numpy_equi(x, IDS, 0.2, candidates=psi)[0], psi)
    both_sides = numeric_gradient(lambda x: numpy_equi(x, IDS, 0.2)[0], psi)
    np.testing.assert_allclose(got, anchors_only, rtol=1e-6, atol=1e-8)
    assert np.abs(got - both_sides).max() > 1e-2  # the stop-gradient changes the gradient


def test_instance_contrast_matches_numpy_and_its_gradient_reaches_only_the_anchors():
    rng = np.random.default_rng(3)
    p, q = rng.normal(size=(2, 5, 4))
    out = losses.instance_contrast_with_metrics(p.astype("float32"), q.astype("float32"))
    loss, accuracy = numpy_inst(p, q, 0.1)
    np.testing.assert_allclose(float(out["loss"]), loss, rtol=1e-5)
    np.testing.assert_allclose(float(out["accuracy"]), accuracy)
    assert tuple(out["logits"].shape) == (10, 10)
    got = gradient(lambda a, b: losses.instance_contrast(a, b, 0.3), p, q)
    constant = gradient(lambda a, b: losses.instance_contrast(a, b, 0.3, all_p=tf.constant(p), all_q=tf.constant(q)),
                        p, q)
    for g, c in zip(got, constant):
        np.testing.assert_allclose(g, c, rtol=1e-12, atol=1e-14)
    anchors_only = numeric_gradient(lambda x: numpy_inst(x, q, 0.3, candidates=(p, q))[0], p)
    np.testing.assert_allclose(got[0], anchors_only, rtol=1e-6, atol=1e-8)
    nt_xent = gradient(lambda a, b: losses.nt_xent(a, b, 0.3), p, q)  # both sides: another gradient
    assert np.abs(got[0] - nt_xent[0]).max() > 1e-2


@pytest.mark.parametrize("replicas", [2, 4])
def test_replicas_with_gathered_candidates_equal_one_device(replicas):
    """Replicas hold unequal numbers of kept rows (2 replicas: 2 and 4; 4: 2, 0, 2, 2)."""
    rng = np.random.default_rng(4)
    psi, p, q = rng.normal(size=(3, 8, 6))
    local = 8 // replicas
    parts = [(slice(r * local, (r + 1) * local), r * local) for r in range(replicas)]
    single = losses.equivariance_contrast_with_metrics(psi, IDS, 0.1)
    per_replica = [losses.equivariance_contrast_with_metrics(psi[s], IDS[s], 0.1, offset, psi, IDS)
                   for s, offset in parts]
    for key in ("loss", "accuracy", "kept"):
        np.testing.assert_allclose(np.mean([float(r[key]) for r in per_replica]), float(single[key]), rtol=1e-12)
    inst = [float(losses.instance_contrast(p[s], q[s], 0.1, offset, p, q)) for s, offset in parts]
    np.testing.assert_allclose(np.mean(inst), float(losses.instance_contrast(p, q, 0.1)), rtol=1e-12)


def test_bad_arguments_are_named():
    psi = np.ones((4, 3), "float32")
    with pytest.raises(ValueError, match="odd batch of 5"):
        losses.equivariance_contrast(np.ones((5, 3), "float32"), np.zeros(5, "int32"))
    with pytest.raises(ValueError, match=r"transform_ids must be \(4,\).*\(3,\)"):
        losses.equivariance_contrast(psi, np.zeros(3, "int32"))
    with pytest.raises(ValueError, match="all_ids must be"):
        losses.equivariance_contrast(psi[:2], np.zeros(2, "int32"), all_psi=psi, all_ids=np.zeros(2, "int32"))
    with pytest.raises(ValueError, match="temperature must be > 0, received 0"):
        losses.equivariance_contrast(psi, np.zeros(4, "int32"), temperature=0)

"""hdc.losses against a float64 numpy implementation of HDC Eqs. 1, 4, 5, 6
written here, plus the properties a contrastive loss must have."""

import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from hdc import losses

RTOL = 1e-5


def numpy_info_nce(anchors, candidates, tau, offset=0):
    """Eq. 1, float64, averaged over anchors: (loss, accuracy, logits)."""
    a = np.asarray(anchors, np.float64)
    c = np.asarray(candidates, np.float64)
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    c = c / np.linalg.norm(c, axis=1, keepdims=True)
    logits = a @ c.T / tau
    top = logits.max(axis=1)
    log_sum_exp = top + np.log(np.exp(logits - top[:, None]).sum(axis=1))
    rows = np.arange(len(a))
    positive = rows + offset
    loss = np.mean(log_sum_exp - logits[rows, positive])
    return loss, np.mean(logits.argmax(axis=1) == positive), logits


def numpy_spatial_contrast(z_o, z_s, tau, offset=0):
    """Eq. 4 (mean over anchors): mean over time steps of Eq. 1 at each step."""
    steps = [numpy_info_nce(z_o[:, n], z_s[:, n], tau, offset) for n in range(z_o.shape[1])]
    return np.mean([s[0] for s in steps]), np.mean([s[1] for s in steps]), np.stack([s[2] for s in steps], 1)


def random(rng, *shape):
    return rng.normal(size=shape).astype("float32")


@pytest.mark.parametrize("batch, dim, tau", [(2, 3, 0.07), (5, 16, 0.1), (16, 128, 0.07), (7, 8, 0.5), (32, 4, 1.0)])
def test_info_nce_and_temporal_contrast_match_numpy(batch, dim, tau):
    rng = np.random.default_rng(batch * dim)
    a, p = random(rng, batch, dim), random(rng, batch, dim)
    want_loss, want_acc, want_logits = numpy_info_nce(a, p, tau)
    got = losses.info_nce_with_metrics(a, p, tau)
    np.testing.assert_allclose(float(got["loss"]), want_loss, rtol=RTOL)
    np.testing.assert_allclose(float(got["accuracy"]), want_acc)
    np.testing.assert_allclose(ops.convert_to_numpy(got["logits"]), want_logits, rtol=RTOL, atol=1e-5)
    np.testing.assert_allclose(float(losses.info_nce(a, p, tau)), want_loss, rtol=RTOL)
    np.testing.assert_allclose(float(losses.temporal_contrast(a, p, tau)), want_loss, rtol=RTOL)  # Eq. 5


@pytest.mark.parametrize("batch, steps, dim, tau", [(2, 1, 3, 0.07), (4, 8, 16, 0.1), (9, 2, 128, 0.07), (6, 4, 5, 0.3)])
def test_spatial_contrast_matches_numpy(batch, steps, dim, tau):
    rng = np.random.default_rng(batch * steps * dim)
    z_o, z_s = random(rng, batch, steps, dim), random(rng, batch, steps, dim)
    want_loss, want_acc, want_logits = numpy_spatial_contrast(z_o, z_s, tau)
    got = losses.spatial_contrast_with_metrics(z_o, z_s, tau)
    np.testing.assert_allclose(float(got["loss"]), want_loss, rtol=RTOL)
    np.testing.assert_allclose(float(got["accuracy"]), want_acc)
    np.testing.assert_allclose(ops.convert_to_numpy(got["logits"]), want_logits, rtol=RTOL, atol=1e-5)
    np.testing.assert_allclose(float(losses.spatial_contrast(z_o, z_s, tau)), want_loss, rtol=RTOL)


@pytest.mark.parametrize("batch, extra, offset", [(3, 5, 0), (3, 5, 5), (4, 4, 2)])
def test_global_candidates_match_numpy(batch, extra, offset):
    rng = np.random.default_rng(offset)
    a, c = random(rng, batch, 6), random(rng, batch + extra, 6)
    want_loss, want_acc, _ = numpy_info_nce(a, c, 0.07, offset)
    got = losses.info_nce_with_metrics(a, c, 0.07, offset=offset)
    np.testing.assert_allclose(float(got["loss"]), want_loss, rtol=RTOL)
    np.testing.assert_allclose(float(got["accuracy"]), want_acc)


def split_replicas(fn, anchors, candidates, replicas):
    """Each replica's local anchors against all candidates, offset to its rows; the replica mean."""
    local = len(anchors) // replicas
    return np.mean(
        [float(fn(anchors[r * local:(r + 1) * local], candidates, 0.07, ops.convert_to_tensor(r * local)))
         for r in range(replicas)]
    )


@pytest.mark.parametrize("replicas", [2, 4])
def test_replica_offset_equals_single_device(replicas):
    rng = np.random.default_rng(replicas)
    a, p = random(rng, 8, 16), random(rng, 8, 16)
    np.testing.assert_allclose(split_replicas(losses.info_nce, a, p, replicas), float(losses.info_nce(a, p)), rtol=RTOL)
    z_o, z_s = random(rng, 8, 3, 16), random(rng, 8, 3, 16)
    np.testing.assert_allclose(
        split_replicas(losses.spatial_contrast, z_o, z_s, replicas), float(losses.spatial_contrast(z_o, z_s)), rtol=RTOL
    )


def test_permutation_invariance():
    rng = np.random.default_rng(1)
    perm = rng.permutation(10)
    a, p = random(rng, 10, 8), random(rng, 10, 8)
    np.testing.assert_allclose(float(losses.info_nce(a[perm], p[perm])), float(losses.info_nce(a, p)), rtol=RTOL)
    z_o, z_s = random(rng, 10, 4, 8), random(rng, 10, 4, 8)
    np.testing.assert_allclose(
        float(losses.spatial_contrast(z_o[perm], z_s[perm])), float(losses.spatial_contrast(z_o, z_s)), rtol=RTOL
    )


def test_scale_invariance():
    rng = np.random.default_rng(2)
    a, p = random(rng, 6, 8), random(rng, 6, 8)
    scale_a = rng.uniform(0.01, 100, size=(6, 1)).astype("float32")
    scale_p = rng.uniform(0.01, 100, size=(6, 1)).astype("float32")
    np.testing.assert_allclose(float(losses.info_nce(a * scale_a, p * scale_p)), float(losses.info_nce(a, p)), rtol=RTOL)
    z_o, z_s = random(rng, 6, 3, 8), random(rng, 6, 3, 8)
    np.testing.assert_allclose(
        float(losses.spatial_contrast(z_o * 7.5, z_s * 0.02)), float(losses.spatial_contrast(z_o, z_s)), rtol=RTOL
    )


def test_aligned_separated_embeddings_give_near_zero_loss():
    batch, tau = 8, 0.07
    rng = np.random.default_rng(3)
    basis = np.linalg.qr(rng.normal(size=(16, 16)))[0][:batch].astype("float32")  # orthonormal rows
    result = losses.info_nce_with_metrics(basis, basis * 3.0, tau)
    # Each row: -log(e^{1/τ} / (e^{1/τ} + (B-1)·e^0)) = log(1 + (B-1)e^{-1/τ}) ≈ 4e-6;
    # float32 logits near 1/τ carry ~1e-6 rounding, hence the absolute tolerance.
    np.testing.assert_allclose(float(result["loss"]), np.log1p((batch - 1) * np.exp(-1 / tau)), atol=5e-7)
    assert float(result["loss"]) < 1e-4
    assert float(result["accuracy"]) == 1.0
    steps = np.stack([basis, basis[::-1]], axis=1)
    assert float(losses.spatial_contrast(steps, steps, tau)) < 1e-4


@pytest.mark.parametrize("batch", [2, 5, 32])
def test_identical_embeddings_give_log_batch(batch):
    same = np.tile(np.float32([[0.3, -1.2, 2.0]]), (batch, 1))
    np.testing.assert_allclose(float(losses.info_nce(same, same)), np.log(batch), rtol=RTOL)
    np.testing.assert_allclose(float(losses.spatial_contrast(same[:, None], same[:, None])), np.log(batch), rtol=RTOL)
    candidates = np.tile(same[:1], (3 * batch, 1))  # global candidates: log of their number
    np.testing.assert_allclose(float(losses.info_nce(same, candidates, offset=batch)), np.log(3 * batch), rtol=RTOL)


def test_zero_vector_gives_finite_loss_and_gradient():
    rng = np.random.default_rng(4)
    a = random(rng, 4, 8)
    a[1] = 0.0
    p = random(rng, 4, 8)
    p[2] = 0.0
    a_var, p_var = tf.Variable(a), tf.Variable(p)
    with tf.GradientTape() as tape:
        loss = losses.info_nce(a_var, p_var) + losses.spatial_contrast(a_var[:, None], p_var[:, None])
    grads = tape.gradient(loss, [a_var, p_var])
    assert np.isfinite(float(loss))
    for grad in grads:
        assert np.all(np.isfinite(grad.numpy()))


def test_float16_inputs_give_float32_losses():
    rng = np.random.default_rng(5)
    a, p = random(rng, 6, 8), random(rng, 6, 8)
    result = losses.info_nce_with_metrics(a.astype("float16"), p.astype("float16"))
    assert result["loss"].dtype == tf.float32 and result["logits"].dtype == tf.float32
    np.testing.assert_allclose(float(result["loss"]), numpy_info_nce(a, p, 0.07)[0], rtol=1e-2)
    sc = losses.spatial_contrast(a[:, None].astype("float16"), p[:, None].astype("float16"))
    assert sc.dtype == tf.float32
    assert losses.contrastive_logits(a.astype("float16"), p.astype("float16"), 0.07).dtype == tf.float32


def test_hd_nce_is_the_weighted_sum():
    sc = {3: 1.5, 4: 2.0, 5: 0.7}
    tc = {3: 0.9, 4: 3.1, 5: 1.1}
    total, terms = losses.hd_nce(sc, tc)
    want = 0.25 * 1.5 + 0.5 * 2.0 + 1.0 * 0.7 + 0.25 * 0.9 + 0.5 * 3.1 + 1.0 * 1.1
    np.testing.assert_allclose(float(total), want, rtol=RTOL)
    assert list(terms) == ["sc_block3", "sc_block4", "sc_block5", "tc_block3", "tc_block4", "tc_block5"]
    np.testing.assert_allclose([float(terms[f"sc_block{k}"]) for k in (3, 4, 5)], [1.5, 2.0, 0.7], rtol=RTOL)
    total, _ = losses.hd_nce(sc, tc, alpha=(1.0, 2.0, 3.0), beta=(0.0, 0.1, 0.2))
    np.testing.assert_allclose(float(total), 1.5 + 4.0 + 2.1 + 0.31 + 0.22, rtol=RTOL)


@pytest.mark.parametrize(
    "sc_blocks, tc_blocks",
    [((5,), ()), ((), (5,)), ((5,), (5,)), ((3, 4, 5), ()), ((), (3, 4, 5)), ((4, 5), (3,)), ((3, 5), (4, 5))],
)
def test_hd_nce_ablations_drop_exactly_the_off_terms(sc_blocks, tc_blocks):
    values = {3: 1.0, 4: 10.0, 5: 100.0}
    total, terms = losses.hd_nce({k: values[k] for k in sc_blocks}, {k: 2 * values[k] for k in tc_blocks})
    weight = {3: 0.25, 4: 0.5, 5: 1.0}
    want = sum(weight[k] * values[k] for k in sc_blocks) + sum(weight[k] * 2 * values[k] for k in tc_blocks)
    np.testing.assert_allclose(float(total), want, rtol=RTOL)
    assert set(terms) == {f"sc_block{k}" for k in sc_blocks} | {f"tc_block{k}" for k in tc_blocks}


def test_hd_nce_custom_blocks():
    total, terms = losses.hd_nce({2: 4.0}, {5: 1.0}, alpha=(0.5, 0.0), beta=(0.0, 2.0), blocks=(2, 5))
    np.testing.assert_allclose(float(total), 4.0, rtol=RTOL)
    assert list(terms) == ["sc_block2", "tc_block5"]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(sc_losses={}, tc_losses={}), "no terms"),
        (dict(sc_losses={6: 1.0}, tc_losses={}), "unknown blocks"),
        (dict(sc_losses={3: 1.0}, tc_losses={}, alpha=(1.0, 1.0)), "one weight per block"),
        (dict(sc_losses={3: 1.0}, tc_losses={}, beta=(1.0, -1.0, 1.0)), ">= 0"),
    ],
)
def test_hd_nce_rejects_bad_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        losses.hd_nce(**kwargs)


def test_bad_inputs_raise_clear_errors():
    rng = np.random.default_rng(6)
    with pytest.raises(ValueError, match="rank-2"):
        losses.info_nce(random(rng, 4, 3, 8), random(rng, 4, 3, 8))
    with pytest.raises(ValueError, match="rank-3"):
        losses.spatial_contrast(random(rng, 4, 8), random(rng, 4, 8))
    with pytest.raises(ValueError, match="agree"):
        losses.info_nce(random(rng, 4, 8), random(rng, 4, 7))
    with pytest.raises(ValueError, match="at least as many candidates"):
        losses.info_nce(random(rng, 4, 8), random(rng, 3, 8))
    with pytest.raises(ValueError, match="temperature"):
        losses.info_nce(random(rng, 4, 8), random(rng, 4, 8), temperature=0.0)

"""The PyTorch reference (benchmarks/torch_reference.py) against our Keras model.

Two implementations written separately from the specs must compute the same
function once they share weights: every tap of every backbone, and the HD-NCE
loss, which is also checked against a numpy transcription of HDC Eqs. 1, 4–6.
"""

import numpy as np
import pytest
import torch

import models
from benchmarks.torch_reference import (
    HDCReference,
    build_reference_backbone,
    load_keras_heads,
    load_keras_weights,
    same_padding,
)
from hdc.objectives import HDCObjective

# r3d18 needs 16 frames and ≥ 64 pixels for block5 to have more than one
# position (instance norm of a single value is degenerate).
SMALL_SHAPES = {"c3d": (8, 32, 32, 3), "r3d18": (16, 64, 64, 3), "r2plus1d10": (8, 32, 32, 3)}
PAPER_PARAMS = {"c3d": 27_661_440, "r3d18": 33_203_904, "r2plus1d10": 14_365_303}


def test_same_padding_matches_tensorflow_rule():
    # out = ceil(n / s); total = (out − 1)·s + k − n; the odd cell goes after.
    assert same_padding(16, 3, 2) == (0, 1)
    assert same_padding(32, 7, 2) == (2, 3)
    assert same_padding(16, 7, 1) == (3, 3)
    assert same_padding(7, 2, 2) == (0, 1)
    assert same_padding(8, 1, 2) == (0, 0)


@pytest.mark.parametrize("name", sorted(SMALL_SHAPES))
def test_taps_match_keras_with_shared_weights(name):
    shape = SMALL_SHAPES[name]
    keras_model = models.build_backbone(name, input_shape=shape)
    reference = build_reference_backbone(name)
    load_keras_weights(reference, keras_model)
    x = np.random.default_rng(0).uniform(-1, 1, (2,) + shape).astype("float32")
    expected = keras_model(x, training=True)
    with torch.no_grad():
        taps = reference(torch.from_numpy(x).permute(0, 4, 1, 2, 3))
    assert sorted(taps) == sorted(expected) == [f"block{i}" for i in range(1, 6)]
    # Float32 rounding differs between the frameworks (~1e-5 at block1-4); the
    # instance norm over block5's 2-4 positions magnifies it to ~1e-3. A wrong
    # padding, stride or width gives errors of order 0.1-1.
    for tap, value in taps.items():
        np.testing.assert_allclose(
            value.permute(0, 2, 3, 4, 1).numpy(), np.asarray(expected[tap]), atol=5e-3, rtol=0, err_msg=tap
        )


@pytest.mark.parametrize("name", sorted(PAPER_PARAMS))
def test_parameter_counts_equal_exactly_at_full_size(name):
    keras_count = models.build_backbone(name, input_shape=(16, 112, 112, 3)).count_params()
    torch_count = sum(p.numel() for p in build_reference_backbone(name).parameters())
    assert keras_count == torch_count == PAPER_PARAMS[name]


def test_load_keras_weights_rejects_another_architecture():
    with pytest.raises(ValueError, match="no Keras layer"):
        load_keras_weights(build_reference_backbone("r3d18"), models.build_backbone("c3d", input_shape=(8, 32, 32, 3)))


def _random_taps(rng, batch, channels=(("block3", 6, 4), ("block4", 8, 2), ("block5", 10, 1))):
    """Taps (3·B, C, T, 2, 2) for the views o, s, t stacked in that order."""
    return {tap: rng.normal(size=(3 * batch, c, t, 2, 2)).astype("float32") for tap, c, t in channels}


def _numpy_info_nce(a, p, tau):
    a = a / np.linalg.norm(a, axis=-1, keepdims=True)
    p = p / np.linalg.norm(p, axis=-1, keepdims=True)
    logits = a @ p.T / tau
    log_softmax = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    return -np.mean(np.diag(log_softmax))


def test_hd_nce_matches_numpy_equations():
    rng = np.random.default_rng(1)
    batch, tau, weights = 4, 0.07, (0.25, 0.5, 1.0)
    taps = _random_taps(rng, batch)
    reference = HDCReference(torch.nn.Identity(), {k: v.shape[1] for k, v in taps.items()}, proj_dim=5)
    head = {name: (lin.weight.detach().numpy(), lin.bias.detach().numpy())
            for name, lin in reference.projections.items()}
    expected = 0.0
    for k, w in zip((3, 4, 5), weights):
        views = dict(zip("ost", np.split(taps[f"block{k}"], 3)))

        def project(view, v):
            weight, bias = head[f"{view}_block{k}"]
            return v @ weight.T + bias

        steps = views["o"].shape[2]
        per_step = {v: views[v].mean(axis=(3, 4)) for v in "os"}  # (B, C, T)
        sc = np.mean([_numpy_info_nce(project("o", per_step["o"][:, :, n]), project("s", per_step["s"][:, :, n]), tau)
                      for n in range(steps)])  # Eq. 4, mean over the N time steps
        tc = _numpy_info_nce(project("o", views["o"].mean(axis=(2, 3, 4))),
                             project("t", views["t"].mean(axis=(2, 3, 4))), tau)  # Eq. 5
        expected += w * sc + w * tc  # Eq. 6 with α = β
    with torch.no_grad():
        loss = reference.hd_nce({k: torch.from_numpy(v) for k, v in taps.items()})
    np.testing.assert_allclose(float(loss), expected, rtol=1e-5)


def test_hd_nce_matches_keras_hdc_objective():
    rng = np.random.default_rng(2)
    batch = 4
    taps = _random_taps(rng, batch)
    objective = HDCObjective()
    view_taps = {view: {} for view in "ost"}
    for tap, value in taps.items():
        for view, part in zip("ost", np.split(value.transpose(0, 2, 3, 4, 1), 3)):
            view_taps[view][tap] = part
    expected = float(np.asarray(objective(view_taps)["loss"]))
    reference = HDCReference(torch.nn.Identity(), {k: v.shape[1] for k, v in taps.items()})
    load_keras_heads(reference, objective)
    with torch.no_grad():
        loss = reference.hd_nce({k: torch.from_numpy(v) for k, v in taps.items()})
    np.testing.assert_allclose(float(loss), expected, rtol=1e-5)

"""HDC's numbers are pinned: the loss, every term and the gradients of a fixed
model on fixed views equal the values recorded before the objectives became
a package (tests/scripts/pin_hdc.py wrote them at commit 87ee87d)."""

import os
import sys

import keras
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "scripts"))

import pin_hdc  # noqa: E402


def test_hdc_loss_and_gradients_equal_the_pin():
    pinned = np.load(os.path.join(ROOT, "tests", "data", "hdc_pin.npz"))
    try:
        model, views = pin_hdc.build()
        weights = [pinned[f"w{i}"] for i in range(len(model.weights))]
        assert f"w{len(model.weights)}" not in pinned.files  # same number of weights
        for variable, value in zip(model.weights, weights):
            variable.assign(value.astype("float64"))
        got = pin_hdc.fingerprint(model, views)
    finally:
        keras.config.set_floatx("float32")
        keras.config.set_dtype_policy("float32")
    assert set(got) == {k for k in pinned.files if not k.startswith("w")}
    for key, value in got.items():
        # When the pin was recorded, hd_nce cast float64 losses to float32 and τ reached
        # float64 logits through float32 (0.07 → 0.0700000003); both now stay float64, as
        # hdc.losses promises. That moves float64 values by ~1e-8 relative; a wrong head,
        # term, weight or pooling after the move would move them by far more.
        scale = np.abs(pinned[key]).max()
        np.testing.assert_allclose(value, pinned[key], rtol=1e-6, atol=1e-8 * scale, err_msg=key)

"""Composable objectives: the packed element, the Composite's sum and logs,
the momentum copy and the queue against numpy, training progress, the new
optimisers, and a .keras round trip of a stateful composite."""

import os
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

import models
from data import packing
from hdc import families, optim
from hdc.config import FAMILY_NAMES, TrainConfig
from hdc.model import HDCModel
from hdc.objectives import Composite, HDCObjective, MomentumCopy, Objective, Queue

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from toy_objective import ToyMomentumQueue  # noqa: E402

SHAPE = (8, 32, 32, 3)


def numpy_pack(views, labels):
    """Independent packer: views (B, V, ...) uint8 then int32 labels as 4 little-endian bytes."""
    parts = [views.reshape(len(views), -1)] + [np.asarray(l, "<i4").reshape(len(views), -1).view(np.uint8) for l in labels]
    return np.concatenate(parts, axis=1)


def test_unpack_reads_views_and_signed_labels():
    rng = np.random.default_rng(0)
    views = rng.integers(0, 256, (3, 2, 4, 5, 5, 3), dtype=np.uint8)
    label = np.array([-2**31, -1, 2**31 - 1], np.int32)
    perm = rng.integers(-1000, 70000, (3, 6)).astype(np.int32)
    layout = packing.make_layout(("x", "y"), {"label": (), "perm": (6,)}, (4, 5, 5, 3))
    got_views, got_labels = packing.unpack(numpy_pack(views, [label, perm]), layout)
    np.testing.assert_array_equal(got_views["x"], views[:, 0])
    np.testing.assert_array_equal(got_views["y"], views[:, 1])
    np.testing.assert_array_equal(got_labels["label"], label)
    np.testing.assert_array_equal(got_labels["perm"], perm)
    with pytest.raises(ValueError, match="bytes per example"):
        packing.unpack(np.zeros((3, 10), np.uint8), layout)


def test_pipeline_packer_matches_numpy():
    from data.recipes import pack

    layout = packing.make_layout(("x",), {"a": (), "b": (2,)}, (1, 2, 2, 3))
    values = {"x": np.arange(12, dtype=np.uint8).reshape(1, 2, 2, 3), "a": np.int32(-5), "b": np.array([7, -300], np.int32)}
    want = numpy_pack(values["x"][None], [values["a"][None], values["b"][None]])[0]
    np.testing.assert_array_equal(pack(layout, values).numpy(), want)


class Constant(Objective):
    """A stateless toy: loss = c · mean(block5 of u_o), and the training progress."""

    views, taps = ("o",), ("block5",)

    def __init__(self, c=1.0, **kwargs):
        super().__init__(**kwargs)
        self.c = c

    def call(self, view_taps, gather=None, replica_offset=0, context=None, training=None):
        value = keras.ops.mean(view_taps["o"]["block5"])
        return {"loss": self.c * value, "value": value, "progress": context["progress"]}


def test_composite_is_the_weighted_sum_and_logs_every_part():
    rng = np.random.default_rng(1)
    hdc = HDCObjective(sc_blocks=(5,), tc_blocks=(4,), name="hdc")
    composite = Composite([hdc, Constant(3.0, name="const")], weights=(0.5, 2.0))
    assert composite.views == ("o", "s", "t") and composite.taps == ("block4", "block5")
    taps = {v: {"block4": rng.normal(size=(4, 2, 2, 2, 6)).astype("float32"),
                "block5": rng.normal(size=(4, 1, 1, 1, 8)).astype("float32")} for v in "ost"}
    context = {"clips": {}, "labels": {}, "step": np.int64(0), "progress": np.float32(0.25)}
    out = {k: float(v) for k, v in composite(taps, context=context).items()}
    alone = float(hdc(taps, context=context)["loss"])
    value = float(np.mean(taps["o"]["block5"]))
    np.testing.assert_allclose(out["loss"], 0.5 * alone + 2.0 * 3.0 * value, rtol=1e-6)
    assert {"hdc/loss", "hdc/sc_block5", "hdc/tc_block4_acc", "const/loss", "const/value", "const/progress"} <= set(out)
    with pytest.raises(ValueError, match="distinct"):
        Composite([Constant(name="a"), Constant(name="a")])
    with pytest.raises(ValueError, match="one weight"):
        Composite([Constant(name="a")], weights=(1.0, 2.0))


def test_composite_rejects_conflicting_declarations():
    class Long(Constant):
        view_frames = {"o": 2}

    with pytest.raises(ValueError, match="disagree on view_frames"):
        Composite([Constant(name="a"), Long(name="b")]).view_frames  # noqa: B018


def test_momentum_copy_follows_the_ema_and_uses_the_source_computation():
    rng = np.random.default_rng(2)
    dense = keras.layers.Dense(3)
    dense.build((None, 4))
    copy = MomentumCopy(dense)
    start = [w.numpy().copy() for w in dense.trainable_weights]
    for w in dense.trainable_weights:  # move the online weights
        w.assign(w.numpy() + rng.normal(size=w.shape).astype("float32"))
    copy.update(0.9)
    want = [0.9 * s + 0.1 * w.numpy() for s, w in zip(start, dense.trainable_weights)]
    for got, expected in zip(copy.ema, want):
        np.testing.assert_allclose(got.numpy(), expected, rtol=1e-6)
    x = rng.normal(size=(5, 4)).astype("float32")
    np.testing.assert_allclose(copy(x).numpy(), x @ want[0] + want[1], rtol=1e-5, atol=1e-6)
    assert not copy.trainable_weights and len(copy.non_trainable_weights) == 2
    with tf.GradientTape() as tape:
        out = keras.ops.sum(copy(x))
    assert all(g is None for g in tape.gradient(out, dense.trainable_weights))


def test_queue_is_fifo_with_wraparound():
    queue = Queue(5, 2)
    pushes = [np.full((2, 2), k, "float32") for k in (1, 2, 3)]
    for rows in pushes:
        queue.push(rows)
    # positions 0,1 ← 1; 2,3 ← 2; 4,0 ← 3 (oldest overwritten first)
    np.testing.assert_array_equal(queue.values.numpy()[:, 0], [3, 1, 2, 2, 3])
    assert int(queue.count.numpy()) == 6 and int(queue.filled()) == 5
    fresh = Queue(4, 1)
    fresh.push(np.ones((3, 1), "float32"))
    np.testing.assert_array_equal(fresh.mask().numpy(), [True, True, True, False])
    with pytest.raises(ValueError, match="cannot push 5 rows"):
        fresh.push(np.ones((5, 1), "float32"))
    with pytest.raises(ValueError, match="size must be a positive integer"):
        Queue(0, 3)


def test_progress_reaches_the_objective_in_training():
    keras.utils.set_random_seed(3)
    backbone = models.build_backbone("c3d", input_shape=SHAPE, width_multiplier=0.125)
    model = HDCModel(backbone, Composite([Constant(name="const")]), total_steps=4)
    model.compile(optimizer=keras.optimizers.SGD(0.0))
    views = np.random.default_rng(3).integers(0, 256, (2, 1) + SHAPE, dtype=np.uint8)
    history = model.fit(tf.data.Dataset.from_tensors(views).repeat(), epochs=3, steps_per_epoch=1, verbose=0)
    np.testing.assert_allclose(history.history["const/progress"], [0.0, 0.25, 0.5])


def test_stateful_composite_round_trips_through_keras_file(tmp_path):
    keras.utils.set_random_seed(4)
    backbone = models.build_backbone("c3d", input_shape=SHAPE, width_multiplier=0.125)
    objective = Composite([HDCObjective(sc_blocks=(5,), tc_blocks=(), name="hdc"), ToyMomentumQueue(name="toy")],
                          weights=(1.0, 0.5))
    model = HDCModel(backbone, objective)
    rng = np.random.default_rng(4)
    inputs = numpy_pack(rng.integers(0, 256, (3, 4) + SHAPE, dtype=np.uint8), [rng.integers(0, 9, 3)])
    model.compile(optimizer="sgd")
    model.fit(tf.data.Dataset.from_tensors(inputs), epochs=1, verbose=0)  # moves EMA and queue
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    assert [p.name for p in loaded.objective.parts] == ["hdc", "toy"]
    assert loaded.objective.weights_per_part == (1.0, 0.5) and loaded.layout == model.layout
    for a, b in zip(model.weights, loaded.weights):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b), err_msg=a.path)
    for key, value in model(inputs).items():
        np.testing.assert_allclose(float(loaded(inputs)[key]), float(value), rtol=1e-6, err_msg=key)


@pytest.mark.parametrize("name, cls", [("sgd", keras.optimizers.SGD), ("adam", keras.optimizers.Adam),
                                       ("adamw", keras.optimizers.AdamW)])
def test_optimizers(name, cls):
    optimizer = optim.make_optimizer(name, lr=0.01, schedule="inverse-time", adamw_weight_decay=3e-4)
    assert isinstance(optimizer, cls)
    if name == "adamw":
        assert optimizer.weight_decay == pytest.approx(3e-4)


def test_step_schedule_divides_at_the_milestones():
    schedule = optim.learning_rate_schedule(1e-3, "step", total_steps=100, milestones=(0.5, 0.7), factor=0.1)
    got = [float(schedule(step)) for step in (0, 49, 50, 69, 70, 99)]
    np.testing.assert_allclose(got, [1e-3, 1e-3, 1e-3, 1e-4, 1e-4, 1e-5], rtol=1e-6)  # PiecewiseConstant: step > boundary
    with pytest.raises(ValueError, match="increasing fractions"):
        optim.learning_rate_schedule(1e-3, "step", total_steps=100, milestones=(0.7, 0.5))


def test_families_cover_the_config_names():
    assert set(families.BUILDERS) == set(FAMILY_NAMES)
    objective = families.build_objective(TrainConfig(objective_weights=(2.0,)))
    assert [p.name for p in objective.parts] == ["hdc"] and objective.weights_per_part == (2.0,)


class LongAndShort(Objective):
    """Reads a 2T-frame view beside a T-frame one; returns their block-5 taps' means."""

    views, taps, view_frames = ("short", "long"), ("block5",), {"long": 2}

    def call(self, view_taps, gather=None, replica_offset=0, context=None, training=None):
        short, long = (view_taps[v]["block5"] for v in self.views)
        steps = {f"{v}_t": keras.ops.cast(keras.ops.shape(view_taps[v]["block5"])[1], "float32") for v in self.views}
        return {"loss": keras.ops.mean(short) + keras.ops.mean(long), **steps}


def test_views_of_two_lengths_go_through_one_backbone():
    keras.utils.set_random_seed(5)
    backbone = models.build_backbone("c3d", input_shape=(None, 32, 32, 3), width_multiplier=0.125)
    model = HDCModel(backbone, LongAndShort(), clip_shape=SHAPE)
    assert [f.shape[0] for f in model.layout] == [8, 16]
    rng = np.random.default_rng(5)
    short = rng.integers(0, 256, (2,) + SHAPE, dtype=np.uint8)
    long = rng.integers(0, 256, (2, 16) + SHAPE[1:], dtype=np.uint8)
    out = model(np.concatenate([short.reshape(2, -1), long.reshape(2, -1)], axis=1))
    assert (float(out["short_t"]), float(out["long_t"])) == (1.0, 2.0)
    separate = [keras.ops.mean(backbone(x.astype("float32") / 127.5 - 1.0)["block5"]) for x in (short, long)]
    np.testing.assert_allclose(float(out["loss"]), float(sum(separate)), rtol=1e-5)
    with pytest.raises(ValueError, match="frames but the backbone takes 8"):
        HDCModel(models.build_backbone("c3d", input_shape=SHAPE, width_multiplier=0.125), LongAndShort())


def test_export_embedding_comes_from_the_first_part_that_defines_one():
    from hdc import export

    backbone = models.build_backbone("c3d", input_shape=SHAPE, width_multiplier=0.125)
    hdc = HDCObjective(sc_blocks=(), tc_blocks=(5,), name="hdc")
    model = HDCModel(backbone, Composite([Constant(name="const"), hdc]))
    clips = np.random.default_rng(6).integers(0, 256, (2,) + SHAPE, dtype=np.uint8)
    outputs = export.feature_extractor(model.backbone, model.objective)(clips)
    taps = backbone(clips.astype("float32") / 127.5 - 1.0)
    want = keras.ops.convert_to_numpy(hdc.embedding(taps))
    want /= np.linalg.norm(want, axis=1, keepdims=True)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(outputs["embedding"]), want, rtol=1e-5, atol=1e-6)
    plain = HDCModel(backbone, Constant(name="alone"))
    assert "embedding" not in export.feature_extractor(plain.backbone, plain.objective).output

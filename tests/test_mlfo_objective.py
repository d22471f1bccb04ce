"""The multi-level objective (multi-level §3–4) against numpy: every term from
the layer's own weights, the two-stage switch, replicas, and in an HDCModel
with views of two lengths (feature- and input-level temporal modelling), a
.keras round trip and the score queue across save/load."""

import keras
import numpy as np
import pytest

import models
from hdc import checkpoint
from hdc.model import HDCModel
from hdc.objectives import MLFOObjective, context
from hdc.objectives.mlfo import shuffle_steps
from test_instance_losses import normalise, numpy_nt_xent
from test_instance_objectives import numpy_head
from test_mlfo_losses import (h, numpy_aug, numpy_graph, numpy_graph_contrast, numpy_ret, numpy_sinkhorn,
                              softmax)

B, CLIP = 4, (8, 32, 32, 3)
SHAPES = {"block3": (8, 4, 4, 8), "block4": (4, 2, 2, 12), "block5": (2, 1, 1, 16)}  # (T, H, W, C) of h1, h2


def random_taps(rng, batch=B):
    """h1, h2 and the 2T-step long view, float64."""
    taps = {v: {t: rng.normal(size=(batch,) + s) for t, s in SHAPES.items()} for v in ("h1", "h2")}
    taps["long"] = {t: rng.normal(size=(batch, 2 * s[0]) + s[1:]) for t, s in SHAPES.items()}
    return taps


def numpy_shuffle(x, permutation):
    """Group i of the result = group permutation[b, i] of x[b], T/L steps per group."""
    out, size = np.empty_like(x), x.shape[1] // permutation.shape[1]
    for b, row in enumerate(permutation):
        for i, j in enumerate(row):
            out[b, i * size:(i + 1) * size] = x[b, j * size:(j + 1) * size]
    return out


def numpy_me(layer, x):
    """TEA's ME: reduce, 3×3 depthwise conv of step t+1 minus step t, pool, expand, x + x·(σ − 0.5)."""
    w_r, b_r = layer.squeeze.get_weights()
    kernel = layer.transform.get_weights()[0][..., 0]
    w_e, b_e = layer.expand.get_weights()
    r = x @ w_r + b_r
    height, width = r.shape[2:4]
    padded = np.pad(r, ((0, 0), (0, 0), (1, 1), (1, 1), (0, 0)))
    moved = sum(padded[:, :, i:i + height, j:j + width] * kernel[i, j] for i in range(3) for j in range(3))
    motion = np.concatenate([moved[:, 1:] - r[:, :-1], np.zeros_like(r[:, :1])], axis=1)
    gate = 1 / (1 + np.exp(-(motion.mean(axis=(2, 3)) @ w_e + b_e))) - 0.5
    return x + x * gate[:, :, None, None, :]


def numpy_terms(objective, taps, permutation, queued, transformed=None):
    """Every term of the objective from its weights; ``queued`` = the filled rows of each queue;
    ``transformed`` = {block: [Aug_k taps]} for input-level temporal modelling."""
    tau = objective.temperature
    pooled = {v: {t: x.mean(axis=(1, 2, 3)) for t, x in taps[v].items()} for v in taps}
    z1, z2 = (numpy_head(objective.high, pooled[v]["block5"]) for v in ("h1", "h2"))
    prototypes = normalise(np.float64(objective.prototypes.numpy()).T)
    scores = [normalise(z) @ prototypes.T for z in (z1, z2)]
    targets = [numpy_sinkhorn(np.concatenate([s, q]), objective.sinkhorn_epsilon, objective.sinkhorn_iterations)
               [:len(s)] for s, q in zip(scores, queued)]
    p1, p2 = (softmax(s / objective.proto_temperature) for s in scores)
    terms = {"ins": numpy_nt_xent(z1, z2, tau),
             "sem": -(np.sum(targets[0] * np.log(p2)) + np.sum(targets[1] * np.log(p1))) / (2 * len(z1))}
    edges = numpy_graph(z1, z2, *targets, objective.eta, tau, objective.graph)
    for block in objective.graph_blocks:
        head = objective.graph_heads[f"block{block}"]
        g1, g2 = (numpy_head(head, pooled[v][f"block{block}"]) for v in ("h1", "h2"))
        terms[f"mul_block{block}"] = numpy_graph_contrast(g1, g2, edges, tau)
    for block in objective.temporal_levels:
        tap = f"block{block}"
        f1, f2 = taps["h1"][tap], taps["h2"][tap]
        augmented = transformed[tap] if transformed else [
            f1[:, ::-1], numpy_shuffle(f1, permutation), f2[:, ::-1], numpy_shuffle(f2, permutation)]
        e1, e2, *negatives = (numpy_head(objective.motion_heads[tap], numpy_me(objective.excitation[tap], f)
                                         .mean(axis=(1, 2, 3))) for f in [f1, f2, *augmented])
        terms[f"aug_{tap}"] = numpy_aug(e1, e2, negatives[:2], negatives[2:], tau)
        if objective.temporal == "feature":
            steps = objective.step_heads[tap]
            short = np.concatenate([numpy_head(steps, f.mean(axis=(2, 3))) for f in (f1, f2)], axis=1)
            terms[f"ret_{tap}"] = numpy_ret(short, numpy_head(steps, taps["long"][tap].mean(axis=(2, 3))), tau)
    return terms


def permutations(rng, batch=B, length=4):
    rows = [rng.permutation(length) for _ in range(batch)]
    return np.array([r if (r != np.arange(length)).any() else r[::-1] for r in rows], np.int32)


def make_context(permutation, progress):
    return {"clips": {}, "labels": {"long_permutation": permutation}, "step": np.int64(0),
            "progress": np.float32(progress)}


def small_objective(**kwargs):
    keras.utils.set_random_seed(0)
    settings = dict(num_prototypes=5, queue_size=6, proj_dim=6, temperature=0.5, eta=0.2, dtype="float64")
    return MLFOObjective(**{**settings, **kwargs})


def filled(objective, rng, rows=3):
    """Push ``rows`` random score rows into each queue; return them."""
    rows = [rng.uniform(-1, 1, size=(rows, objective.num_prototypes)).astype("float32") for _ in range(2)]
    for queue, r in zip(objective.queues, rows):
        queue.push(r)
    return [np.float64(r) for r in rows]


@pytest.mark.parametrize("graph", ["combined", "instance", "semantic", "onehot"])
def test_objective_terms_match_numpy_and_the_two_stages_switch_exactly(graph):
    """Every graph of Table 2 through the objective (its edges reach L_mul at blocks 3 and 4)."""
    rng = np.random.default_rng(0)
    taps, permutation = random_taps(rng), permutations(rng)
    objective = small_objective(graph=graph)
    objective(taps, context=make_context(permutation, 0.0))  # build, then fill the queues
    queued = filled(objective, rng)
    assert objective.temporal_levels == (3, 4)  # 8 and 4 steps; block 5 (2 steps) is never temporal
    want = numpy_terms(objective, taps, permutation, queued)
    first = {k: float(v) for k, v in objective(taps, context=make_context(permutation, 0.1499)).items()}
    second = {k: float(v) for k, v in objective(taps, context=make_context(permutation, 0.15)).items()}
    assert set(want) | {"loss", "ins_acc", "graph_edges", "stage"} == set(second)
    for name, value in want.items():
        np.testing.assert_allclose(second[name], value, rtol=1e-9, err_msg=name)
        assert first[name] == second[name]
    lower = sum(objective.level_weights[int(k[-1]) - 3] * v for k, v in want.items() if k not in ("ins", "sem"))
    assert (first["stage"], second["stage"]) == (0.0, 1.0)
    np.testing.assert_allclose(first["loss"], want["ins"] + want["sem"], rtol=1e-12)
    np.testing.assert_allclose(second["loss"], want["ins"] + want["sem"] + lower, rtol=1e-12)


def test_objective_on_two_replicas_equals_one_device():
    """float64; the gather of replica r returns the single device's gathered tensor (the same rows in order)."""
    rng = np.random.default_rng(1)
    taps, permutation = random_taps(rng, batch=6), permutations(rng, batch=6)
    objective = small_objective(graph_blocks=(3, 4, 5))
    objective(taps, context=make_context(permutation, 1.0))
    filled(objective, rng)
    gathered = []
    single = objective(taps, gather=lambda x: gathered.append(x) or x, context=make_context(permutation, 1.0))
    replicas = []
    for r in (0, 1):
        rows, calls = slice(3 * r, 3 * r + 3), iter(gathered)

        def gather(x, rows=rows, calls=calls):
            full = next(calls)
            np.testing.assert_allclose(np.asarray(full)[rows], np.asarray(x), rtol=1e-12)
            return full

        local = {v: {t: x[rows] for t, x in vt.items()} for v, vt in taps.items()}
        replicas.append(objective(local, gather=gather, replica_offset=3 * r,
                                  context=make_context(permutation[rows], 1.0)))
    assert {"mul_block5", "aug_block4", "ret_block3"} <= set(single)
    for name, value in single.items():
        np.testing.assert_allclose((float(replicas[0][name]) + float(replicas[1][name])) / 2, float(value),
                                   rtol=1e-10, err_msg=name)


def test_mixed_precision_computes_float32_terms_and_keeps_a_float32_queue():
    """float16 heads, float32 terms: the values of a float32 objective with the same weights on the
    same (float16-representable) taps, at the paper's τ = 0.07 (exp(1/τ) overflows float16)."""
    rng = np.random.default_rng(8)
    taps = {v: {t: x.astype("float16") for t, x in vt.items()} for v, vt in random_taps(rng).items()}
    context = make_context(permutations(rng), 1.0)
    objective, reference = (small_objective(dtype=d, temperature=0.07) for d in ("mixed_float16", "float32"))
    reference({v: {t: x.astype("float32") for t, x in vt.items()} for v, vt in taps.items()}, context=context)
    objective(taps, context=context)  # builds; training=False pushes nothing
    objective.set_weights(reference.get_weights())
    out = objective(taps, context=context, training=True)
    want = reference({v: {t: x.astype("float32") for t, x in vt.items()} for v, vt in taps.items()},
                     context=context, training=True)  # fmt: skip
    assert all(keras.backend.standardize_dtype(v.dtype) == "float32" and np.isfinite(float(v)) for v in out.values())
    assert {"ins", "sem", "mul_block3", "aug_block3", "ret_block4"} <= set(out)
    for name, value in want.items():
        np.testing.assert_allclose(float(out[name]), float(value), rtol=2e-3, atol=1e-4, err_msg=name)  # measured: 4e-4
    assert objective.queues[0].values.dtype == "float32" and int(objective.queues[0].count.numpy()) == B
    np.testing.assert_allclose(objective.queues[0].values.numpy(), reference.queues[0].values.numpy(), atol=1e-3)


def test_shuffle_steps_moves_groups_of_steps():
    rng = np.random.default_rng(2)
    x, permutation = rng.normal(size=(3, 8, 2, 5)), permutations(rng, batch=3)
    np.testing.assert_array_equal(np.asarray(shuffle_steps(x, permutation)), numpy_shuffle(x, permutation))
    with pytest.raises(ValueError, match="6 time steps cannot be cut into 4 equal groups"):
        shuffle_steps(x[:, :6], permutation)


def test_validation_names_the_bad_value():
    with pytest.raises(ValueError, match="graph must be one of .* received 'hard'"):
        MLFOObjective(graph="hard")
    with pytest.raises(ValueError, match=r"temporal_blocks must be 'auto' or distinct blocks .* received \(2,\)"):
        MLFOObjective(temporal_blocks=(2,))
    with pytest.raises(ValueError, match=r"stage_split must be a number in \[0, 1\), received 1.0"):
        MLFOObjective(stage_split=1.0)
    with pytest.raises(ValueError, match="level_weights must be 3 numbers"):
        MLFOObjective(level_weights=(1.0, 1.0))
    rng = np.random.default_rng(3)
    taps = random_taps(rng)
    with pytest.raises(ValueError, match="block5 has 2 time steps; L_aug needs more than 2"):
        small_objective(temporal_blocks=(3, 5))(taps, context=make_context(permutations(rng), 0.0))
    short = {v: {t: x[:, :2] for t, x in vt.items()} for v, vt in taps.items()}
    with pytest.raises(ValueError, match="no level for temporal modelling at this clip length"):
        small_objective()(short, context=make_context(permutations(rng), 0.0))
    with pytest.raises(ValueError, match="needs label 'long_permutation'"):
        small_objective()(taps, context=context())


def pack(views, permutation=None):
    """uint8 (B, bytes): each view's pixels in order, then the int32 label little-endian."""
    parts = [v.reshape(len(v), -1) for v in views]
    if permutation is not None:
        parts.append(permutation.astype("<i4").view(np.uint8).reshape(len(permutation), -1))
    return np.concatenate(parts, axis=1)


def mlfo_model(**kwargs):
    keras.utils.set_random_seed(4)
    backbone = models.build_backbone("c3d", input_shape=(None,) + CLIP[1:], width_multiplier=0.125)
    objective = MLFOObjective(num_prototypes=16, queue_size=8, proj_dim=8, **kwargs)
    return HDCModel(backbone, objective, clip_shape=CLIP, total_steps=4)


def clips(rng, batch=2):
    h1, h2 = rng.integers(0, 256, (2, batch) + CLIP, dtype=np.uint8)
    long = np.concatenate([h1, h2], axis=1)  # the halves of the long sequence (data.recipes.LongRecipe)
    return h1, h2, long


def test_in_a_model_with_two_clip_lengths_and_a_keras_round_trip(tmp_path):
    model = mlfo_model()
    assert [(f.name, f.shape) for f in model.layout] == [
        ("h1", CLIP), ("h2", CLIP), ("long", (16,) + CLIP[1:]), ("long_permutation", (4,))]
    assert model.objective.temporal_levels == (3,)  # C3D at 8 frames: block 3 has 4 steps, block 4 only 2
    rng = np.random.default_rng(5)
    h1, h2, long = clips(rng)
    permutation = permutations(rng, batch=2)
    inputs = pack([h1, h2, long], permutation)
    out = model(inputs)
    taps = {v: model.backbone(x.astype("float32") / 127.5 - 1.0) for v, x in (("h1", h1), ("h2", h2), ("long", long))}
    separate = model.objective(taps, context=context(labels={"long_permutation": permutation}))
    for name, value in separate.items():
        np.testing.assert_allclose(float(out[name]), float(value), rtol=1e-5, err_msg=name)
    assert {"ins", "sem", "mul_block3", "mul_block4", "aug_block3", "ret_block3", "stage"} <= set(out)
    model.save(tmp_path / "mlfo.keras")
    loaded = keras.saving.load_model(tmp_path / "mlfo.keras")
    assert loaded.objective.get_config() == model.objective.get_config()
    for a, b in zip(model.weights, loaded.weights):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b), err_msg=a.path)
    for name, value in loaded(inputs).items():
        np.testing.assert_allclose(float(value), float(out[name]), rtol=1e-6, err_msg=name)


def test_input_level_mode_encodes_the_transformed_clips_and_none_mode_reads_two_views():
    model = mlfo_model(temporal="input", hidden=8)
    assert [f.name for f in model.layout] == ["h1", "h2", "long_permutation"]  # h1, h2 once: encoded and raw
    rng = np.random.default_rng(6)
    h1, h2, _ = clips(rng)
    permutation = permutations(rng, batch=2)
    out = model(pack([h1, h2], permutation))
    assert "ret_block3" not in out
    pixels = [x.astype("float32") / 127.5 - 1.0 for x in (h1, h2)]

    def taps(x):
        return {t: np.float64(keras.ops.convert_to_numpy(v)) for t, v in model.backbone(x).items()}

    transformed = [taps(a) for x in pixels for a in (x[:, ::-1].copy(), numpy_shuffle(x, permutation))]
    want = numpy_terms(model.objective, {"h1": taps(pixels[0]), "h2": taps(pixels[1])}, permutation,
                       [np.zeros((0, 16))] * 2, {"block3": [t["block3"] for t in transformed]})
    for name, value in want.items():
        np.testing.assert_allclose(float(out[name]), value, rtol=2e-4, err_msg=name)
    plain = mlfo_model(temporal="none", graph="none")
    assert [f.name for f in plain.layout] == ["h1", "h2"]
    assert set(plain(pack([h1, h2]))) == {"loss", "ins", "ins_acc", "sem", "stage"}


def test_stage_follows_the_step_and_the_queue_and_stage_resume_exactly(tmp_path):
    model = mlfo_model(stage_split=0.25)  # total_steps 4: stage 1 from step 1
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    model.optimizer.build(model.trainable_variables)
    rng = np.random.default_rng(7)
    h1, h2, long = clips(rng)
    inputs = pack([h1, h2, long], permutations(rng, batch=2))
    stages = []
    for step in range(3):  # the model reads the step from the optimizer, as in fit
        model.optimizer.iterations.assign(step)
        stages.append(float(model(inputs, training=True)["stage"]))
    assert stages == [0.0, 1.0, 1.0]
    queue = model.objective.queues[0]
    assert int(queue.count.numpy()) == 6  # three pushes of 2 clips
    z = keras.ops.convert_to_numpy(model.objective.embedding(model.backbone(h1.astype("float32") / 127.5 - 1.0)))
    scores = normalise(z) @ normalise(model.objective.prototypes.numpy().T).T
    np.testing.assert_allclose(queue.values.numpy()[4:6], scores, rtol=1e-4, atol=1e-5)
    model.save_weights(tmp_path / checkpoint.CHECKPOINT_NAME)
    resumed = mlfo_model(stage_split=0.25)
    resumed.compile(optimizer=keras.optimizers.Adam(1e-3))
    resumed(inputs)  # builds; training=False pushes nothing
    assert checkpoint.restore(resumed, tmp_path) == 2  # the step, hence the progress and the stage
    for a, b in zip(model.objective.queues, resumed.objective.queues):
        np.testing.assert_array_equal(a.values.numpy(), b.values.numpy())
        assert int(a.count.numpy()) == int(b.count.numpy()) == 6
    after = [m(inputs, training=True) for m in (model, resumed)]
    for name, value in after[0].items():
        np.testing.assert_allclose(float(after[1][name]), float(value), rtol=1e-6, err_msg=name)
    for a, b in zip(model.objective.queues, resumed.objective.queues):
        np.testing.assert_array_equal(a.values.numpy(), b.values.numpy())

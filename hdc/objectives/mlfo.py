"""Multi-level feature optimisation (multi-level-feature-optimization §3–4):
instance and prototype contrast on the high level, the distribution-graph
constraint on lower levels, feature-level temporal modelling, two stages.

The paper defers τ, η, the Sinkhorn settings, the head sizes, the levels and
the loss weights to its supplement; the defaults here come from the authors'
public code (github.com/shvdiwnkozbw/Video-Representation-via-Multi-level-Optimization,
``train.py``, ``model.py``, ``r3d.py``; read, not copied), SwAV, and TEA, as
each docstring says.
"""

import keras
from keras import ops

from hdc import losses
from hdc.heads import mlp
from hdc.objectives.base import Objective
from hdc.objectives.base import context as make_context
from hdc.objectives.state import Queue
from hdc.pooling import global_pool, spatial_pool

GRAPHS = ("none",) + losses.GRAPH_KINDS  # Table 2's rows
TEMPORAL_MODES = ("none", "input", "feature")  # Table 3's rows: w/o TM, CTM, NTM
LEVELS = (3, 4, 5)  # blocks the level weights refer to
LEVEL_WEIGHTS = (0.3, 0.5, 1.0)  # authors' code: low 0.3, mid 0.5, high 1.0
AUTO_TEMPORAL = (3, 4)  # the levels "auto" picks from: the authors' low and mid levels
PERMUTATION = "long_permutation"  # the pipeline's label (data.recipes.LongRecipe)


def reverse_steps(x):
    """Aug "temporal reverse" (§3.3, §4.2) of (B, T, ...) features or clips."""
    return ops.flip(x, axis=1)


def shuffle_steps(x, permutation):
    """Aug "temporal shuffle" (§3.3, §4.2) of (B, T, ...) features or clips.

    The T steps form L = ``permutation.shape[-1]`` groups of T/L consecutive
    steps; group i of the result is group ``permutation[b, i]`` of ``x[b]``
    (``data.temporal``'s convention, view[i] = clip[permutation[i]]), so one
    pipeline permutation shuffles 8 steps in 4 pairs, or 16 frames in 4 quarters.
    """
    length, steps, rest = permutation.shape[-1], x.shape[1], tuple(x.shape[2:])
    if steps is None or length is None or steps % length:
        raise ValueError(f"shuffle_steps: {steps} time steps cannot be cut into {length} equal groups "
                         f"(the permutation length); use clips whose steps are a multiple of it")
    index = ops.cast(permutation, "int32") + length * ops.arange(ops.shape(x)[0], dtype="int32")[:, None]
    groups = ops.reshape(x, (-1, steps // length) + rest)  # (B·L, T/L, ...)
    return ops.reshape(ops.take(groups, ops.reshape(index, (-1,)), axis=0), (-1, steps) + rest)


@keras.saving.register_keras_serializable(package="hdc")
class MotionExcitation(keras.layers.Layer):
    """TEA's motion excitation (ME) module (Li et al., CVPR 2020 [38]; multi-level §3.3)
    on (B, T, H, W, C) features.

    A 1×1 reduction to C/r channels; a 3×3 depthwise (channel-wise) spatial
    conv of step t+1 minus step t gives the motion at t (zero at the last
    step); spatial average; a 1×1 expansion to C channels; the gate
    σ(·) − 0.5 excites the input through a residual, x + x·gate. The gate's
    form and r = 16 follow TEA's and the multi-level authors' public code.
    Their batch norms are left out: this library keeps no batch statistics
    (instance norm), and a per-example norm of the pooled 1×1 map is
    degenerate; the reduction and expansion get biases instead.
    """

    def __init__(self, reduction=16, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(reduction, int) or reduction < 1:
            raise ValueError(f"MotionExcitation: reduction must be an integer >= 1, received {reduction!r}")
        self.reduction = reduction

    def build(self, input_shape):
        if len(input_shape) != 5 or None in input_shape[2:]:
            raise ValueError(f"MotionExcitation expects (B, T, H, W, C) with known H, W, C, "
                             f"received shape {tuple(input_shape)}")
        channels = input_shape[-1]
        reduced = max(1, channels // self.reduction)
        self.squeeze = keras.layers.Dense(reduced, name="squeeze", dtype=self.dtype_policy)
        self.transform = keras.layers.DepthwiseConv2D(3, padding="same", use_bias=False, name="transform",
                                                      dtype=self.dtype_policy)
        self.expand = keras.layers.Dense(channels, name="expand", dtype=self.dtype_policy)
        self.squeeze.build((None, channels))
        self.transform.build((None, *input_shape[2:4], reduced))
        self.expand.build((None, reduced))
        self.built = True

    def call(self, x):
        reduced = self.squeeze(x)
        shape = tuple(reduced.shape[1:])
        moved = ops.reshape(self.transform(ops.reshape(reduced, (-1,) + shape[1:])), (-1,) + shape)
        motion = ops.concatenate([moved[:, 1:] - reduced[:, :-1], ops.zeros_like(reduced[:, :1])], axis=1)
        gate = ops.sigmoid(self.expand(ops.mean(motion, axis=(2, 3)))) - 0.5
        return x + x * gate[:, :, None, None, :]

    def get_config(self):
        return {**super().get_config(), "reduction": self.reduction}


def _check(ok, field, value, expected):
    if not ok:
        raise ValueError(f"MLFOObjective: {field} must be {expected}, received {value!r}")


def _positive_int(value):
    return isinstance(value, int) and value >= 1


@keras.saving.register_keras_serializable(package="hdc")
class MLFOObjective(Objective):
    """Multi-level feature optimisation (§3, Fig. 2) on the halves h1, h2 of a
    2T-frame clip (``data.recipes.LongRecipe``: the positive pair of §4.2).

    Terms, each logged unweighted under its name:

    - ``ins`` (L_ins, Eqs. 2–3): NT-Xent (``hdc.losses.nt_xent``, the same
      denominator as Eq. 3) on z = MLP(global-pooled block 5), over the
      global batch; ``ins_acc`` its accuracy.
    - ``sem`` (L_sem, Eq. 4): cosine scores of z against K learnable
      prototypes P (both L2-normalised in the forward pass: SwAV renormalises
      P every step instead), p = softmax(scores/τ_p), swapped prediction of
      Sinkhorn targets computed over the global batch and a queue of past
      score rows per view (§3.1: it stores the distributions, not features;
      only current rows get gradients). L_high = L_ins + sem_weight·L_sem (Eq. 5).
    - ``mul_block{k}`` (L_mul, Eq. 10) for k in ``graph_blocks``: the graph E
      (Eqs. 6–9, ``hdc.losses.graph_targets``) from z and the Sinkhorn
      targets, imposed on MLP(global-pooled block k), a head per level as
      in the authors' code; ``graph_edges`` = mean edges per row of E.
    - ``aug_block{k}`` (L_aug, Eqs. 11–12) for the temporal levels: ME
      (:class:`MotionExcitation`) → spatio-temporal average → 2-layer MLP;
      the negatives are the clip's own reversed and shuffled (pipeline
      permutation ``long_permutation``) features ("feature") or, for Table
      3's conventional approach ("input"), the backbone's features of the
      reversed and shuffled input clips (the same head; the backbone now
      sees the unnatural clips).
    - ``ret_block{k}`` (L_ret, Eq. 13, "feature" mode only): each time step
      of h1 and h2 (spatially pooled, an MLP per step) retrieves its step in
      the 2T-frame ``long`` view, T_long = 2·T_half at every level.
    - ``stage``: 0 for the first ``stage_split`` of training (progress
      < E), where only L_high is optimised (§4.2, §4.4: E = 0 derails
      training), then 1: every term, weighted per level by ``level_weights``.
      §4.4's first stage optimises "only high-level features", so L_aug and
      L_ret wait too (the authors' code gates only the graph term).

    Other departures from the authors' code, each a choice the paper leaves
    open: L_sem reads the same z as L_ins (§3.1 multiplies z_iᵃ by P; the
    code has a second head with batch norm); the score queue enters
    Sinkhorn from the first step, its unfilled rows masked (the code waits
    10 epochs, SwAV 15); the prototypes train from the first step (SwAV and
    the code freeze them for the first epoch).

    Temporal sizes: L_aug needs T > 2 steps at its level (and, at the feature
    level, a multiple of the permutation length L). At 16 frames C3D and
    R(2+1)D-10 have 8, 4, 2 steps at blocks 3, 4, 5 and 3D-ResNet18 has
    4, 2, 1, so "auto" (the default) takes blocks 3 and 4 for the first two
    and block 3 for 3D-ResNet18 (at 8 frames: block 3 for C3D, none for
    3D-ResNet18, an error).

    Why not the "pair" recipe's views for the input-level ablation: it draws
    one transformation per run (Eq. 12 wants both shuffle and reverse), its
    views are separate clips with their own spatial draws (a negative would
    differ in crop and time window, not only in temporal order), and it
    feeds them to SimCLR/MoCo as positives. "input" mode therefore reads h1,
    h2 also as pixels (raw views) and encodes their reversed and shuffled
    copies itself with the online backbone (``attach``).

    Args:
        num_prototypes: K (1000, §4.2).
        queue_size: past score rows per view in Sinkhorn (1024, §4.2); 0 = none.
        proj_dim: output width of every head (128: the authors' ``--channel``).
        hidden: hidden width of the 2-layer MLP heads; None = each head's
            input width (the authors' code: C → C → 128).
        temperature: τ of h in L_ins, W, L_mul, L_aug, L_ret (0.07, authors' code).
        proto_temperature: τ_p of p (0.1, SwAV and the authors' code).
        sinkhorn_epsilon, sinkhorn_iterations: 0.05 and 3 (SwAV, authors' code).
        graph: the lower-level constraint of Table 2, one of ``GRAPHS``:
            "none" (no L_mul), "onehot", "instance", "semantic", "combined".
        graph_blocks: levels with L_mul ((3, 4): low and mid, §3.2's "r";
            (5,): Table 2's "combined on high level"; (3, 4, 5): all levels,
            as in the authors' code).
        eta: η of Eq. 6 (0.05, the authors' ``--thres``).
        temporal: one of ``TEMPORAL_MODES`` (Table 3): "none" (w/o TM: no
            L_aug, no L_ret), "input" (CTM: input-level L_aug, no L_ret, as
            the conventional approach has no retrieval), "feature" (NTM).
        temporal_blocks: levels of L_aug and L_ret, or "auto" (see above).
        permutation_length: L of the pipeline's ``long_permutation``.
        me_reduction: r of the ME module (16).
        sem_weight: weight of L_sem in L_high (1: Eq. 5).
        level_weights: weights of the terms at blocks 3, 4, 5 (0.3, 0.5, 1.0:
            the authors' code; the paper gives none).
        stage_split: E, the fraction of training with L_high alone (0.15:
            §4.4 finds [10%, 20%] best).
    """

    def __init__(self, num_prototypes=1000, queue_size=1024, proj_dim=128, hidden=None, temperature=0.07,
                 proto_temperature=0.1, sinkhorn_epsilon=0.05, sinkhorn_iterations=3, graph="combined",
                 graph_blocks=(3, 4), eta=0.05, temporal="feature", temporal_blocks="auto", permutation_length=4,
                 me_reduction=16, sem_weight=1.0, level_weights=LEVEL_WEIGHTS, stage_split=0.15, **kwargs):
        super().__init__(**kwargs)
        number = (int, float)
        _check(_positive_int(num_prototypes), "num_prototypes", num_prototypes, "an integer >= 1")
        _check(isinstance(queue_size, int) and queue_size >= 0, "queue_size", queue_size, "an integer >= 0")
        _check(_positive_int(proj_dim), "proj_dim", proj_dim, "an integer >= 1")
        _check(hidden is None or _positive_int(hidden), "hidden", hidden, "None or an integer >= 1")
        for field, value in (("temperature", temperature), ("proto_temperature", proto_temperature),
                             ("sinkhorn_epsilon", sinkhorn_epsilon)):
            _check(isinstance(value, number) and value > 0, field, value, "a number > 0")
        _check(_positive_int(sinkhorn_iterations), "sinkhorn_iterations", sinkhorn_iterations, "an integer >= 1")
        _check(graph in GRAPHS, "graph", graph, f"one of {GRAPHS}")
        graph_blocks = tuple(graph_blocks)
        _check(bool(graph_blocks) and set(graph_blocks) <= set(LEVELS) and len(set(graph_blocks)) == len(graph_blocks),
               "graph_blocks", graph_blocks, f"distinct blocks from {LEVELS}")
        _check(isinstance(eta, number) and 0 <= eta <= 1, "eta", eta, "a number in [0, 1]")
        _check(temporal in TEMPORAL_MODES, "temporal", temporal, f"one of {TEMPORAL_MODES}")
        if temporal_blocks != "auto":
            temporal_blocks = tuple(temporal_blocks)
            _check(bool(temporal_blocks) and set(temporal_blocks) <= set(LEVELS)
                   and len(set(temporal_blocks)) == len(temporal_blocks),
                   "temporal_blocks", temporal_blocks, f"'auto' or distinct blocks from {LEVELS}")
        _check(isinstance(permutation_length, int) and permutation_length >= 2, "permutation_length",
               permutation_length, "an integer >= 2")
        _check(_positive_int(me_reduction), "me_reduction", me_reduction, "an integer >= 1")
        _check(isinstance(sem_weight, number) and sem_weight >= 0, "sem_weight", sem_weight, "a number >= 0")
        level_weights = tuple(level_weights)
        _check(len(level_weights) == len(LEVELS) and all(isinstance(w, number) and w >= 0 for w in level_weights),
               "level_weights", level_weights, f"{len(LEVELS)} numbers >= 0 for blocks {LEVELS}")
        _check(isinstance(stage_split, number) and 0 <= stage_split < 1, "stage_split", stage_split,
               "a number in [0, 1)")
        self.num_prototypes, self.queue_size, self.proj_dim, self.hidden = num_prototypes, queue_size, proj_dim, hidden
        self.temperature, self.proto_temperature = float(temperature), float(proto_temperature)
        self.sinkhorn_epsilon, self.sinkhorn_iterations = float(sinkhorn_epsilon), sinkhorn_iterations
        self.graph, self.graph_blocks, self.eta = graph, graph_blocks, float(eta)
        self.temporal, self.temporal_blocks = temporal, temporal_blocks
        self.permutation_length, self.me_reduction = permutation_length, me_reduction
        self.sem_weight, self.level_weights, self.stage_split = float(sem_weight), level_weights, float(stage_split)
        # Score rows of past global batches, one queue per view (float32 state, saved with the weights).
        self.queues = [Queue(queue_size, num_prototypes, name=f"queue_h{v}") for v in (1, 2)] if queue_size else []

    # --- declarations (hdc.objectives.base) ---

    @property
    def views(self):
        return ("h1", "h2") + ("long",) * (self.temporal == "feature")

    @property
    def raw_views(self):
        return ("h1", "h2") if self.temporal == "input" else ()

    @property
    def view_frames(self):
        return {"long": 2} if self.temporal == "feature" else {}

    @property
    def labels(self):
        return {PERMUTATION: (self.permutation_length,)} if self.temporal != "none" else {}

    @property
    def taps(self):
        blocks = {5} | (set(self.graph_blocks) if self.graph != "none" else set())
        if self.temporal != "none":
            blocks |= set(AUTO_TEMPORAL if self.temporal_blocks == "auto" else self.temporal_blocks)
        return tuple(f"block{b}" for b in sorted(blocks))

    def attach(self, backbone):
        self._encoder = lambda: backbone  # untracked: "input" mode encodes transformed clips with it

    # --- weights ---

    def _head(self, name, channels, steps=False):
        """A 2-layer MLP head on (B, C) vectors, or on (B, T, C) per-step vectors if ``steps``."""
        head = mlp((self.hidden or channels, self.proj_dim), name=name, dtype=self.dtype_policy)
        head.build((None, None, channels) if steps else (None, channels))
        return head

    def _temporal_levels(self, view_taps_shape):
        """The temporal levels for these tap shapes, checked (class docstring)."""
        def steps(view, block):
            return view_taps_shape[view][f"block{block}"][1]

        def problem(block):
            t = steps("h1", block)
            if t is None or t <= 2:
                return f"block{block} has {t} time steps; L_aug needs more than 2"
            if self.temporal == "feature" and t % self.permutation_length:
                return (f"block{block} has {t} time steps, not a multiple of the permutation length "
                        f"{self.permutation_length}")
            if self.temporal == "feature" and steps("long", block) != 2 * t:
                return f"block{block} has {steps('long', block)} time steps for the long view, not 2 × {t}"
            return None

        if self.temporal_blocks == "auto":
            levels = tuple(b for b in AUTO_TEMPORAL if problem(b) is None)
            if not levels:
                reasons = "; ".join(problem(b) for b in AUTO_TEMPORAL)
                raise ValueError(f"MLFOObjective: no level for temporal modelling at this clip length ({reasons}); "
                                 "use longer clips or temporal='none'")
            return levels
        for block in self.temporal_blocks:
            if problem(block):
                raise ValueError(f"MLFOObjective: temporal_blocks {self.temporal_blocks}: {problem(block)} at this "
                                 "clip length; drop it (or use temporal_blocks='auto')")
        return self.temporal_blocks

    def build(self, view_taps_shape):
        for view in self.views:
            if view not in view_taps_shape:
                raise ValueError(f"MLFOObjective needs view {view!r}; received views {sorted(view_taps_shape)}")
        channels = {int(tap[5:]): shape[-1] for tap, shape in view_taps_shape["h1"].items()}
        self.high = self._head("high", channels[5])
        self.prototypes = self.add_weight(shape=(self.proj_dim, self.num_prototypes), name="prototypes")
        blocks = self.graph_blocks if self.graph != "none" else ()
        self.graph_heads = {f"block{b}": self._head(f"graph_block{b}", channels[b]) for b in blocks}
        self.temporal_levels = self._temporal_levels(view_taps_shape) if self.temporal != "none" else ()
        self.excitation, self.motion_heads, self.step_heads = {}, {}, {}
        for b in self.temporal_levels:
            self.excitation[f"block{b}"] = MotionExcitation(self.me_reduction, name=f"me_block{b}",
                                                            dtype=self.dtype_policy)
            self.excitation[f"block{b}"].build(view_taps_shape["h1"][f"block{b}"])
            self.motion_heads[f"block{b}"] = self._head(f"motion_block{b}", channels[b])
            if self.temporal == "feature":
                self.step_heads[f"block{b}"] = self._head(f"steps_block{b}", channels[b], steps=True)
        self.built = True

    # --- computation ---

    def embedding(self, taps):
        """z: the high-level head on global-pooled block 5 (L_ins, L_sem, the graph; the exported embedding)."""
        return self.high(global_pool(taps["block5"]))

    def _scores(self, z):
        """Cosine scores of z against the prototypes (B, K)."""
        return ops.matmul(losses.l2_normalize(z), ops.transpose(losses.l2_normalize(ops.transpose(self.prototypes))))

    def _motion(self, block, features):
        """ME → spatio-temporal average → MLP of a list of (B, T, H, W, C) tensors, one batched call."""
        tap = f"block{block}"
        batch = ops.shape(features[0])[0]
        out = self.motion_heads[tap](global_pool(self.excitation[tap](ops.concatenate(features, axis=0))))
        return [out[k * batch:(k + 1) * batch] for k in range(len(features))]

    def _transformed(self, context, training):
        """{tap: [reversed h1, shuffled h1, reversed h2, shuffled h2]}: the transformed input clips encoded
        by the online backbone ("input" mode), at the temporal levels."""
        if not hasattr(self, "_encoder"):
            raise ValueError("MLFOObjective: temporal='input' encodes transformed clips with the online backbone; "
                             "call attach(backbone) first (HDCModel does)")
        permutation = context["labels"][PERMUTATION]
        clips = [context["clips"][v] for v in ("h1", "h2")]
        batch = ops.shape(clips[0])[0]
        inputs = [aug for clip in clips for aug in (reverse_steps(clip), shuffle_steps(clip, permutation))]
        taps = self._encoder()(ops.concatenate(inputs, axis=0), training=training)
        return {f"block{b}": [taps[f"block{b}"][k * batch:(k + 1) * batch] for k in range(4)]
                for b in self.temporal_levels}

    def _temporal_terms(self, view_taps, context, training):
        """{(name, block): loss} of L_aug and L_ret at the temporal levels."""
        labels = context["labels"]
        if PERMUTATION not in labels:
            raise ValueError(f"MLFOObjective needs label {PERMUTATION!r} in context['labels']; received "
                             f"{sorted(labels)}")
        permutation = labels[PERMUTATION]
        transformed = self._transformed(context, training) if self.temporal == "input" else None
        terms = {}
        for block in self.temporal_levels:
            tap = f"block{block}"
            f1, f2 = view_taps["h1"][tap], view_taps["h2"][tap]
            if transformed is None:
                augmented = [reverse_steps(f1), shuffle_steps(f1, permutation),
                             reverse_steps(f2), shuffle_steps(f2, permutation)]
            else:
                augmented = transformed[tap]
            e1, e2, *negatives = self._motion(block, [f1, f2, *augmented])
            terms["aug", block] = losses.augmentation_contrast(
                e1, e2, ops.stack(negatives[:2], axis=1), ops.stack(negatives[2:], axis=1), self.temperature)
            if self.temporal == "feature":
                head = self.step_heads[tap]
                short = ops.concatenate([head(spatial_pool(f)) for f in (f1, f2)], axis=1)  # h1 ∥ h2 = long's span
                long = head(spatial_pool(view_taps["long"][tap]))
                terms["ret", block] = losses.timestamp_retrieval(short, long, self.temperature)
        return terms

    def call(self, view_taps, gather=None, replica_offset=0, context=None, training=None):
        """The terms on one replica's taps (arguments: ``hdc.objectives.base``).

        Returns {"loss", "ins", "ins_acc", "sem", "mul_block{k}", "graph_edges",
        "aug_block{k}", "ret_block{k}", "stage"} for the terms that are on.
        Gathered, in this order on every replica: z¹, z², scores¹, scores²,
        then each graph level's two views.
        """
        context = make_context() if context is None else context
        gather = gather or (lambda x: x)
        taps = (view_taps["h1"], view_taps["h2"])
        z = [self.embedding(t) for t in taps]
        all_z = [gather(v) for v in z]
        ins = losses.nt_xent_with_metrics(z[0], z[1], self.temperature, replica_offset, *all_z)
        scores = [self._scores(v) for v in z]
        all_scores = [ops.stop_gradient(gather(s)) for s in scores]
        queued = [(q.values.value, q.mask()) for q in self.queues] or [(None, None)] * 2
        all_targets = [losses.sinkhorn(s, self.sinkhorn_epsilon, self.sinkhorn_iterations, *past)
                       for s, past in zip(all_scores, queued)]
        batch = ops.shape(z[0])[0]
        rows = ops.arange(batch, dtype="int32") + ops.cast(replica_offset, "int32")
        sem = losses.swapped_prediction(*scores, *(ops.take(t, rows, axis=0) for t in all_targets),
                                        self.proto_temperature)
        if training:
            for queue, s in zip(self.queues, all_scores):
                queue.push(s)
        outputs = {"ins": ins["loss"], "ins_acc": ins["accuracy"], "sem": sem}
        lower = {}
        if self.graph != "none":
            edges = losses.graph_targets(*all_z, *all_targets, self.eta, self.temperature, self.graph,
                                         replica_offset, batch)
            outputs["graph_edges"] = ops.mean(ops.sum(ops.cast(edges > 0, edges.dtype), axis=-1))
            for block in self.graph_blocks:
                head = self.graph_heads[f"block{block}"]
                g = [head(global_pool(t[f"block{block}"])) for t in taps]
                lower["mul", block] = losses.graph_contrast(*g, edges, self.temperature, replica_offset,
                                                            gather(g[0]), gather(g[1]))
        if self.temporal != "none":
            lower.update(self._temporal_terms(view_taps, context, training))
        dtype = ins["loss"].dtype
        stage = ops.cast(ops.cast(context["progress"], "float32") >= self.stage_split, dtype)
        total = ins["loss"] + self.sem_weight * sem
        for (name, block), term in lower.items():
            total = total + stage * self.level_weights[LEVELS.index(block)] * term
            outputs[f"{name}_block{block}"] = term
        return {"loss": total, **outputs, "stage": stage}

    def get_config(self):
        temporal_blocks = self.temporal_blocks if self.temporal_blocks == "auto" else list(self.temporal_blocks)
        return {
            **super().get_config(),
            "num_prototypes": self.num_prototypes, "queue_size": self.queue_size, "proj_dim": self.proj_dim,
            "hidden": self.hidden, "temperature": self.temperature, "proto_temperature": self.proto_temperature,
            "sinkhorn_epsilon": self.sinkhorn_epsilon, "sinkhorn_iterations": self.sinkhorn_iterations,
            "graph": self.graph, "graph_blocks": list(self.graph_blocks), "eta": self.eta,
            "temporal": self.temporal, "temporal_blocks": temporal_blocks,
            "permutation_length": self.permutation_length, "me_reduction": self.me_reduction,
            "sem_weight": self.sem_weight, "level_weights": list(self.level_weights), "stage_split": self.stage_split,
        }

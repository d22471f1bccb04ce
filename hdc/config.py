"""One config dataclass for pretraining; defaults are the paper's (HDC §3.3,
§4; DESIGN.md §4). ``train.py`` parses flags into it and writes it to
``OUT/config.json``; library code receives it and never reads flags."""

import dataclasses
import json

from data.files import write_text

BACKBONE_NAMES = ("c3d", "r3d18", "r2plus1d10")
FAMILY_NAMES = ("hdc", "simclr", "moco", "te", "mlfo")  # objective families train.py can build (hdc.families)
MLFO_GRAPHS = ("none", "onehot", "instance", "semantic", "combined")  # hdc.objectives.mlfo.GRAPHS
MLFO_TEMPORAL = ("none", "input", "feature")  # hdc.objectives.mlfo.TEMPORAL_MODES
TE_TERMS = ("inst", "equi", "speed", "direction", "order")  # hdc.objectives.te.TERMS
TE_EQUIVARIANCES = ("temporal", "spatial", "spatiotemporal")  # hdc.objectives.te, data.recipes.EQUIVARIANCES
OPTIMIZERS = ("sgd", "adam", "adamw")  # hdc.optim
SCHEDULES = ("inverse-time", "cosine", "step")
# Mirrors of data.temporal / data.augment names (this module must not import TensorFlow)
PAIR_TRANSFORMS = ("none", "shift", "drop", "reverse", "shuffle")  # data.temporal.PAIR_TRANSFORMS
THESIS_MODES = ("chunk", "frame")  # data.augment.THESIS_MODES
AUGMENT_FAMILIES = ("thesis", "hdc")  # spatial family of the pair and long recipes
MAX_SPEEDS = 4  # len(data.temporal.SPEEDS): 1x, 2x, 4x, 8x
REMAT_BLOCKS = ("block1", "block2", "block3", "block4", "block5")  # models.TAP_NAMES
# (T, H, W) stride at block5 = the smallest clip each backbone takes (models: C3D, ResNet3D)
BLOCK5_STRIDES = {"c3d": (8, 16, 16), "r3d18": (16, 32, 32), "r2plus1d10": (8, 16, 16)}


@dataclasses.dataclass
class TrainConfig:
    # Objectives (hdc.families): the total is the weighted sum of their losses
    objectives: tuple = ("hdc",)  # families to train together, e.g. ("hdc",) or ("hdc", "te")
    objective_weights: tuple = ()  # one weight per objective; empty = 1 each
    # Model
    backbone: str = "r3d18"  # "c3d", "r3d18" or "r2plus1d10" (HDC §3.3)
    width_multiplier: float = 1.0  # scales every backbone layer's channels; 1 = the paper's network
    stem_time_pool: bool = True  # r3d18: the stem pool halves time (Hara); False keeps it (multi-level authors')
    proj_dim: int = 128  # width of every linear projection head (§3.3)
    temperature: float = 0.07  # τ of Eq. 1
    sc_blocks: tuple = (3, 4, 5)  # blocks with a Spatial Contrast term (Eq. 4)
    tc_blocks: tuple = (3, 4, 5)  # blocks with a Temporal Contrast term (Eq. 5)
    alpha: tuple = (0.25, 0.5, 1.0)  # SC weights α_k for blocks 3, 4, 5 (Eq. 6)
    beta: tuple = (0.25, 0.5, 1.0)  # TC weights β_k for blocks 3, 4, 5 (Eq. 6)
    # Data
    data: str = "synthetic"  # prepared-shards dir, or "synthetic" (built-in demo set)
    synthetic_size: str = "small"  # size of the synthetic set: "small" or "large"
    frames: int = 16  # clip length T
    crop: int = 112  # view size after augmentation
    resize: int = 128  # short side of stored frames = size of the square crop x_i
    color_jitter: bool = True  # spatial family switches (Table 2)
    channel_replication: bool = True
    flip: bool = True
    scale_jitter: bool = True
    tc_spatial_aug: bool = True  # spatial augmentation of u_t (§4.1)
    tc_gap: int = 0  # least frames between x_i's and u_t's windows, 0 = disjoint (§1: "a new clip"); -1 = independent
    # videoSimCLR (video-simclr-moco-thesis §3, Eq. 1; values of the thesis code)
    simclr_temperature: float = 0.5  # τ of NT-Xent
    simclr_hidden: int = 512  # MLP 512 → hidden → simclr_dim, ReLU between
    simclr_dim: int = 256  # F(clip) ∈ R^256
    # videoMoCo (thesis §3, Eq. 2; MoCo's defaults in the thesis code)
    moco_version: int = 2  # 1: linear head; 2: MLP head (with the "moco" method: stronger augmentation, cosine)
    moco_queue_size: int = 8192  # K, a multiple of the global batch (thesis Table 5: 8192 UCF101, 1024 HMDB51)
    moco_momentum: float = 0.999  # m of the key encoder's moving average
    moco_temperature: float = 0.07  # τ
    moco_dim: int = 128  # query/key width
    moco_hidden: int = 512  # v2's MLP hidden width (512 → 512 → 128)
    # Time-equivariant contrast (time-equivariant §3; hdc.objectives.TEObjective)
    te_terms: tuple = TE_TERMS  # terms on: Table 1 rows (a)-(o) (§4.1)
    te_weights: tuple = (1.0, 1.0, 1.0, 1.0, 1.0)  # one per term of TE_TERMS; the paper sums them
    te_equivariance: str = "temporal"  # L_equi to temporal (Table 1 d), spatial (b) or spatiotemporal (c) transforms
    te_temperature: float = 0.1  # λ of Eq. 2 (§3.1)
    te_aux_hidden: int = 0  # hidden width of the speed/direction/order heads (one hidden layer, §3.2); 0 = D
    te_head_batch_norm: bool = True  # batch norm in the heads' hidden layers (not in the paper: SimCLR/SimSiam heads)
    # Multi-level feature optimisation (multi-level §3-4; hdc.objectives.MLFOObjective). The paper defers
    # τ, η, Sinkhorn, heads, levels and weights to its supplement: the authors' public code, SwAV, TEA.
    mlfo_prototypes: int = 1000  # K (§4.2, Fig. 3)
    mlfo_queue_size: int = 1024  # past score rows per view in Sinkhorn (§4.2); 0 = none
    mlfo_proj_dim: int = 128  # head output width (authors' code)
    mlfo_hidden: int = 0  # hidden width of the 2-layer heads; 0 = each head's input width (authors' C→C→128)
    mlfo_temperature: float = 0.07  # τ of h (Eq. 1) in L_ins, W, L_mul, L_aug, L_ret (authors' code)
    mlfo_proto_temperature: float = 0.1  # τ_p of p = softmax(scores/τ_p) (SwAV, authors' code)
    mlfo_sinkhorn_epsilon: float = 0.05  # ε (SwAV, authors' code)
    mlfo_sinkhorn_iterations: int = 3  # (SwAV, authors' code)
    mlfo_graph: str = "combined"  # Table 2: none / onehot / instance / semantic / combined (Eq. 9)
    mlfo_graph_blocks: tuple = (3, 4)  # L_mul levels (§3.2 low, mid); (5,) = high only; (3, 4, 5) = authors' code
    mlfo_eta: float = 0.05  # η of Eq. 6 (authors' code)
    mlfo_temporal: str = "feature"  # Table 3: none (w/o TM), input (CTM), feature (NTM: L_aug + L_ret)
    mlfo_temporal_blocks: tuple = ()  # L_aug/L_ret levels; empty = auto: blocks 3, 4 with > 2 steps, a multiple of L
    mlfo_me_reduction: int = 16  # r of the motion excitation (TEA, authors' code)
    mlfo_sem_weight: float = 1.0  # weight of L_sem in L_high (Eq. 5)
    mlfo_level_weights: tuple = (0.3, 0.5, 1.0)  # weights of the lower terms at blocks 3, 4, 5 (authors' code)
    mlfo_stage_split: float = 0.15  # E: fraction of training with L_high alone (§4.4: best in [10%, 20%])
    # Augmentation and view recipes (data.recipes, data.augment, data.temporal)
    # HDC's spatial family Φ (§3.3; data.augment.AugmentConfig), also the
    # time-equivariant views' (§3.4), there without channel replication
    scale_min: float = 0.3  # crop area fraction ~ U(scale_min, 1) (scale jitter)
    flip_prob: float = 0.5  # horizontal flip
    color_prob: float = 0.8  # colour jitter
    brightness: float = 0.4  # jitter factors U(1 - x, 1 + x)
    contrast: float = 0.4
    saturation: float = 0.4
    hue: float = 0.1  # hue shift U(-hue, hue), fraction of the hue circle
    replication_prob: float = 0.5  # channel replication
    # The thesis' spatial family (videoSimCLR/MoCo thesis §3, §5.1; strengths of its code)
    thesis_aug_mode: str = "chunk"  # "chunk": one parameter set per clip (§5.1); "frame": per frame
    thesis_scale_min: float = 0.08  # random resized crop area ~ U(thesis_scale_min, 1) (§5.1)
    thesis_flip_prob: float = 0.5
    thesis_color_prob: float = 0.8
    thesis_brightness: float = 0.4  # 0.8 x strength 0.5, and so on
    thesis_contrast: float = 0.4
    thesis_saturation: float = 0.4
    thesis_hue: float = 0.1
    thesis_grayscale_prob: float = 0.2
    thesis_blur_prob: float = 0.5
    thesis_blur_sigma: tuple = (0.1, 2.0)  # Gaussian blur sigma ~ U(lo, hi), pixels
    thesis_blur_kernel: float = 0.1  # kernel side / view side (odd)
    # Recipe "pair": videoSimCLR / videoMoCo views a, b (thesis §3)
    pair_transform: str = "shift"  # "none", "shift", "drop", "reverse" or "shuffle" (§5.3-5.4: shift)
    pair_max_shift: int = 8  # s of RandomShift [-s, s] (§5.3: 8 on UCF101, 4 on HMDB51)
    pair_augment: str = "thesis"  # spatial family of a, b: "thesis" or "hdc"
    # Recipe "te": time-equivariant clips p, q (§3.2)
    te_num_speeds: int = 4  # speed classes 1x, 2x, 4x, 8x: the first n
    te_max_gap: int = -1  # most frames between disjoint clips p, q (data.temporal.relative_transform); -1 = T
    # Recipe "long": multi-level clips h1, h2 and the 2T-frame long sequence (§3.3, §4.2)
    mlfo_permutation_length: int = 4  # L of the per-example feature-level shuffle (data.recipes.LongRecipe)
    mlfo_augment: str = "thesis"  # spatial family of h1, h2, long: "thesis" or "hdc"
    # Optimisation (§3.3)
    batch_size: int = 128  # global batch: clips from different videos
    epochs: int = 100
    steps_per_epoch: int = 0  # 0: one pass over the training videos
    optimizer: str = "sgd"  # "sgd" (HDC, with momentum), "adam" (multi-level, lr 1e-3) or "adamw" (time-equivariant)
    lr: float = 0.1
    momentum: float = 0.9  # SGD only
    adamw_weight_decay: float = 1e-4  # AdamW's decoupled weight decay (time-equivariant §3.4)
    schedule: str = "inverse-time"  # "inverse-time" (Keras decay), "cosine" (with warm-up), "step" (milestones)
    lr_decay: float = 1e-4  # lr_t = lr / (1 + lr_decay·t); HDC† (slower decay): 1e-5
    warmup_steps: int = 0  # linear warm-up steps of the cosine schedule
    lr_milestones: tuple = (0.7,)  # "step": fractions of training where lr is multiplied by lr_step_factor
    lr_step_factor: float = 0.1  # multi-level §4.2: ÷10 at 70%
    weight_decay: float = 5e-5  # L2 factor on every conv kernel
    # Reproducibility, speed, devices
    seed: int = 0
    deterministic: bool = False  # op determinism (data randomness is always stateless)
    mixed_precision: bool = False  # mixed_float16 compute, float32 losses
    jit_compile: bool = False  # XLA; GPUs only (slow on CPU, fails under MirroredStrategy)
    remat: tuple = ()  # backbone blocks recomputed in the backward pass instead of stored (models.backbone)
    steps_per_execution: int = 1
    strategy: str = "auto"  # "auto", "one", "mirrored", "multiworker"
    cpu_devices: int = 0  # split the CPU into N logical devices (tests, demos)
    # Outputs
    out: str = "runs/hdc"
    checkpoint_every: int = 50  # steps between checkpoints (also at epoch end and SIGTERM)

    def validate(self, reach=True):
        """Raise ValueError naming the field and the bad value. ``reach``: also check that the
        clip reaches the backbone's block5 (``preview.py``, which builds no backbone, skips it)."""
        checks = [
            (bool(self.objectives) and set(self.objectives) <= set(FAMILY_NAMES)
             and len(set(self.objectives)) == len(self.objectives), "objectives",
             f"distinct names from {FAMILY_NAMES}"),
            (not self.objective_weights or (len(self.objective_weights) == len(self.objectives)
                                            and min(self.objective_weights) >= 0),
             "objective_weights", "empty or one weight >= 0 per objective"),
            (self.backbone in BACKBONE_NAMES, "backbone", f"one of {BACKBONE_NAMES}"),
            (self.width_multiplier > 0, "width_multiplier", "> 0"),
            (self.proj_dim > 0, "proj_dim", "> 0"),
            (self.temperature > 0, "temperature", "> 0"),
            (set(self.sc_blocks) <= {3, 4, 5}, "sc_blocks", "a subset of 3,4,5"),
            (set(self.tc_blocks) <= {3, 4, 5}, "tc_blocks", "a subset of 3,4,5"),
            (bool(self.sc_blocks or self.tc_blocks), "sc_blocks/tc_blocks", "not both empty"),
            (len(self.alpha) == 3 and min(self.alpha) >= 0, "alpha", "3 non-negative weights for blocks 3,4,5"),
            (len(self.beta) == 3 and min(self.beta) >= 0, "beta", "3 non-negative weights for blocks 3,4,5"),
            (self.synthetic_size in ("small", "large"), "synthetic_size", "'small' or 'large'"),
            (self.frames > 0, "frames", "> 0"),
            (0 < self.crop <= self.resize, "crop", f"in 1..resize ({self.resize})"),
            *(self._reach_checks() if reach else ()),
            *self._augmentation_checks(),
            *self._family_checks(),
            (self.batch_size > 0, "batch_size", "> 0"),
            (self.epochs > 0, "epochs", "> 0"),
            (self.steps_per_epoch >= 0, "steps_per_epoch", ">= 0"),
            (self.optimizer in OPTIMIZERS, "optimizer", f"one of {OPTIMIZERS}"),
            (self.adamw_weight_decay >= 0, "adamw_weight_decay", ">= 0"),
            (self.lr > 0, "lr", "> 0"),
            (0 <= self.momentum < 1, "momentum", "in [0, 1)"),
            (self.schedule in SCHEDULES, "schedule", f"one of {SCHEDULES}"),
            (all(0 < m < 1 for m in self.lr_milestones) and list(self.lr_milestones) == sorted(self.lr_milestones),
             "lr_milestones", "increasing fractions in (0, 1)"),
            (0 < self.lr_step_factor <= 1, "lr_step_factor", "in (0, 1]"),
            (self.lr_decay >= 0, "lr_decay", ">= 0"),
            (self.warmup_steps >= 0, "warmup_steps", ">= 0"),
            (self.weight_decay >= 0, "weight_decay", ">= 0"),
            (self.steps_per_execution > 0, "steps_per_execution", "> 0"),
            (set(self.remat) <= set(REMAT_BLOCKS) and len(set(self.remat)) == len(self.remat), "remat",
             f"distinct blocks of {REMAT_BLOCKS}"),
            (self.strategy in ("auto", "one", "mirrored", "multiworker"), "strategy", "auto/one/mirrored/multiworker"),
            (self.cpu_devices >= 0, "cpu_devices", ">= 0"),
            (self.checkpoint_every > 0, "checkpoint_every", "> 0"),
        ]
        for ok, field, expected in checks:
            if not ok:
                raise ValueError(f"{field} must be {expected}, received {getattr(self, field.split('/')[0])!r}")
        return self

    def _reach_checks(self):
        """Clips long and large enough for the backbone's block5 (models reject smaller ones)."""
        frames, side, _ = BLOCK5_STRIDES.get(self.backbone, (1, 1, 1))
        frames = 8 if self.backbone == "r3d18" and not self.stem_time_pool else frames
        return [
            (self.frames >= frames, "frames", f">= {frames} for --backbone {self.backbone} (its block5 stride in time)"),
            (self.crop >= side, "crop", f">= {side} for --backbone {self.backbone} (its block5 stride in space)"),
        ]

    def _family_checks(self):
        """(ok, field, expected) of the objective families' fields."""
        moco = "moco" in self.objectives
        return [
            (self.simclr_temperature > 0, "simclr_temperature", "> 0"),
            (self.simclr_hidden > 0 and self.simclr_dim > 0, "simclr_hidden", "> 0 (and simclr_dim > 0)"),
            (self.moco_version in (1, 2), "moco_version", "1 or 2"),
            (0 <= self.moco_momentum < 1, "moco_momentum", "in [0, 1)"),
            (self.moco_temperature > 0, "moco_temperature", "> 0"),
            (self.moco_dim > 0 and self.moco_hidden > 0, "moco_dim", "> 0 (and moco_hidden > 0)"),
            (bool(self.te_terms) and set(self.te_terms) <= set(TE_TERMS) and len(set(self.te_terms)) == len(self.te_terms),
             "te_terms", f"distinct names from {TE_TERMS}"),
            (len(self.te_weights) == len(TE_TERMS) and min(self.te_weights) >= 0, "te_weights",
             f"5 weights >= 0 for {TE_TERMS}"),
            (self.te_equivariance in TE_EQUIVARIANCES, "te_equivariance", f"one of {TE_EQUIVARIANCES}"),
            (self.te_temperature > 0, "te_temperature", "> 0"),
            (self.te_aux_hidden >= 0, "te_aux_hidden", ">= 0 (0: the feature width D)"),
            *self._mlfo_checks(),
            ("te" not in self.objectives or self.batch_size % 2 == 0, "batch_size",
             "even with objective te (partners 2k, 2k + 1 share a transformation)"),
            (not moco or (self.moco_queue_size >= self.batch_size and self.moco_queue_size % self.batch_size == 0),
             "moco_queue_size", f"a multiple of batch_size ({self.batch_size}) with --objectives moco"),
        ]

    def _mlfo_checks(self):
        mlfo = "mlfo" in self.objectives
        blocks = {3, 4, 5}
        return [
            (self.mlfo_prototypes >= 1, "mlfo_prototypes", ">= 1"),
            (not mlfo or self.mlfo_queue_size == 0 or self.mlfo_queue_size >= self.batch_size, "mlfo_queue_size",
             f"0 or >= batch_size ({self.batch_size}) with --objectives mlfo"),
            (self.mlfo_proj_dim >= 1, "mlfo_proj_dim", ">= 1"),
            (self.mlfo_hidden >= 0, "mlfo_hidden", ">= 0 (0: the head's input width)"),
            *((getattr(self, n) > 0, n, "> 0")
              for n in ("mlfo_temperature", "mlfo_proto_temperature", "mlfo_sinkhorn_epsilon")),
            (self.mlfo_sinkhorn_iterations >= 1, "mlfo_sinkhorn_iterations", ">= 1"),
            (self.mlfo_graph in MLFO_GRAPHS, "mlfo_graph", f"one of {MLFO_GRAPHS}"),
            (bool(self.mlfo_graph_blocks) and set(self.mlfo_graph_blocks) <= blocks
             and len(set(self.mlfo_graph_blocks)) == len(self.mlfo_graph_blocks), "mlfo_graph_blocks",
             "distinct blocks of 3,4,5"),
            (0 <= self.mlfo_eta <= 1, "mlfo_eta", "in [0, 1]"),
            (self.mlfo_temporal in MLFO_TEMPORAL, "mlfo_temporal", f"one of {MLFO_TEMPORAL}"),
            (set(self.mlfo_temporal_blocks) <= blocks and len(set(self.mlfo_temporal_blocks))
             == len(self.mlfo_temporal_blocks), "mlfo_temporal_blocks", "empty (auto) or distinct blocks of 3,4,5"),
            (self.mlfo_me_reduction >= 1, "mlfo_me_reduction", ">= 1"),
            (self.mlfo_sem_weight >= 0, "mlfo_sem_weight", ">= 0"),
            (len(self.mlfo_level_weights) == 3 and min(self.mlfo_level_weights) >= 0, "mlfo_level_weights",
             "3 weights >= 0 for blocks 3,4,5"),
            (0 <= self.mlfo_stage_split < 1, "mlfo_stage_split", "in [0, 1)"),
        ]

    def _augmentation_checks(self):
        """(ok, field, expected) of the augmentation and view-recipe fields."""
        probabilities = ("flip_prob", "color_prob", "replication_prob", "thesis_flip_prob", "thesis_color_prob",
                         "thesis_grayscale_prob", "thesis_blur_prob")
        strengths = ("brightness", "contrast", "saturation", "thesis_brightness", "thesis_contrast",
                     "thesis_saturation")
        lo, hi = (tuple(self.thesis_blur_sigma) + (0, 0))[:2]
        return [
            *((0 <= getattr(self, name) <= 1, name, "in [0, 1]") for name in probabilities),
            *((0 <= getattr(self, name) < 1, name, "in [0, 1)") for name in strengths),
            *((0 <= getattr(self, name) <= 0.5, name, "in [0, 0.5]") for name in ("hue", "thesis_hue")),
            *((0 < getattr(self, name) <= 1, name, "in (0, 1]") for name in ("scale_min", "thesis_scale_min")),
            (self.thesis_aug_mode in THESIS_MODES, "thesis_aug_mode", f"one of {THESIS_MODES}"),
            (len(self.thesis_blur_sigma) == 2 and 0 < lo <= hi, "thesis_blur_sigma", "two numbers 0 < lo <= hi"),
            (0 < self.thesis_blur_kernel <= 1, "thesis_blur_kernel", "in (0, 1]"),
            (self.pair_transform in PAIR_TRANSFORMS, "pair_transform", f"one of {PAIR_TRANSFORMS}"),
            (isinstance(self.tc_gap, int) and not isinstance(self.tc_gap, bool) and self.tc_gap >= -1, "tc_gap",
             "an integer >= 0 (frames between x_i's and u_t's windows), or -1 for independent windows"),
            (self.pair_max_shift >= 0, "pair_max_shift", ">= 0"),
            (self.pair_augment in AUGMENT_FAMILIES, "pair_augment", f"one of {AUGMENT_FAMILIES}"),
            (1 <= self.te_num_speeds <= MAX_SPEEDS, "te_num_speeds", f"in 1..{MAX_SPEEDS}"),
            (self.te_max_gap >= -1, "te_max_gap", ">= 0, or -1 for the clip length T"),
            (self.mlfo_permutation_length >= 2, "mlfo_permutation_length", ">= 2"),
            (self.mlfo_augment in AUGMENT_FAMILIES, "mlfo_augment", f"one of {AUGMENT_FAMILIES}"),
        ]

    def to_json(self, path, **extra):
        """Write the fields (and ``extra`` keys, ignored by ``from_json``) atomically."""
        write_text(path, json.dumps({**dataclasses.asdict(self), **extra}, indent=2))

    @classmethod
    def from_json(cls, path):
        with open(path, encoding="utf-8") as f:
            values = json.load(f)
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items() if k in names})


# Demo-sized settings for the built-in synthetic data on a 2-core CPU; every
# other field keeps the paper's value. `--preset paper` uses the defaults.
DEMO = dict(frames=8, crop=48, resize=64, batch_size=8, epochs=3, steps_per_epoch=10, lr=0.05, checkpoint_every=10,
            moco_queue_size=64)  # the small synthetic set has 112 videos: a queue well below that
PRESETS = {"paper": {}, "demo": DEMO}
# Each method's published settings (--method), applied over the size preset; explicit flags win.
# PyTorch's weight_decay w adds w·θ to the gradient, a Keras L2 factor of w / 2.
_THESIS_MOCO = dict(objectives=("moco",), optimizer="sgd", lr=0.03, momentum=0.9, weight_decay=5e-5,
                    pair_transform="none", pair_augment="thesis", thesis_scale_min=0.2)
METHODS = {
    "hdc": {},  # HDC §3.3: the defaults
    # videoSimCLR, thesis code: Adam 3e-4 (weight decay 1e-6), cosine, τ 0.5, shift s = 8, thesis family
    "simclr": dict(objectives=("simclr",), optimizer="adam", lr=3e-4, weight_decay=5e-7, schedule="cosine",
                   pair_transform="shift", pair_max_shift=8, pair_augment="thesis"),
    # videoMoCo v2 (MoCo v2 in the thesis code): SGD 0.03, weight decay 1e-4, cosine, MLP head, its augmentation.
    # τ is not in the thesis: 0.2, MoCo v2's (Chen et al. 2020, arXiv:2003.04297, Table 1: "MLP ... τ = 0.2");
    # v1 keeps MoCo v1's 0.07.
    "moco": dict(_THESIS_MOCO, moco_version=2, schedule="cosine", moco_temperature=0.2),
    # videoMoCo v1: linear head, ÷10 at 60% and 80% (epochs 120, 160 of 200), MoCo v1's augmentation
    # time-equivariant §3.4: AdamW (weight decay 1e-4, no L2 on kernels), linear warm-up to 3e-4, cosine;
    # the warm-up length is not in the paper: 500 steps ≈ 10 UCF101 epochs at batch 192 (SimCLR's 10 epochs)
    "te": dict(objectives=("te",), optimizer="adamw", lr=3e-4, adamw_weight_decay=1e-4, weight_decay=0.0,
               schedule="cosine", warmup_steps=500),
    "te-ucf101": dict(objectives=("te",), optimizer="adamw", lr=3e-4, adamw_weight_decay=1e-4, weight_decay=0.0,
                      schedule="cosine", warmup_steps=500),
    # multi-level §4.2: Adam 1e-3 (weight decay 1e-5), lr ÷10 at 70% (70 of 100 Kinetics-400 epochs)
    # (stem_time_pool=False: 3D-ResNet18 with the authors' stem, time steps down to block 5; C3D ignores it)
    "mlfo": dict(objectives=("mlfo",), optimizer="adam", lr=1e-3, weight_decay=5e-6, schedule="step",
                 lr_milestones=(0.7,), lr_step_factor=0.1, stem_time_pool=False),
    "mlfo-ucf101": dict(objectives=("mlfo",), optimizer="adam", lr=1e-3, weight_decay=5e-6, schedule="step",
                        lr_milestones=(2 / 3,), lr_step_factor=0.1, stem_time_pool=False),
    "moco-v1": dict(_THESIS_MOCO, moco_version=1, schedule="step", lr_milestones=(0.6, 0.8), thesis_color_prob=1.0,
                    thesis_hue=0.4, thesis_blur_prob=0.0),
}
# Each method's pretraining sizes as its paper states them, applied with --preset paper only (a demo stays demo-
# sized; benchmarks.quality shares one budget). Where a paper has a small-data ablation and a large-data run,
# "<method>" is the large run and "<method>-ucf101" the ablation.
_THESIS_SIZE = dict(crop=224, resize=224, batch_size=128)  # thesis §4.1: frames resized to 224×224, batch 128
PAPER_BY_METHOD = {
    "simclr": dict(_THESIS_SIZE, epochs=100),  # thesis §4.1: "100 for videoSimCLR and 200 for videoMOCO V1/V2"
    "moco": dict(_THESIS_SIZE, epochs=200),
    "moco-v1": dict(_THESIS_SIZE, epochs=200),  # ÷10 at 0.6, 0.8 of 200: epochs 120 and 160
    # time-equivariant §3.4: "16 frames at a resolution of 128×128"; §4.2: Kinetics-400, 200 epochs, batch 512
    # for 3D-ResNet-18; §4.1 (Table 1 ablations): "400 epochs on UCF101 training split 1 with a batch size of 192"
    "te": dict(frames=16, crop=128, resize=128, batch_size=512, epochs=200),
    "te-ucf101": dict(frames=16, crop=128, resize=128, batch_size=192, epochs=400),
    # multi-level §4.2: 32 frames split into two 16-frame clips at 112×112, batch 256, 100 epochs on Kinetics-400
    # (÷10 at 70), 300 on UCF-101 (÷10 at 200)
    "mlfo": dict(frames=16, crop=112, batch_size=256, epochs=100),
    "mlfo-ucf101": dict(frames=16, crop=112, batch_size=256, epochs=300, lr_milestones=(2 / 3,)),
}
# 3D-ResNet18 strides 16 in time and 32 in space: the demo clip must be
# 16 frames, and 64 px so that block 5 is not a single position.
DEMO_BY_BACKBONE = {"r3d18": dict(frames=16, crop=64)}


# A demo run has 30 steps: a method's warm-up must fit in it.
DEMO_BY_METHOD = {"te": dict(warmup_steps=3), "te-ucf101": dict(warmup_steps=3)}


def preset_values(preset, backbone, method="hdc"):
    """The field values a size preset and a method set for ``backbone``."""
    demo = preset == "demo"
    extra = DEMO_BY_BACKBONE.get(backbone, {}) if demo else {}
    sizes = DEMO_BY_METHOD.get(method, {}) if demo else PAPER_BY_METHOD.get(method, {})
    return {**PRESETS[preset], **extra, **METHODS[method], **sizes}

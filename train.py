"""HDC pretraining: ``python train.py --backbone c3d``.

Runs on the built-in synthetic dataset by default with a demo-sized preset
(minutes on a CPU); ``--preset paper`` gives the paper's settings (HDC §3.3).
Re-running the same command with the same ``--out`` resumes.
"""

import argparse
import dataclasses
import os
import sys

import cli
from hdc.config import (
    AUGMENT_FAMILIES,
    BACKBONE_NAMES,
    FAMILY_NAMES,
    MAX_SPEEDS,
    OPTIMIZERS,
    PAIR_TRANSFORMS,
    METHODS,
    MLFO_GRAPHS,
    MLFO_TEMPORAL,
    PRESETS,
    REMAT_BLOCKS,
    SCHEDULES,
    THESIS_MODES,
    TE_EQUIVARIANCES,
    TE_TERMS,
    TrainConfig,
    preset_values,
)

DEFAULTS = TrainConfig()


def _int_list(text):
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers such as 3,4,5, received {text!r}")
    return values


def _float_list(text):
    try:
        return tuple(float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers such as 0.25,0.5,1, received {text!r}")


def _names_from(allowed):
    def parse(text):
        names = tuple(v.strip() for v in text.split(",") if v.strip())
        if not names or any(n not in allowed for n in names):
            raise argparse.ArgumentTypeError(f"expected a comma list of {allowed}, received {text!r}")
        return names

    return parse


def parse_remat(text):
    """--remat: none, all, or a comma list of REMAT_BLOCKS (also benchmarks.step's flag)."""
    named = {"none": (), "all": REMAT_BLOCKS}
    return named[text] if text in named else _names_from(REMAT_BLOCKS)(text)


def _add_augmentation_flags(p):
    """Probabilities and strengths of the spatial families, and the view recipes' settings
    (data.recipes; preview them with python preview.py)."""
    d = DEFAULTS
    g = p.add_argument_group("HDC's spatial family (HDC §3.3; also time-equivariant clips, without replication)")
    g.add_argument("--scale-min", type=float, help=f"smallest crop area fraction of the scale jitter ({d.scale_min})")
    g.add_argument("--flip-prob", type=float, help=f"horizontal flip probability ({d.flip_prob})")
    g.add_argument("--color-prob", type=float, help=f"colour jitter probability ({d.color_prob})")
    for name in ("brightness", "contrast", "saturation"):
        g.add_argument(f"--{name}", type=float, help=f"{name} factor U(1 - x, 1 + x) ({getattr(d, name)})")
    g.add_argument("--hue", type=float, help=f"hue shift U(-x, x), fraction of the circle ({d.hue})")
    g.add_argument("--replication-prob", type=float, help=f"channel replication probability ({d.replication_prob})")
    g = p.add_argument_group("the thesis' spatial family (videoSimCLR/MoCo thesis §3, §5.1)")
    g.add_argument("--thesis-aug-mode", choices=THESIS_MODES, help="parameters per clip (chunk, default) or frame")
    g.add_argument("--thesis-scale-min", type=float, help=f"smallest crop area fraction ({d.thesis_scale_min})")
    g.add_argument("--thesis-flip-prob", type=float, help=f"horizontal flip probability ({d.thesis_flip_prob})")
    g.add_argument("--thesis-color-prob", type=float, help=f"colour jitter probability ({d.thesis_color_prob})")
    for name in ("brightness", "contrast", "saturation", "hue"):
        g.add_argument(f"--thesis-{name}", type=float, help=f"colour jitter {name} ({getattr(d, 'thesis_' + name)})")
    g.add_argument("--thesis-grayscale-prob", type=float, help=f"grayscale probability ({d.thesis_grayscale_prob})")
    g.add_argument("--thesis-blur-prob", type=float, help=f"Gaussian blur probability ({d.thesis_blur_prob})")
    g.add_argument("--thesis-blur-sigma", type=_float_list, help=f"blur sigma range lo,hi (px) {d.thesis_blur_sigma}")
    g.add_argument("--thesis-blur-kernel", type=float, help=f"blur kernel side / view side ({d.thesis_blur_kernel})")
    g = p.add_argument_group("view recipes: hdc, pair (videoSimCLR/MoCo), te (time-equivariant), mlfo (multi-level)")
    g.add_argument("--tc-gap", type=int, help=f"frames between x_i's and u_t's windows, -1: independent ({d.tc_gap})")
    g.add_argument("--pair-transform", choices=PAIR_TRANSFORMS, help=f"temporal transform of a, b ({d.pair_transform})")
    g.add_argument("--pair-max-shift", type=int, help=f"s of the shift in [-s, s] frames ({d.pair_max_shift})")
    g.add_argument("--pair-augment", choices=AUGMENT_FAMILIES, help=f"spatial family of a, b ({d.pair_augment})")
    g.add_argument("--te-num-speeds", type=int, help=f"speed classes 1x,2x,4x,8x: the first n, 1..{MAX_SPEEDS}")
    g.add_argument("--te-max-gap", type=int, help="most frames between disjoint clips p, q (-1: the clip length T)")
    g.add_argument(
        "--mlfo-permutation-length", type=int, help=f"L of the feature-level shuffle ({d.mlfo_permutation_length})"
    )
    g.add_argument("--mlfo-augment", choices=AUGMENT_FAMILIES, help=f"family of h1, h2, long ({d.mlfo_augment})")


def build_parser():
    p = cli.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    g = p.add_argument_group("objectives")
    g.add_argument("--objectives", type=_names_from(FAMILY_NAMES), help=f"comma list of {FAMILY_NAMES} trained together (default hdc)")
    g.add_argument("--objective-weights", type=_float_list, help="one weight per objective (default 1 each)")
    g.add_argument(
        "--method",
        choices=sorted(METHODS),
        help="a method's published settings: its objective, optimiser, schedule and augmentation "
        "(applied over --preset; explicit flags win; default hdc)",
    )
    g = p.add_argument_group("videoSimCLR and videoMoCo (video-simclr-moco-thesis §3)")
    g.add_argument("--simclr-temperature", type=float, help=f"NT-Xent τ ({DEFAULTS.simclr_temperature})")
    g.add_argument("--simclr-hidden", type=int, help=f"MLP hidden width ({DEFAULTS.simclr_hidden})")
    g.add_argument("--simclr-dim", type=int, help=f"MLP output width ({DEFAULTS.simclr_dim})")
    g.add_argument("--moco-version", type=int, choices=(1, 2), help="1: linear head; 2: MLP head (default 2)")
    g.add_argument("--moco-queue-size", type=int, help=f"K, a multiple of the batch ({DEFAULTS.moco_queue_size})")
    g.add_argument("--moco-momentum", type=float, help=f"key encoder momentum m ({DEFAULTS.moco_momentum})")
    g.add_argument("--moco-temperature", type=float, help=f"τ ({DEFAULTS.moco_temperature})")
    g.add_argument("--moco-dim", type=int, help=f"query/key width ({DEFAULTS.moco_dim})")
    g.add_argument("--moco-hidden", type=int, help=f"v2 MLP hidden width ({DEFAULTS.moco_hidden})")
    g = p.add_argument_group("time-equivariant contrast (time-equivariant §3; Table 1 rows by --te-terms)")
    g.add_argument("--te-terms", type=_names_from(TE_TERMS), help=f"terms on, comma list of {TE_TERMS} (all)")
    g.add_argument("--te-weights", type=_float_list, help="one weight per term of --te-terms' full list (1 each)")
    g.add_argument("--te-equivariance", choices=TE_EQUIVARIANCES, help="what L_equi contrasts (temporal)")
    g.add_argument("--te-temperature", type=float, help=f"λ of Eq. 2 ({DEFAULTS.te_temperature})")
    g.add_argument("--te-aux-hidden", type=int, help="hidden width of the auxiliary heads (0: the feature width)")
    g.add_argument("--no-te-head-batch-norm", dest="te_head_batch_norm", action="store_false", default=None,
                   help="no batch norm in the heads' hidden layers (on by default; not in the paper)")
    d = DEFAULTS
    g = p.add_argument_group(
        "multi-level feature optimisation (multi-level §3; Table 2: --mlfo-graph[-blocks], Table 3: --mlfo-temporal)"
    )
    g.add_argument("--mlfo-prototypes", type=int, help=f"K prototypes ({d.mlfo_prototypes})")
    g.add_argument("--mlfo-queue-size", type=int, help=f"past score rows per view in Sinkhorn, 0 = none ({d.mlfo_queue_size})")
    g.add_argument("--mlfo-proj-dim", type=int, help=f"head output width ({d.mlfo_proj_dim})")
    g.add_argument("--mlfo-hidden", type=int, help="head hidden width; 0 = the head's input width (0)")
    g.add_argument("--mlfo-temperature", type=float, help=f"τ of h ({d.mlfo_temperature})")
    g.add_argument("--mlfo-proto-temperature", type=float, help=f"τ_p of the prototype softmax ({d.mlfo_proto_temperature})")
    g.add_argument("--mlfo-sinkhorn-epsilon", type=float, help=f"Sinkhorn ε ({d.mlfo_sinkhorn_epsilon})")
    g.add_argument("--mlfo-sinkhorn-iterations", type=int, help=f"Sinkhorn iterations ({d.mlfo_sinkhorn_iterations})")
    g.add_argument("--mlfo-graph", choices=MLFO_GRAPHS, help=f"lower-level constraint, Table 2 ({d.mlfo_graph})")
    g.add_argument("--mlfo-graph-blocks", type=_int_list, help="levels with L_mul (3,4)")
    g.add_argument("--mlfo-eta", type=float, help=f"η of Eq. 6 ({d.mlfo_eta})")
    g.add_argument("--mlfo-temporal", choices=MLFO_TEMPORAL, help=f"temporal modelling, Table 3 ({d.mlfo_temporal})")
    g.add_argument("--mlfo-temporal-blocks", type=_int_list, help="levels of L_aug/L_ret ('' = auto)")
    g.add_argument("--mlfo-me-reduction", type=int, help=f"r of the motion excitation ({d.mlfo_me_reduction})")
    g.add_argument("--mlfo-sem-weight", type=float, help=f"weight of L_sem in L_high ({d.mlfo_sem_weight})")
    g.add_argument("--mlfo-level-weights", type=_float_list, help="weights at blocks 3,4,5 (0.3,0.5,1.0)")
    g.add_argument("--mlfo-stage-split", type=float, help=f"E: fraction of training with L_high alone ({d.mlfo_stage_split})")
    g = p.add_argument_group("model and data")
    g.add_argument("--backbone", choices=BACKBONE_NAMES, help=f"encoder (default {DEFAULTS.backbone})")
    g.add_argument(
        "--width-multiplier", type=float, help="scale every backbone layer's channels (default 1 = the paper's)"
    )
    g.add_argument(
        "--stem-time-pool", action=argparse.BooleanOptionalAction, default=None,
        help="r3d18: the stem pool halves time (Hara's; default) or not (--no-…, the multi-level authors', "
        "--method mlfo's)",
    )
    g.add_argument("--data", help="prepared-shards dir (python -m data.prepare) or 'synthetic' (default, a demo set)")
    g.add_argument("--synthetic-size", choices=("small", "large"), help="size of the synthetic set (default small)")
    g.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        help="'paper' = the paper's settings; 'demo' = small clips and batches for a CPU "
        "(default: demo with --data synthetic, paper otherwise). Explicit flags override it.",
    )
    g = p.add_argument_group("schedule")
    g.add_argument("--out", help=f"output directory; re-running with it resumes (default {DEFAULTS.out})")
    g.add_argument("--epochs", type=int, help="epochs")
    g.add_argument("--steps-per-epoch", type=int, help="steps per epoch (0: one pass over the videos)")
    g.add_argument("--batch-size", type=int, help="global batch size, clips from different videos (paper 128)")
    g.add_argument("--optimizer", choices=OPTIMIZERS, help="optimiser (HDC: sgd; adam/adamw want --lr ~1e-3/3e-4)")
    g.add_argument("--lr", type=float, help="initial learning rate (paper 0.1)")
    g.add_argument("--momentum", type=float, help="SGD momentum (paper 0.9)")
    g.add_argument("--schedule", choices=SCHEDULES, help="learning-rate schedule (HDC: inverse-time)")
    g.add_argument("--lr-decay", type=float, help="inverse-time decay per step (paper 1e-4; HDC† slower decay: 1e-5)")
    g.add_argument("--warmup-steps", type=int, help="linear warm-up steps of the cosine schedule")
    g.add_argument("--lr-milestones", type=_float_list, help="step schedule: fractions of training, e.g. 0.7")
    g.add_argument("--lr-step-factor", type=float, help="step schedule: lr factor at each milestone (0.1)")
    g.add_argument("--adamw-weight-decay", type=float, help="AdamW's decoupled weight decay (1e-4)")
    g.add_argument("--weight-decay", type=float, help="L2 factor on conv kernels (paper 5e-5)")
    g.add_argument("--checkpoint-every", type=int, help="steps between checkpoints")
    g = p.add_argument_group("clip shape")
    g.add_argument("--frames", type=int, help="frames per clip (paper 16)")
    g.add_argument("--crop", type=int, help="view size after augmentation (paper 112)")
    g.add_argument("--resize", type=int, help="short side of the frames = size of the square crop x_i (paper 128)")
    g = p.add_argument_group("paper ablations (Tables 1-2, §4.1)")
    g.add_argument("--sc-blocks", type=_int_list, help="blocks with Spatial Contrast, e.g. 3,4,5 or '' for none")
    g.add_argument("--tc-blocks", type=_int_list, help="blocks with Temporal Contrast, e.g. 5")
    g.add_argument("--alpha", type=_float_list, help="SC weights for blocks 3,4,5 (paper 0.25,0.5,1)")
    g.add_argument("--beta", type=_float_list, help="TC weights for blocks 3,4,5 (paper 0.25,0.5,1)")
    g.add_argument("--temperature", type=float, help="contrast temperature τ (paper 0.07)")
    g.add_argument("--proj-dim", type=int, help="projection width (paper 128)")
    for flag, field in [
        ("--no-color-jitter", "color_jitter"),
        ("--no-channel-replication", "channel_replication"),
        ("--no-flip", "flip"),
        ("--no-scale-jitter", "scale_jitter"),
        ("--no-tc-spatial-aug", "tc_spatial_aug"),
    ]:
        g.add_argument(flag, dest=field, action="store_false", default=None, help=f"turn off {field.replace('_', ' ')}")
    _add_augmentation_flags(p)
    g = p.add_argument_group("reproducibility, speed and devices")
    g.add_argument("--seed", type=int, help="random seed (data and initialisation)")
    g.add_argument("--deterministic", action="store_true", default=None, help="deterministic ops (exact resume)")
    g.add_argument("--mixed-precision", action="store_true", default=None, help="mixed_float16 compute (GPUs)")
    g.add_argument("--jit-compile", action="store_true", default=None, help="XLA (GPUs; slow on CPU)")
    g.add_argument("--remat", type=parse_remat, help="backbone blocks recomputed in the backward pass to save memory: "
                   "none (default), all, or e.g. block2,block3 (same losses, slower steps)")
    g.add_argument("--steps-per-execution", type=int, help="train steps per tf.function call")
    g.add_argument("--strategy", choices=("auto", "one", "mirrored", "multiworker"), help="tf.distribute strategy")
    g.add_argument("--cpu-devices", type=int, help="split the CPU into N logical devices")
    cli.add_verbose_flag(g)
    return p


def config_from_args(argv=None, parser=None, reach=True):
    """Parse flags into a validated TrainConfig: defaults < preset < flags.

    ``parser``: ``build_parser()`` by default, or a parser that extends it with flags of
    its own (``preview.py``); those are not config fields and are left out.
    ``reach``: check that the clip reaches the backbone's block5 (``TrainConfig.validate``).
    """
    parser = parser or build_parser()
    args = vars(parser.parse_args(argv))
    data = args.get("data") or DEFAULTS.data
    preset = args.pop("preset") or ("demo" if data == "synthetic" else "paper")
    method = args.pop("method") or "hdc"
    backbone = args.get("backbone") or DEFAULTS.backbone
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    flags = {k: v for k, v in args.items() if v is not None and k in fields}
    values = {**preset_values(preset, backbone, method), **flags}
    config = TrainConfig(**values)
    try:
        config.validate(reach)
    except ValueError as error:
        parser.error(str(error))
    return config, preset


def main(argv=None):
    parser = build_parser()
    verbose = parser.parse_args(argv).verbose
    config, preset = config_from_args(argv, parser)
    if config.deterministic:
        # oneDNN's CPU kernels may reduce in an order that depends on thread
        # scheduling (last-bit differences under load); TensorFlow's own
        # kernels honour op determinism. Must be set before TF is imported.
        os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    cli.start_tensorflow(verbose)
    from hdc import pretrain

    print(f"Pretraining ({', '.join(config.objectives)}), preset '{preset}':\n{pretrain.describe(config)}")
    try:
        pretrain.pretrain(config)
    except pretrain.UsageError as error:
        return cli.fail(error)
    except pretrain.NonFiniteLoss as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The synthetic-motion quality benchmark: every method side by side, over seeds.

Pretrains one backbone on the large built-in synthetic dataset (16 classes =
4 shapes x 4 motions, ``data.synthetic``) with the same clip shape, batch,
optimiser and number of steps for each variant (``VARIANTS``): HDC and
its Table 1 ablations (SC/TC at block 5 only), videoSimCLR, videoMoCo v2,
time-equivariant contrast, multi-level feature optimisation, HDC combined with
each of the last two, and random initialisation (the seeded weights, no pretraining). Each method
keeps its own objective, views and augmentation (``hdc.config.METHODS``) but
shares the optimiser and budget, so the rows differ only in what is learned.

Every variant runs once per seed of ``--seeds`` (default 0, 1, 2): the seed sets
the initialisation, the data order and the linear probe; random init is
evaluated at the same seeds, one seeded initialisation each.

Then, for the pooled features of blocks 3, 4 and 5, held-out kNN retrieval
(test videos query the train gallery, cosine, top-1/top-5; VCOP protocol,
``hdc.evaluation.metrics``) and a linear probe (``hdc.evaluation.linear_probe``).
Per-video features average ``--clips-per-video`` evenly spaced clips of the
10 VCOP retrieval clips (centre crop), to fit a CPU budget. The report gives
each metric's mean, sample standard deviation (ddof=1; none for one seed)
and per-seed values; ``--plot`` draws the block-5 means with std error bars.

    python -m benchmarks.quality --json quality.json   # all 13 variants x 3 seeds: ~4-5 h on 2 cores

Budget: 600 pretraining steps per run, which keeps HDC over three seeds at
~17 min on 2 CPU cores (326 s of pretraining and ~20 s of evaluation per
seed). Fewer steps leave too little signal on this dataset: at 300 steps HDC's
block-5 kNN top-1 was 10.6% (seed 0) against random init's 8.9 ± 1.8%, where
600 steps give about 22%. Variants with heavier steps take longer (hdc+te
1.4 s, hdc+mlfo 2.1 s per step: ~45 and ~65 min over three seeds);
``--variants`` runs a subset and finished runs are reused.

Each run directory (``--out``/<variant>/seed<k>) holds train.py's outputs
and ``quality.json``; a re-run resumes pretraining and reuses finished results
with the same settings (seed included).
"""

import argparse
import csv
import dataclasses
import json
import os
import sys
import time

import numpy as np

import cli

def _method(name, **overrides):
    """A method's settings from hdc.config.METHODS without its optimiser (the budget is shared)."""
    from hdc.config import METHODS

    shared = {"optimizer", "lr", "momentum", "weight_decay", "schedule", "lr_milestones"}
    return {**{k: v for k, v in METHODS[name].items() if k not in shared}, **overrides}


# variant: (description, TrainConfig fields) — None: random initialisation, no pretraining.
# HDC Table 1 rows keep α, β = (0.25, 0.5, 1), which is 1 at block 5.
VARIANTS = {
    "hdc": ("HDC: SC + TC at blocks 3, 4, 5, α = β = (0.25, 0.5, 1) (Eq. 6)", {}),
    "sc_tc_5": ("HDC Table 1: SC + TC at block 5", dict(sc_blocks=(5,), tc_blocks=(5,))),
    "sc_5": ("HDC Table 1: SC at block 5", dict(sc_blocks=(5,), tc_blocks=())),
    "tc_5": ("HDC Table 1: TC at block 5", dict(sc_blocks=(), tc_blocks=(5,))),
    # 640 training videos, batch 16: K = 256 keeps the queue below the dataset (thesis §5.5 sizes K by the
    # dataset); m = 0.99 because 600 steps at 0.999 would leave 0.999^600 = 55% of the key encoder's
    # initialisation in it.
    "simclr": ("videoSimCLR: NT-Xent τ 0.5, MLP 512-256, shift ±8, thesis augmentation", lambda: _method("simclr")),
    "moco": ("videoMoCo v2: queue 256, m 0.99, MLP head, MoCo v2 augmentation",
             lambda: _method("moco", moco_queue_size=256, moco_momentum=0.99)),
    # The thesis' crop keeps 8-100% of the frame; on these 64-px frames with one small object a crop
    # often misses the object. The same two methods with HDC's family (crop area 30-100%):
    "simclr_hdc_aug": ("videoSimCLR with HDC's spatial family", lambda: _method("simclr", pair_augment="hdc")),
    "moco_hdc_aug": ("videoMoCo v2 with HDC's spatial family",
                     lambda: _method("moco", moco_queue_size=256, moco_momentum=0.99, pair_augment="hdc")),
    "te": ("time-equivariant: L_equi + speed/direction/order heads + L_inst (Table 1 o)", lambda: _method("te")),
    "hdc+te": ("HDC + time-equivariant, weights 1, 1", lambda: _method("te", objectives=("hdc", "te"))),
    # K = 128 prototypes and a 256-row score queue for 640 videos of 16 classes (the paper: 1000 and 1024 for
    # Kinetics-400); at 8 frames the temporal terms sit at C3D's block 3 (4 time steps).
    "mlfo": ("multi-level: L_ins + L_sem, graph L_mul at blocks 3-4, L_aug + L_ret, two stages",
             lambda: _method("mlfo", mlfo_prototypes=128, mlfo_queue_size=256)),
    "hdc+mlfo": ("HDC + multi-level, weights 1, 1",
                 lambda: _method("mlfo", objectives=("hdc", "mlfo"), mlfo_prototypes=128, mlfo_queue_size=256)),
    "random_init": ("no pretraining (the same seeded initialisation)", None),
}
BLOCKS = ("block3", "block4", "block5")
METRICS = ("top1", "top5", "linear_top1")  # kNN top-1, kNN top-5, linear probe top-1
RETRIEVAL_CLIPS = 10  # clips per video of data.pipelines' "retrieval" mode


@dataclasses.dataclass
class QualitySettings:
    backbone: str = "c3d"
    width_multiplier: float = 0.25  # channels of every layer x 0.25: the paper's layout at CPU cost
    frames: int = 8
    crop: int = 64  # block 5 is 1x4x4: instance norm + pooling over fewer positions (48 px: 3x3) loses it
    resize: int = 64  # the stored short side: views and the test crop see the whole frame
    batch_size: int = 16
    steps: int = 600  # pretraining steps per run (module docstring: the budget)
    optimizer: str = "adam"
    lr: float = 1e-3
    schedule: str = "inverse-time"
    seed: int = 0  # of one run: initialisation, data order, linear probe (--seeds lists the runs)
    dataset: str = "large"  # synthetic dataset size
    clips_per_video: int = 1  # of the 10 retrieval clips, evenly spaced
    probe_epochs: int = 200

    def validate(self):
        for name in ("frames", "crop", "resize", "batch_size", "steps", "probe_epochs"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be >= 1, received {getattr(self, name)}")
        if not 1 <= self.clips_per_video <= RETRIEVAL_CLIPS:
            raise ValueError(f"--clips-per-video must be in 1..{RETRIEVAL_CLIPS}, received {self.clips_per_video}")
        if self.width_multiplier <= 0:
            raise ValueError(f"--width-multiplier must be > 0, received {self.width_multiplier}")
        if self.lr <= 0:
            raise ValueError(f"--lr must be > 0, received {self.lr}")
        return self


def run_dir(settings, variant, out):
    """OUT/<variant>/seed<k>: train.py's outputs and quality.json of one (variant, seed) run."""
    return os.path.join(out, variant, f"seed{settings.seed}")


def train_config(settings, variant, out):
    """The TrainConfig of one pretrained variant (everything else: paper defaults)."""
    from hdc.config import TrainConfig

    fields = VARIANTS[variant][1]
    fields = fields() if callable(fields) else fields
    # Up to 5 evenly spaced loss readings (one per "epoch" of the run).
    epochs = max(d for d in range(1, 6) if settings.steps % d == 0)
    return TrainConfig(
        **fields,
        backbone=settings.backbone,
        width_multiplier=settings.width_multiplier,
        data="synthetic",
        synthetic_size=settings.dataset,
        frames=settings.frames,
        crop=settings.crop,
        resize=settings.resize,
        batch_size=settings.batch_size,
        epochs=epochs,
        steps_per_epoch=settings.steps // epochs,
        optimizer=settings.optimizer,
        lr=settings.lr,
        schedule=settings.schedule,
        seed=settings.seed,
        checkpoint_every=settings.steps // epochs,
        out=run_dir(settings, variant, out),
    )


def loss_curve(run_dir):
    """The per-epoch objective (the weighted objectives without L2) from the run's metrics.csv."""
    with open(os.path.join(run_dir, "metrics.csv"), newline="", encoding="utf-8") as f:
        return [round(float(row["objective"]), 4) for row in csv.DictReader(f)]


def pretrain_variant(settings, variant, out):
    from hdc import pretrain

    config = train_config(settings, variant, out)
    start = time.time()
    try:
        pretrain.pretrain(config, verbose=2)
    except pretrain.NonFiniteLoss as error:
        return None, {"error": str(error)}
    curve = loss_curve(config.out)
    return config.out, {"steps": settings.steps, "seconds": round(time.time() - start, 1), "objective": curve}


def block_features(settings, source, root, split):
    """Per-video means of the pooled block 3-5 features: {block: (N, C)}, labels."""
    import keras
    import tensorflow as tf

    from data.pipelines import ClipSpec, count_records, video_clips_dataset
    from data.records import shard_files
    from hdc.evaluation.encoders import load_backbone
    from hdc.evaluation.features import per_video_means, pooled_feature, to_unit_range

    clip_shape = (settings.frames, settings.crop, settings.crop, 3)
    backbone = load_backbone(source, clip_shape)
    inputs = keras.Input(clip_shape, dtype="uint8", name="clips")
    taps = backbone(to_unit_range(inputs))
    model = keras.Model(inputs, keras.layers.Concatenate()([pooled_feature(taps, b) for b in BLOCKS]))
    widths = np.cumsum([taps[b].shape[-1] for b in BLOCKS])[:-1]

    files = shard_files(root, split)
    spec = ClipSpec(frames=settings.frames, sample_size=settings.resize, crop=settings.crop)
    k = settings.clips_per_video
    keep = tf.constant([round((i + 0.5) * RETRIEVAL_CLIPS / k - 0.5) for i in range(k)])
    videos = video_clips_dataset(files, spec, mode="retrieval").map(lambda v: dict(v, clips=tf.gather(v["clips"], keep)))
    means = per_video_means(
        lambda clips: model.predict_on_batch(clips), videos, 32, total=count_records(files), desc=split
    )
    return dict(zip(BLOCKS, np.split(means["outputs"], widths, axis=1))), means["labels"]


def evaluate_variant(settings, source, root):
    """kNN retrieval top-1/top-5 and linear-probe top-1 for each block."""
    from hdc.evaluation.datasets import num_classes
    from hdc.evaluation.linear_probe import train_linear_probe
    from hdc.evaluation.metrics import classification_topk, topk_hits

    train, train_labels = block_features(settings, source, root, "train")
    test, test_labels = block_features(settings, source, root, "test")
    classes = num_classes(root, train_labels)
    blocks = {}
    for block in BLOCKS:
        knn = topk_hits(test[block], test_labels, train[block], train_labels, ks=(1, 5))
        probe = train_linear_probe(
            train[block], train_labels, classes, epochs=settings.probe_epochs, seed=settings.seed
        )
        linear = classification_topk(probe.predict(test[block], verbose=0), test_labels, ks=(1,))
        blocks[block] = {"top1": knn["top1"], "top5": knn["top5"], "linear_top1": linear["top1"]}
    return blocks


def run_variant(settings, variant, out, root):
    """Pretrain (unless random init) and evaluate one variant at settings.seed; cached in its run_dir."""
    import keras

    from hdc.evaluation.encoders import EncoderSource

    cache = os.path.join(run_dir(settings, variant, out), "quality.json")
    if os.path.exists(cache):
        with open(cache, encoding="utf-8") as f:
            cached = json.load(f)
        if cached.get("settings") == dataclasses.asdict(settings):
            print(f"{variant} seed {settings.seed}: reusing {cache}")
            return cached["result"]
    result = {}
    if VARIANTS[variant][1] is None:
        source = EncoderSource(
            random_init=True,
            backbone=settings.backbone,
            seed=settings.seed,
            width_multiplier=settings.width_multiplier,
        )
    else:
        trained, result["pretrain"] = pretrain_variant(settings, variant, out)
        if trained is None:
            error = result["pretrain"]["error"]
            print(f"{variant} seed {settings.seed}: pretraining failed: {error}", file=sys.stderr)
            return result
        source = EncoderSource(run=trained)
    start = time.time()
    result["blocks"] = evaluate_variant(settings, source, root)
    result["eval_seconds"] = round(time.time() - start, 1)
    result.update(result["blocks"]["block5"])  # headline: block 5, the encoder's output
    result["best_knn_block"] = max(BLOCKS, key=lambda b: result["blocks"][b]["top1"])
    keras.backend.clear_session()
    write_json(cache, {"settings": dataclasses.asdict(settings), "result": result})
    return result


def write_json(path, value):
    from data.files import write_text

    write_text(path, json.dumps(value, indent=2))


def aggregate(runs):
    """One variant over its seeds' runs ({"seed<k>": run_variant's result}): per block and metric the
    per-seed values (None where pretraining failed), their mean and sample std (ddof=1; None below
    two values); block 5 also at the top, as the headline; the runs under "seeds"."""
    blocks = {}
    for block in BLOCKS:
        blocks[block] = {}
        for metric in METRICS:
            values = [run["blocks"][block][metric] if "blocks" in run else None for run in runs.values()]
            done = [v for v in values if v is not None]
            blocks[block][metric] = {
                "mean": float(np.mean(done)) if done else None,
                "std": float(np.std(done, ddof=1)) if len(done) > 1 else None,
                "per_seed": values,
            }
    return {**blocks["block5"], "blocks": blocks, "seeds": runs}


def _pct(x):
    return "-" if x is None else f"{100 * x:.1f}"


def _cell(stats):
    """"mean ± std" in percent; "-" for what is missing."""
    return "-" if stats["mean"] is None else f"{_pct(stats['mean'])} ± {_pct(stats['std'])}"


def markdown_table(variants):
    """Block-5 features per variant, then every block: mean ± std over the seeds (aggregate's output)."""
    lines = ["| variant | what it trains | kNN top-1 | kNN top-5 | linear top-1 |", "| --- | --- | --- | --- | --- |"]
    for name, result in variants.items():
        cells = [name, VARIANTS[name][0]] + [_cell(result[k]) for k in METRICS]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "| variant | " + " | ".join(f"{b} kNN@1 / @5 / linear" for b in BLOCKS) + " |"]
    lines.append("| --- |" + " --- |" * len(BLOCKS))
    for name, result in variants.items():
        row = [name] + [" / ".join(_cell(result["blocks"][b][k]) for k in METRICS) for b in BLOCKS]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def plot_quality(path, variants, seeds):
    """Bar chart PNG: per variant, block-5 kNN top-1 and linear top-1 means (%) with std error bars."""
    from hdc.evaluation.reports import _pyplot, _save_figure

    plt = _pyplot()
    x = np.arange(len(variants))
    fig, ax = plt.subplots(figsize=(max(6.0, 0.8 * len(variants)), 4))
    for i, (metric, label) in enumerate((("top1", "kNN top-1"), ("linear_top1", "linear top-1"))):
        stats = [result[metric] for result in variants.values()]  # None (no value) -> nan: no bar
        mean, std = (100 * np.array([s[key] for s in stats], dtype=float) for key in ("mean", "std"))
        ax.bar(x + 0.4 * (i - 0.5), mean, 0.4, yerr=std, capsize=3, label=label)
    ax.set_xticks(x, list(variants), rotation=45, ha="right")
    ax.set_ylabel("block-5 accuracy (%)")
    ax.set_title(f"mean ± std over seeds {', '.join(map(str, seeds))}")
    ax.grid(axis="y", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return _save_figure(fig, path)


def load_average():
    return [round(x, 2) for x in os.getloadavg()]


def seed_list(text):
    """--seeds: distinct non-negative integers, comma-separated ("0,1,2" -> [0, 1, 2])."""
    try:
        seeds = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers like 0,1,2, received {text!r}") from None
    if min(seeds) < 0 or len(set(seeds)) < len(seeds):
        raise argparse.ArgumentTypeError(f"expected distinct seeds >= 0, received {text!r}")
    return seeds


def build_parser():
    d = QualitySettings()
    p = cli.ArgumentParser(
        prog="python -m benchmarks.quality",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--backbone", default=d.backbone, choices=("c3d", "r3d18", "r2plus1d10"), help="encoder")
    p.add_argument("--width-multiplier", type=float, default=d.width_multiplier, help="backbone channel scale")
    p.add_argument("--frames", type=int, default=d.frames, help="frames per clip")
    p.add_argument("--crop", type=int, default=d.crop, help="network input size (view crop; centre crop at test)")
    p.add_argument("--resize", type=int, default=d.resize, help="side of the sample square the views are cut from")
    p.add_argument("--batch-size", type=int, default=d.batch_size, help="pretraining batch (videos)")
    p.add_argument("--steps", type=int, default=d.steps, help="pretraining steps per run")
    p.add_argument("--optimizer", default=d.optimizer, choices=("sgd", "adam"), help="pretraining optimiser")
    p.add_argument("--lr", type=float, default=d.lr, help="learning rate (SGD: momentum 0.9)")
    p.add_argument("--schedule", default=d.schedule, choices=("inverse-time", "cosine"), help="lr schedule")
    p.add_argument(
        "--seeds", type=seed_list, default="0,1,2", help="one run per seed (initialisation, data order, probes)"
    )
    p.add_argument("--dataset", default=d.dataset, choices=("small", "large"), help="synthetic dataset size")
    p.add_argument("--clips-per-video", type=int, default=d.clips_per_video, help="evaluation clips per video (1-10)")
    p.add_argument("--probe-epochs", type=int, default=d.probe_epochs, help="linear-probe epochs (Adam)")
    p.add_argument(
        "--variants", default=",".join(VARIANTS), help=f"comma-separated subset of {', '.join(VARIANTS)}"
    )
    p.add_argument("--out", default="runs/quality", help="directory of the runs (<variant>/seed<k>)")
    p.add_argument("--json", help="write the results to this JSON file")
    p.add_argument("--plot", help="write the bar chart to this PNG; None: --json's path with .png, if given")
    cli.add_verbose_flag(p)
    return p


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown or not variants:
        parser.error(f"--variants must name some of {', '.join(VARIANTS)}, received {args.variants!r}")
    fields = {f.name for f in dataclasses.fields(QualitySettings)}
    settings = QualitySettings(**{k: v for k, v in vars(args).items() if k in fields})
    try:
        settings.validate()
        for variant in variants:  # every run's settings, before the first run writes anything
            if VARIANTS[variant][1] is not None:
                train_config(settings, variant, args.out).validate()
    except ValueError as error:
        parser.error(str(error))
    cli.start_tensorflow(args.verbose)

    from data.synthetic import ensure_dataset
    from hdc.distribute import configure_cpu_threads

    configure_cpu_threads()  # also for the evaluation, which runs before any pretraining
    start, load_before = time.time(), load_average()
    root = ensure_dataset(settings.dataset, seed=0)
    results = {}
    for variant in variants:
        runs = {}
        for seed in args.seeds:
            print(f"=== {variant}, seed {seed} ===", flush=True)
            runs[f"seed{seed}"] = run_variant(dataclasses.replace(settings, seed=seed), variant, args.out, root)
        results[variant] = aggregate(runs)
    shared = {k: v for k, v in dataclasses.asdict(settings).items() if k != "seed"}
    report = {
        "variants": results,
        "settings": dict(
            shared,
            seeds=args.seeds,
            dataset_root=root,
            headline="block5 features; per-block numbers under 'blocks'; each run's details under 'seeds'",
            spread="mean and sample std (ddof=1) over the seeds; per_seed: None where pretraining failed",
            knn="test videos query train videos, cosine, hit if a same-class video is among the k nearest",
            linear_probe="standardised features, one softmax Dense layer, Adam 1e-3",
        ),
        "wall_seconds": round(time.time() - start, 1),
        "load_average_1_5_15": {"start": load_before, "end": load_average()},
    }
    table = markdown_table(results)
    print(table)
    print(f"wall time {report['wall_seconds'] / 60:.1f} min; load average {load_before} -> {load_average()}")
    if args.json:
        write_json(args.json, report)
        print(f"wrote {args.json}")
    plot = args.plot or (args.json and os.path.splitext(args.json)[0] + ".png")
    if plot:
        print(f"wrote {plot_quality(plot, results, args.seeds)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

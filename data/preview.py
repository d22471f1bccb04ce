"""``python -m data.preview``: the views and labels a training run feeds the model, as files.

    python -m data.preview --data synthetic --objectives hdc --batch-size 4 --out preview/
    python -m data.preview --data DIR --recipes pair,te,long --pair-transform shuffle --out preview/

Every flag of ``train.py`` works here and means the same (one parser, one
``TrainConfig``, the same preset rules), plus ``--recipes``. The first batch comes
from the training code path itself: ``hdc.pretrain.view_recipes`` and
``hdc.pretrain.pretrain_dataset`` (so ``data.pipelines.pretrain_dataset``), unpacked
with ``hdc.packing.unpack``. What is previewed:

- ``--objectives NAMES`` (default: the config's): the views, raw views and labels of
  ``hdc.families.build_objective``, i.e. the layout train.py's model reads;
- ``--recipes NAMES`` (hdc, pair, te, long): every view and label of those recipes,
  whether or not an objective reads them yet.

Written to ``--out`` (each file under a temporary name, then renamed):

- ``views.npz``: ``view_<name>`` uint8 (B, T', H, W, 3) per view and ``label_<name>``
  int32 (B,) or (B, L) per label;
- ``views.png``: one row per example, one column per view showing a few of its frames
  (their positions in the view above each), the example's labels at the row's left.
"""

import os
import sys

import numpy as np

import cli
import train
from data.files import atomic_write

SHOWN_FRAMES = 4  # frames drawn per view, evenly spaced


def build_parser():
    parser = train.build_parser()
    parser.prog = "python -m data.preview"
    parser.description = __doc__
    group = parser.add_argument_group("preview")
    group.add_argument(
        "--recipes",
        type=lambda text: tuple(v.strip() for v in text.split(",") if v.strip()),
        help="comma list of view recipes to preview instead of --objectives: hdc, pair, te, long",
    )
    return parser


def _layout(config, names, all_recipes):
    """The layout to preview: the named recipes' outputs, or the objectives' inputs."""
    from data import recipes
    from hdc import families, packing

    clip_shape = (config.frames, config.crop, config.crop, 3)
    if names is not None:
        known = [recipe.name for recipe in all_recipes]
        unknown = [name for name in names if name not in known]
        if not names or unknown:
            raise ValueError(f"--recipes: unknown recipe name(s) {unknown or list(names)}; known: {known}")
        return recipes.full_layout([r for r in all_recipes if r.name in names], clip_shape)
    objective = families.build_objective(config)
    return packing.make_layout(objective.input_views, objective.labels, clip_shape, objective.view_frames)


def _label_text(labels, row):
    parts = [f"{name}={np.asarray(value[row]).tolist()}" for name, value in labels.items()]
    return "\n".join(parts) if parts else "(no labels)"


def write_png(path, views, labels):
    """The grid of ``views`` ({name: (B, T', H, W, 3)}) with ``labels`` ({name: (B, ...)})."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    names = list(views)
    rows = len(next(iter(views.values())))
    figure, axes = plt.subplots(
        rows, len(names), figsize=(3.2 * len(names) + 2.0, 1.4 * rows + 0.6), squeeze=False
    )
    for row in range(rows):
        for column, name in enumerate(names):
            clip = views[name][row]
            shown = np.unique(np.linspace(0, len(clip) - 1, SHOWN_FRAMES).round().astype(int))
            gap = np.full((clip.shape[1], 2, 3), 255, np.uint8)
            strip = np.concatenate([part for t in shown for part in (clip[t], gap)][:-1], axis=1)
            axis = axes[row, column]
            axis.imshow(strip)
            axis.set_xticks([])
            axis.set_yticks([])
            axis.set_title(f"{name}  frames {', '.join(map(str, shown))} of {len(clip)}", fontsize=7)
            if column == 0:
                axis.set_ylabel(f"example {row}\n{_label_text(labels, row)}", fontsize=6, rotation=0,
                                ha="right", va="center")
    figure.tight_layout()
    atomic_write(path, lambda tmp: figure.savefig(tmp, format="png", dpi=100))
    plt.close(figure)


def write_npz(path, views, labels):
    arrays = {f"view_{k}": v for k, v in views.items()}
    arrays.update({f"label_{k}": v for k, v in labels.items()})

    def write(tmp):
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)

    atomic_write(path, write)


def preview(config, recipe_names=None):
    """Write ``views.npz`` and ``views.png`` of the first training batch to ``config.out``;
    return ({view: uint8 array}, {label: int32 array}). ``recipe_names``: preview those
    recipes' outputs (None: the objectives' inputs). Bad settings raise ValueError."""
    from hdc import packing, pretrain

    all_recipes = pretrain.view_recipes(config)
    layout = _layout(config, recipe_names, all_recipes)
    files, num_videos = pretrain.training_files(config)
    dataset = pretrain.pretrain_dataset(config, layout, files, num_videos, 0)
    views, labels = packing.unpack(next(iter(dataset)), layout)
    views = {k: np.asarray(v) for k, v in views.items()}
    labels = {k: np.asarray(v) for k, v in labels.items()}
    os.makedirs(config.out, exist_ok=True)
    write_npz(os.path.join(config.out, "views.npz"), views, labels)
    write_png(os.path.join(config.out, "views.png"), views, labels)
    return views, labels


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.recipes is not None and args.objectives is not None:
        parser.error("give either --objectives or --recipes, not both")
    if args.out is None:
        parser.error("--out DIR is required: the folder for views.npz and views.png")
    config, _ = train.config_from_args(argv, parser, reach=False)
    cli.start_tensorflow(args.verbose)
    try:
        views, labels = preview(config, args.recipes)
    except ValueError as error:
        parser.error(str(error))
    for name, value in {**views, **labels}.items():
        print(f"{name}: {value.dtype} {value.shape}")
    print(f"wrote {os.path.join(config.out, 'views.npz')} and {os.path.join(config.out, 'views.png')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

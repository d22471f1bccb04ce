"""``python preview.py``: the views and labels a training run feeds the model, as files.

    python preview.py --data synthetic --objectives hdc --batch-size 4 --out preview/
    python preview.py --data DIR --recipes pair,te,long --pair-transform shuffle --out preview/

A program beside ``train.py`` (it reads train.py's flags and builds the model's layout
from the objectives, so it cannot live in the data layer, which imports neither).

Every flag of ``train.py`` works here and means the same (one parser, one
``TrainConfig``, the same preset rules), plus ``--recipes``. The first batch comes
from the training code path itself: ``hdc.pretrain.view_recipes`` and
``hdc.pretrain.pretrain_dataset`` (so ``data.pipelines.pretrain_dataset``), unpacked
with ``data.packing.unpack``. What is previewed:

- ``--objectives NAMES`` (default: the config's): the views, raw views and labels of
  ``hdc.families.build_objective``, i.e. the layout train.py's model reads;
- ``--recipes NAMES`` (hdc, pair, te, long): every view and label of those recipes,
  whether or not an objective reads them yet.

Written to ``--out`` (each file under a temporary name, then renamed):

- ``views.npz``: ``view_<name>`` uint8 (B, T', H, W, 3) per view and ``label_<name>``
  int32 (B,) or (B, L) per label;
- ``views.png``: one row per example and view showing a few of its frames (their
  positions in the view on each), the example's labels beside its rows; 800 px wide.
"""

import os
import sys
import textwrap

import numpy as np

import cli
import train
from data.files import atomic_write

SHOWN_FRAMES = 4  # frames drawn per view, evenly spaced


def build_parser():
    parser = train.build_parser()
    parser.prog = "python preview.py"
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
    from data import packing, recipes
    from hdc import families

    clip_shape = (config.frames, config.crop, config.crop, 3)
    if names is not None:
        known = [recipe.name for recipe in all_recipes]
        unknown = [name for name in names if name not in known]
        if not names or unknown:
            raise ValueError(f"--recipes: unknown recipe name(s) {unknown or list(names)}; known: {known}")
        return recipes.full_layout([r for r in all_recipes if r.name in names], clip_shape)
    objective = families.build_objective(config)
    return packing.make_layout(objective.input_views, objective.labels, clip_shape, objective.view_frames)


def _label_lines(labels, row, width=26):
    lines = [f"{name} = {np.asarray(value[row]).tolist()}" for name, value in labels.items()]
    return [part for line in lines for part in textwrap.wrap(line, width, subsequent_indent="    ")]


def write_png(path, views, labels):
    """The grid of ``views`` ({name: (B, T', H, W, 3)}) with ``labels`` ({name: (B, ...)}):
    one row per example and view, ``SHOWN_FRAMES`` frames each, the example's labels
    beside its rows; 800 px wide (8 in at 100 dpi), so it reads at page width."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    names = list(views)
    examples = len(next(iter(views.values())))
    ratios = []  # per example: one row per view, then a thin gap
    for _ in range(examples):
        ratios += [1.0] * len(names) + [0.15]
    widths = [1.9, 0.5] + [1.0] * SHOWN_FRAMES  # label text, view name, frames
    row_inches = 1.08 * 8.0 / sum(widths)  # square frames plus the gaps between rows
    figure = plt.figure(figsize=(8.0, row_inches * sum(ratios[:-1])))
    grid = figure.add_gridspec(len(ratios) - 1, len(widths), height_ratios=ratios[:-1], width_ratios=widths,
                               wspace=0.04, hspace=0.06, left=0.01, right=0.99, top=0.995, bottom=0.005)
    for example in range(examples):
        first = example * (len(names) + 1)
        text = figure.add_subplot(grid[first : first + len(names), 0])
        text.axis("off")
        text.text(0.0, 1.0, f"example {example}", va="top", ha="left", fontsize=10, weight="bold")
        lines = _label_lines(labels, example) or ["(no labels)"]
        text.annotate("\n".join(lines), (0.0, 1.0), xycoords="axes fraction", xytext=(0, -18),
                      textcoords="offset points", va="top", ha="left", fontsize=8, family="monospace")
        for offset, name in enumerate(names):
            clip = views[name][example]
            shown = np.unique(np.linspace(0, len(clip) - 1, SHOWN_FRAMES).round().astype(int))
            label = figure.add_subplot(grid[first + offset, 1])
            label.axis("off")
            label.text(0.95, 0.5, f"{name}\n{len(clip)} fr.", ha="right", va="center", fontsize=9)
            for column, t in enumerate(shown):
                axis = figure.add_subplot(grid[first + offset, 2 + column])
                axis.imshow(clip[t])
                axis.set_xticks([])
                axis.set_yticks([])
                axis.text(2, 2, f"t={t}", va="top", fontsize=7, color="white",
                          bbox={"facecolor": "black", "alpha": 0.6, "pad": 1, "linewidth": 0})  # fmt: skip
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
    from data import packing
    from hdc import pretrain

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

"""Evaluation outputs: JSON and npz files (written atomically), markdown
tables, and PNG pictures (retrieval grid like HDC Fig. 1/4, training curves)."""

import json
import os

import numpy as np

from data.files import atomic_write


def write_json(path, obj):
    def write(tmp):
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(obj, f, indent=2, sort_keys=True)
            f.write("\n")

    return atomic_write(path, write)


def write_text(path, text):
    def write(tmp):
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)

    return atomic_write(path, write)


def write_npz(path, **arrays):
    def write(tmp):
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)

    return atomic_write(path, write)


def markdown_table(header, rows):
    """A GitHub markdown table; floats in [0, 1] are shown as percentages."""

    def cell(v):
        if isinstance(v, float):
            return f"{100 * v:.1f}" if 0.0 <= v <= 1.0 else f"{v:.4g}"
        return str(v)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save_figure(fig, path):
    plt = _pyplot()
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=100))
    plt.close(fig)
    return path


def plot_retrieval_grid(path, query_images, query_names, neighbour_images, neighbour_names, correct):
    """One row per query: its thumbnail, then its nearest neighbours framed
    green (same label) or red (different label), as in HDC Fig. 1 and 4.

    ``query_images`` is a list of (H, W, 3) uint8; ``neighbour_images`` a list
    (per query) of lists; ``correct`` a (Q, K) boolean array.
    """
    plt = _pyplot()
    rows, cols = len(query_images), 1 + max(len(n) for n in neighbour_images)
    aspect = query_images[0].shape[1] / query_images[0].shape[0]
    fig, axes = plt.subplots(rows, cols, figsize=(1.2 * aspect * cols, 1.5 * rows), squeeze=False)
    for r in range(rows):
        panels = [(query_images[r], f"query: {query_names[r]}", "black")]
        panels += [
            (img, f"#{i + 1}: {name}", "green" if correct[r][i] else "red")
            for i, (img, name) in enumerate(zip(neighbour_images[r], neighbour_names[r]))
        ]
        for c, ax in enumerate(axes[r]):
            ax.set_xticks([])
            ax.set_yticks([])
            if c >= len(panels):
                ax.axis("off")
                continue
            img, title, colour = panels[c]
            ax.imshow(img)
            ax.set_title(title, fontsize=8, color=colour)
            for spine in ax.spines.values():
                spine.set_edgecolor(colour)
                spine.set_linewidth(4 if c else 1)
    fig.tight_layout()
    return _save_figure(fig, path)


def plot_training_curve(path, epochs, series, title):
    """Line plot of ``series`` ({name: values per epoch}) against ``epochs``."""
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator

    fig, axes = plt.subplots(1, len(series), figsize=(4 * len(series), 3), squeeze=False)
    for ax, (name, values) in zip(axes[0], series.items()):
        ax.plot(epochs, values, marker="o")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.set_title(name)
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    return _save_figure(fig, path)

"""The book's plotting theme (seaborn). Used by every study; applied only when called."""

from __future__ import annotations

from pathlib import Path

PALETTE = "colorblind"


def set_theme() -> None:
    """One look for every figure of the book: white grid, colour-blind palette, readable sizes."""
    import matplotlib as mpl
    import seaborn as sns

    sns.set_theme(style="whitegrid", palette=PALETTE, context="notebook")
    mpl.rcParams.update({"figure.dpi": 100, "savefig.dpi": 150, "savefig.bbox": "tight",
                         "axes.titleweight": "bold", "figure.figsize": (8, 4.5)})


def save(fig, directory: Path, name: str) -> Path:
    """Save ``fig`` as PNG under ``directory`` (the run's figures/ folder) and return the path."""
    path = Path(directory) / f"{name}.png"
    fig.savefig(path)
    return path


def model_palette(names) -> dict:
    """One fixed colour per model for all the figures of a chapter: the ``i``-th name of ``names``
    (in the order given, duplicates ignored) gets the ``i``-th colour of the book's palette, so
    passing the chapter's list of models gives the same model the same colour in every figure,
    whatever subset or order a figure shows."""
    import seaborn as sns

    unique = list(dict.fromkeys(names))
    colours = sns.color_palette(PALETTE, max(len(unique), 1))
    return {name: colours[i % len(colours)] for i, name in enumerate(unique)}

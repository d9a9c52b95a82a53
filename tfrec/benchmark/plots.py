"""The leaderboard's PNG plots, drawn with matplotlib's Agg canvas (headless).

* ``ranking_metrics.png``: one horizontal bar chart per top-N metric,
  error bars = the 95% bootstrap interval over users.
* ``rating_metrics.png``: the same for RMSE and MAE (rating models only).
* ``ndcg_at_k.png``: NDCG@K for K = 1..50 per model (mean over seeds).
* ``training_curves.png``: per model that trains by epochs (first seed),
  training loss and the validation metric it stops on, per epoch.
* ``popularity_bias.png``: the share of recommendations going to the most
  popular x% of the catalogue, against the training ratings and uniform;
  and the mean popularity of the recommended items.

Figures are made with :class:`matplotlib.figure.Figure`, not pyplot, so no
global state or display is touched.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np

from tfrec.benchmark.leaderboard import LABELS, RANKING, RATING


def write_plots(directory, board: dict) -> list[Path]:
    """Draws every plot that has data into ``directory``; returns the files written."""
    directory = Path(directory)
    written = [_save(_metric_bars(board["rows"], RANKING), directory / "ranking_metrics.png")]
    rating = [r for r in board["rows"] if r["rmse"] is not None]
    if rating:
        written.append(_save(_metric_bars(rating, RATING), directory / "rating_metrics.png"))
    written.append(_save(_ndcg_curves(board), directory / "ndcg_at_k.png"))
    if board["histories"]:
        written.append(
            _save(_training_curves(board["histories"]), directory / "training_curves.png")
        )
    written.append(_save(_popularity(board), directory / "popularity_bias.png"))
    return written


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def _save(figure, path: Path) -> Path:
    """Saves a PNG atomically (rendered in memory, then one rename)."""
    import os
    import tempfile

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(buffer.getvalue())
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return path


def _colours(names: list[str]) -> dict[str, tuple]:
    from matplotlib import colormaps

    palette = colormaps["tab20"]
    return {name: palette(i % 20) for i, name in enumerate(names)}


def _metric_bars(rows: list[dict], metrics) -> object:
    """One panel per metric: a bar per model with its interval over users."""
    columns = min(3, len(metrics))
    lines = math.ceil(len(metrics) / columns)
    height = max(2.5, 0.28 * len(rows) + 1.2)
    figure = _figure(4.2 * columns, height * lines)
    colours = _colours([r["model"] for r in rows])
    names = [r["model"] + (" ▼" if r.get("worse_than_best") else "") for r in rows]
    for index, metric in enumerate(metrics):
        axis = figure.add_subplot(lines, columns, index + 1)
        values = np.array([r[metric] for r in rows], dtype=float)
        low = np.array([_or_nan(r.get(f"{metric}_users_low")) for r in rows])
        high = np.array([_or_nan(r.get(f"{metric}_users_high")) for r in rows])
        errors = np.nan_to_num(np.vstack([values - low, high - values]), nan=0.0).clip(min=0)
        positions = np.arange(len(rows))[::-1]  # best on top
        axis.barh(
            positions, values, xerr=errors, color=[colours[r["model"]] for r in rows], capsize=2
        )
        axis.set_yticks(positions, names, fontsize=8)
        axis.set_title(
            LABELS[metric] + (" (lower is better)" if metric in RATING else ""), fontsize=10
        )
        axis.grid(axis="x", alpha=0.3)
    figure.suptitle(
        "95% bootstrap intervals over users; ▼ significantly worse than the best on NDCG@10",
        fontsize=9,
    )
    return figure


def _ndcg_curves(board: dict):
    figure = _figure(7, 4.5)
    axis = figure.add_subplot()
    names = [r["model"] for r in board["rows"]]
    colours = _colours(names)
    for name in names:
        curve = board["ndcg_curves"].get(name) or []
        axis.plot(np.arange(1, len(curve) + 1), curve, label=name, color=colours[name])
    axis.set_xlabel("K")
    axis.set_ylabel("NDCG@K (mean over users and seeds)")
    axis.axvline(10, color="grey", linestyle=":", linewidth=1)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=7, ncols=2)
    axis.set_title("NDCG@K, full ranking (dotted: K = 10)", fontsize=10)
    return figure


def _training_curves(histories: dict):
    names = list(histories)
    columns = min(3, len(names))
    lines = math.ceil(len(names) / columns)
    figure = _figure(4.2 * columns, 3.0 * lines)
    for index, name in enumerate(names):
        history, best = histories[name]["history"], histories[name]["best_epoch"]
        axis = figure.add_subplot(lines, columns, index + 1)
        epochs = np.arange(1, len(history) + 1)
        train_key = _first_key(history, ("loss", "train_rmse"))
        valid_key = _first_key(history, ("val_ndcg@10", "val_rmse", "val_loss"))
        if train_key:
            axis.plot(
                epochs, _series(history, train_key), color="tab:blue", label=f"train {train_key}"
            )
            axis.set_ylabel(train_key, color="tab:blue", fontsize=8)
        if valid_key:
            other = axis.twinx()
            other.plot(epochs, _series(history, valid_key), color="tab:orange", label=valid_key)
            other.set_ylabel(valid_key, color="tab:orange", fontsize=8)
        if best:
            axis.axvline(best, color="grey", linestyle=":", linewidth=1)
        axis.set_xlabel("epoch", fontsize=8)
        axis.set_title(f"{name} (best epoch {best})", fontsize=9)
    figure.suptitle("Training loss (blue) and validation metric (orange), first seed", fontsize=9)
    return figure


def _popularity(board: dict):
    popularity = board["popularity"]
    names = [r["model"] for r in board["rows"]]
    colours = _colours(names)
    figure = _figure(11, 4.5)
    left, right = figure.add_subplot(1, 2, 1), figure.add_subplot(1, 2, 2)
    x = np.asarray(popularity["x"])
    left.plot(x, x, color="grey", linestyle=":", label="uniform")
    left.plot(x, popularity["training"], color="black", linewidth=2, label="training ratings")
    for name in names:
        left.plot(x, popularity["models"][name]["curve"], color=colours[name], label=name)
    left.set_xlabel("most popular share of the catalogue")
    left.set_ylabel("share of top-10 recommendations")
    left.set_title("Recommendations by item popularity", fontsize=10)
    left.grid(alpha=0.3)
    left.legend(fontsize=7, ncols=2)
    means = [popularity["models"][n]["mean_popularity"] or 0.0 for n in names]
    positions = np.arange(len(names))[::-1]
    right.barh(positions, means, color=[colours[n] for n in names])
    right.axvline(
        popularity["catalogue_mean_popularity"],
        color="black",
        linestyle="--",
        label="catalogue mean",
    )
    right.set_yticks(positions, names, fontsize=8)
    right.set_xlabel("mean training ratings of the recommended items")
    right.set_title("Popularity of what is recommended", fontsize=10)
    right.legend(fontsize=7)
    right.grid(axis="x", alpha=0.3)
    return figure


def _first_key(history: list[dict], keys) -> str | None:
    return next((k for k in keys if any(e.get(k) is not None for e in history)), None)


def _series(history: list[dict], key: str) -> np.ndarray:
    return np.array([_or_nan(e.get(key)) for e in history], dtype=float)


def _or_nan(value) -> float:
    return float("nan") if value is None else float(value)

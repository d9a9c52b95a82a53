"""The leaderboard's files: ``leaderboard.md``, ``leaderboard.json``, ``leaderboard.csv``.

All three are written through :mod:`tfrec.io` (temporary file, then rename).
The JSON holds everything (settings, rows, every run, tuning, curves); the
CSV one row per model with every interval as its own column; the Markdown
the tables a reader wants, with the plots linked.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from tfrec.benchmark.leaderboard import COSTS, LABELS, MAIN, RANKING
from tfrec.io import write_json, write_text

PLOT_TITLES = {
    "ranking_metrics.png": "Top-N metrics",
    "rating_metrics.png": "Rating metrics",
    "ndcg_at_k.png": "NDCG@K, K = 1..50",
    "training_curves.png": "Training curves",
    "popularity_bias.png": "Popularity of the recommended items",
}

CANDIDATES = {  # who ranks what, per split
    "warm": "every training item but the user's training and validation items",
    "cold-items": "the test cold items, scored from their content alone",
    "cold-users": "every training item but the ones each new user brought (the first H of "
    "their interactions; the next 10 are relevant)",
}


def write_reports(directory, board: dict) -> list[Path]:
    """Writes the three leaderboard files into ``directory``; returns their paths."""
    directory = Path(directory)
    return [
        write_text(directory / "leaderboard.md", markdown(board)),
        write_json(directory / "leaderboard.json", board),
        write_text(directory / "leaderboard.csv", table(board).to_csv(index=False)),
    ]


def table(board: dict) -> pd.DataFrame:
    """One row per model, best first; lists and dicts as JSON text."""
    rows = [
        {k: json.dumps(v) if isinstance(v, list | dict) else v for k, v in row.items()}
        for row in board["rows"]
    ]
    return pd.DataFrame(rows)


def markdown(board: dict) -> str:
    """The leaderboard as Markdown."""
    s = board["settings"]
    rows = board["rows"]
    sizes = s["sizes"]
    lines = [
        f"# tfrec benchmark: {s['dataset']}, {s['split']} split, {len(s['seeds'])} seed(s)",
        "",
        "```bash",
        s["command"],
        "```",
        "",
        f"Train / validation / test ratings: {sizes['train']:,} / {sizes['validation']:,} / "
        f"{sizes['test']:,}; {rows[0]['n_users']:,} users ranked. Wall time "
        f"{board['wall_seconds'] / 60:.1f} min on {s['cpus']} CPUs (tfrec {s['tfrec_version']}).",
        "",
        "Each figure is the mean over seeds; `[low, high]` is its 95% bootstrap interval over "
        f"users ({s['n_boot']} resamples, seeded); `±x` is the half-width of the 95% "
        "t-interval over seeds (none for a model fitted once, whose fit has no seed). "
        f"Sorted by {LABELS[MAIN]}; **bold**: the best; ▼: significantly worse than the best "
        f"on {LABELS[MAIN]} (paired bootstrap over users, Holm-adjusted p < "
        f"{board['alpha']:g}).",
        "",
        "## Top-N, full ranking (K = 10)",
        "",
        f"Candidates: {CANDIDATES.get(s['split'], CANDIDATES['warm'])}. "
        "`rec. popularity`: mean training ratings of the recommended items (catalogue mean "
        f"{_number(board['popularity']['catalogue_mean_popularity'], 1)}).",
        "",
        "| # | model | "
        + " | ".join(LABELS[m] for m in RANKING)
        + f" | coverage@10 | rec. popularity | {LABELS[MAIN]} − best (p, Holm) |",
        "| " + " | ".join(["---"] * (len(RANKING) + 5)) + " |",
    ]
    for row in rows:
        cells = [str(row["rank"]), _model(row)]
        cells += [_metric(row, m, bold=row["rank"] == 1 and m == MAIN) for m in RANKING]
        cells += [_metric(row, "coverage@10"), _number(row["rec_popularity"], 1), _versus(row)]
        lines.append("| " + " | ".join(cells) + " |")

    rating = [r for r in rows if r["rmse"] is not None]
    if rating:
        best_rmse = min(r["rmse"] for r in rating)
        lines += [
            "",
            f"## Rating metrics ({rating[0]['n_rating_pairs']:,} test pairs whose user and "
            "item are in training)",
            "",
            "| model | RMSE | MAE |",
            "| --- | --- | --- |",
        ]
        for row in sorted(rating, key=lambda r: r["rmse"]):
            cells = [
                row["model"],
                _metric(row, "rmse", bold=row["rmse"] == best_rmse),
                _metric(row, "mae"),
            ]
            lines.append("| " + " | ".join(cells) + " |")

    lines += [
        "",
        "## Cost",
        "",
        "Train seconds: the fit alone (early stopping on validation included). Peak RSS: the "
        "fitting process (Python, data, model, evaluation; each fit runs in a process of its "
        "own). Export: the SavedModel's size on disk.",
        "",
        "| model | fits | train s | peak RSS MB | export MB | best epoch(s) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        epochs = ", ".join(str(e) for e in row["epochs"]) if row["epochs"] else "–"
        cells = [row["model"], str(row["fits"])] + [_metric(row, c, digits=1) for c in COSTS]
        lines.append("| " + " | ".join(cells + [epochs]) + " |")

    if board["tuning"]:
        lines += [
            "",
            "## Tuning (`--tune`: search on validation, first seed; test never read)",
            "",
            "| model | searched | chosen | validation NDCG@10 (chosen / default) |",
            "| --- | --- | --- | --- |",
        ]
        for name, tuned in board["tuning"].items():
            grid = "; ".join(f"{k} {v}" for k, v in tuned["grid"].items())
            chosen = next(p for p in tuned["points"] if p["config"] == tuned["chosen"])
            default = _default_point(tuned)
            scores = f"{chosen['validation']['ndcg@10']:.4f}"
            if default is not None:
                scores += f" / {default['validation']['ndcg@10']:.4f}"
            options = ", ".join(
                f"{k}={v}" for k, v in tuned["chosen"].items() if k in tuned["grid"]
            )
            lines.append(f"| {name} | {grid} | {options} | {scores} |")
    given = {k: v for k, v in s["configs"].items() if v}
    if given:
        lines += [
            "",
            "Options set by hand: " + "; ".join(f"{k} {json.dumps(v)}" for k, v in given.items()),
        ]

    if board.get("plots"):
        lines += ["", "## Plots", ""]
        for path in board["plots"]:
            title = PLOT_TITLES.get(Path(path).name, Path(path).stem)
            lines += [f"![{title}]({path})", ""]
    if board["notes"]:
        lines += ["", "## Notes", ""] + [f"- {note}" for note in board["notes"]]
    return "\n".join(lines).rstrip() + "\n"


def _default_point(tuned: dict):
    """The grid point whose searched options all equal the model's defaults, if known."""
    defaults = tuned.get("defaults")
    if not defaults:
        return None
    for point in tuned["points"]:
        if all(point["config"].get(k) == defaults.get(k) for k in tuned["grid"]):
            return point
    return None


def _model(row: dict) -> str:
    if row["rank"] == 1:
        return f"**{row['model']}**"
    return f"{row['model']} ▼" if row["worse_than_best"] else row["model"]


def _metric(row: dict, metric: str, bold: bool = False, digits: int = 4) -> str:
    value = row.get(metric)
    if value is None:
        return "–"
    text = f"**{value:.{digits}f}**" if bold else f"{value:.{digits}f}"
    low, high = row.get(f"{metric}_users_low"), row.get(f"{metric}_users_high")
    if low is not None and high is not None:
        text += f" [{low:.{digits}f}, {high:.{digits}f}]"
    low, high = row.get(f"{metric}_seeds_low"), row.get(f"{metric}_seeds_high")
    if low is not None and high is not None:
        text += f" ±{(high - low) / 2:.{digits}f}"
    return text


def _versus(row: dict) -> str:
    if row["rank"] == 1:
        return "best"
    diff = row.get(f"{MAIN}_vs_best")
    if diff is None:
        return "–"
    return f"{diff:+.4f} (p {_p(row['p_value'])}, {_p(row['p_holm'])})"


def _p(value) -> str:
    if value is None:
        return "–"
    return f"{value:.3f}" if value >= 0.001 else "<0.001"


def _number(value, digits: int) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"

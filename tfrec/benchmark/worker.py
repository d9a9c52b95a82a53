"""One benchmark job, run in a fresh process so that its peak memory is its own::

    python -m tfrec.benchmark.worker JOB_DIR

``JOB_DIR/job.json`` says what to do: ``fit`` one model with one seed (fit
on train, evaluate on test, rank the top 50, and, when ``export`` is true
(the first seed), export a SavedModel to measure its size), or ``tune`` one
model's options on validation. Results go to
``JOB_DIR/result.json`` (and ``result.npz``: per-user values); an exception
goes to ``JOB_DIR/error.json`` and the exit status is 1.
"""

from __future__ import annotations

import json
import math
import pickle
import resource
import shutil
import sys
import time
import traceback
from pathlib import Path

import numpy as np

CURVE_K = 50  # NDCG@K is reported for K = 1..CURVE_K
K = 10


def main(argv: list[str] | None = None) -> int:
    """Runs the job in the directory ``argv[0]``; 0 on success, 1 on an error."""
    job_dir = Path((argv if argv is not None else sys.argv[1:])[0])
    job = json.loads((job_dir / "job.json").read_text())
    try:
        with open(job["split"], "rb") as f:
            split = pickle.load(f)
        run = tune if job["kind"] == "tune" else fit_and_score
        result = run(job, split, job_dir)
    except Exception as e:  # reported to the parent, which carries on
        _write(
            job_dir / "error.json",
            {"error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc()},
        )
        return 1
    _write(job_dir / "result.json", result)
    return 0


def fit_and_score(job: dict, split, job_dir: Path) -> dict:
    """Fits one model with one seed on train and scores it on test."""
    from tfrec.benchmark.catalog import build_model
    from tfrec.evaluation import evaluate, ranked_top_k
    from tfrec.metrics import ndcg_curve

    model = build_model(job["model"], job["config"], job["seed"])
    started = time.perf_counter()
    model.fit(split, verbose=job["verbose"], log_dir=job.get("log_dir"))
    train_seconds = time.perf_counter() - started
    started = time.perf_counter()
    result = evaluate(model, split, k=K)
    top = ranked_top_k(model, split, k=CURVE_K)
    eval_seconds = time.perf_counter() - started
    peak_rss_mb = _peak_rss_mb()  # before the projector and export, which import TensorFlow
    if job.get("log_dir"):
        from tfrec.projector import write_model_projector

        write_model_projector(model, job["log_dir"], split.dataset.items)
    export_mb = None
    if job.get("export", True) and model.exportable:
        try:
            path = model.export(job_dir / "export")
            export_mb = sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6
        finally:
            shutil.rmtree(job_dir / "export", ignore_errors=True)

    first = top.items[:, :K]
    if split.cold_items is None:
        n_candidates, popularity = len(model.item_ids), model.popularity_
    else:  # cold items have no training popularity
        n_candidates = len(split.cold_items["test"])
        popularity = np.zeros(n_candidates)
    recommended = np.bincount(first[first >= 0], minlength=n_candidates)
    per_user = result.per_user
    arrays = {
        "user_ids": per_user["user_id"].to_numpy(np.int64),
        **{
            name: per_user[name].to_numpy(np.float64)
            for name in ("hr", "precision", "recall", "ndcg", "ap")
        },
        "recommended": recommended.astype(np.int64),
        "popularity": np.asarray(popularity, np.float64),
    }
    if result.rating_per_user is not None:
        rating = result.rating_per_user
        arrays.update(
            rating_user_ids=rating["user_id"].to_numpy(np.int64),
            rating_n=rating["n_pairs"].to_numpy(np.float64),
            rating_sse=rating["sse"].to_numpy(np.float64),
            rating_sae=rating["sae"].to_numpy(np.float64),
        )
    curve_users = np.searchsorted(top.user_ids, arrays["user_ids"])
    curve = ndcg_curve(top.hits, top.n_relevant)[curve_users]
    np.savez(job_dir / "result.npz", **arrays)
    return {
        "model": job["model"],
        "seed": job["seed"],
        "config": model.config.to_dict(),
        "metrics": result.to_dict(),
        "predicts_ratings": bool(model.predicts_ratings),
        "train_seconds": train_seconds,
        "eval_seconds": eval_seconds,
        "peak_rss_mb": peak_rss_mb,
        "export_mb": export_mb,
        "best_epoch": getattr(model, "best_epoch_", None),
        "history": _plain(getattr(model, "history_", None) or []),
        "ndcg_curve": curve.mean(axis=0).tolist() if len(curve) else [],
    }


def tune(job: dict, split, job_dir: Path) -> dict:
    """Searches the model's options on validation (:func:`tfrec.benchmark.tune.run`)."""
    from tfrec.benchmark.tune import run

    return run(job, split)


def _peak_rss_mb() -> float:
    """This process's peak resident set size, in MB.

    Linux: ``VmHWM`` of ``/proc/self/status``, the high-water mark of this
    program's own memory map. ``getrusage``'s ``ru_maxrss`` is not used
    there, because it also keeps the parent's RSS at the ``fork`` that
    preceded the ``exec``.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024 / 1e6  # kB
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1e6 if sys.platform == "darwin" else peak * 1024 / 1e6  # bytes; KiB


def _plain(value):
    """Numbers of Keras logs (numpy scalars) as JSON numbers; NaN as None."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _write(path: Path, obj) -> None:
    from tfrec.io import write_json

    write_json(path, _plain(obj))


if __name__ == "__main__":
    sys.exit(main())

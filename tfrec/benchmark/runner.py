"""Runs a benchmark: every model and seed fitted in a process of its own, then
the leaderboard, its files and plots, written into the output directory at
once (a staging directory renamed when everything is there).

Each fit runs in a fresh Python process (:mod:`tfrec.benchmark.worker`) so
that its peak RSS is its own, not the high-water mark of everything fitted
before it, and a model that crashes does not take the others down: its
failure is reported and the benchmark carries on. The split is made once
(seed 0) and shared, so every model is scored on the same users and paired
tests over users are possible.
"""

from __future__ import annotations

import datetime
import os
import pickle
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import tfrec
from tfrec.benchmark import catalog
from tfrec.benchmark.leaderboard import build_leaderboard
from tfrec.benchmark.tune import GRIDS, TUNE_METRIC, choose, grid_points
from tfrec.data import Dataset, load_dataset
from tfrec.errors import ConfigError, TfrecError, check_choice, check_positive_int
from tfrec.io import atomic_dir, write_json
from tfrec.splits import SPLIT_METHODS
from tfrec.splits import split as make_split

BENCH_SPLITS = tuple(m for m in SPLIT_METHODS if m != "none")
# TensorFlow's C++ start-up lines (absl format), kept out of the terminal
_TF_NOISE = re.compile(
    r"^(WARNING: All log messages before absl|[IWE]\d{4} \d\d:\d\d:\d\d\.\d+ |"
    r"To enable the following instructions)"
)


@dataclass
class BenchmarkResult:
    """What :func:`run_benchmark` wrote.

    Attributes:
        out: The output directory (``leaderboard.md/.json/.csv``, ``plots/``, ``logs/``).
        leaderboard: The contents of ``leaderboard.json``.
    """

    out: Path
    leaderboard: dict = field(repr=False)

    @property
    def rows(self) -> list[dict]:
        """One dict per model, best first on the main metric (NDCG@10)."""
        return self.leaderboard["rows"]

    @property
    def wall_seconds(self) -> float:
        """Wall time of the whole benchmark."""
        return self.leaderboard["wall_seconds"]


def run_benchmark(
    dataset: str | Dataset = "synthetic",
    out="bench",
    *,
    data_dir=None,
    models: str | list[str] = "all",
    split: str = "temporal",
    seeds: int = 3,
    peers: bool = False,
    tune: bool = False,
    configs: dict[str, dict] | None = None,
    n_boot: int = 1000,
    quiet: bool = False,
    overwrite: bool = False,
    download: bool = False,
) -> BenchmarkResult:
    """Trains every model with every seed on one split and writes the leaderboard.

    Args:
        dataset: A dataset name or a loaded :class:`Dataset`.
        out: Output directory; it must not exist or be empty unless ``overwrite``.
        data_dir: Where MovieLens datasets are read from.
        models: ``"all"`` (every model of ``tfrec models``), or names
            (comma-separated string or list); peer names are accepted when
            their library is installed.
        split: Split method (not ``"none"``); made once, with seed 0.
        seeds: Number of seeds (0, 1, ...); models whose fit has no seed
            (popularity, bias, itemknn) are fitted once.
        peers: Add the installed peer adapters (Surprise, implicit).
        tune: Choose each model's options from its grid (:mod:`tfrec.benchmark.tune`)
            on the validation split, with the first seed, before the runs.
        configs: Per-model options, e.g. ``{"dnn": {"epochs": 5}}``.
        n_boot: Bootstrap resamples of the confidence intervals and tests.
        quiet: Print nothing but failures.
        overwrite: Replace a non-empty ``out``.
        download: Download a missing MovieLens dataset.

    Returns:
        A :class:`BenchmarkResult`.
    """
    started = time.perf_counter()
    seeds = check_positive_int("seeds", seeds)
    n_boot = check_positive_int("n_boot", n_boot)
    check_choice("split", split, BENCH_SPLITS)
    names, notes = catalog.resolve_models(models, peers)
    configs = _check_configs(configs or {}, names)
    out = Path(out)
    _check_out(out, overwrite)
    if isinstance(dataset, str):
        dataset = load_dataset(dataset, data_dir, download=download)
    parts = make_split(dataset, split, seed=0)

    jobs = [
        ("tune", name, 0)
        for name in names
        if tune and len(grid_points(name, configs.get(name))) > 1
    ]
    jobs += [
        ("fit", name, seed)
        for seed in range(seeds)
        for name in names
        if seed == 0 or catalog.is_seeded(name)
    ]
    progress = _Progress(jobs, quiet)
    progress.say(
        f"benchmark: {len(names)} models x {seeds} seed(s) on {dataset.name} ({split} split, "
        f"{len(parts.train):,} / {len(parts.validation):,} / {len(parts.test):,} ratings): "
        f"{len(jobs)} jobs"
    )
    for note in notes:
        progress.say(f"note: {note}")

    with tempfile.TemporaryDirectory(prefix="tfrec-bench-") as work, atomic_dir(out) as staging:
        work = Path(work)
        split_file = work / "split.pkl"
        with open(split_file, "wb") as f:
            pickle.dump(parts, f, protocol=pickle.HIGHEST_PROTOCOL)
        tuning, runs = {}, []
        for kind, name, seed in jobs:
            job = {
                "kind": kind,
                "model": name,
                "seed": seed,
                "config": tuning.get(name, {}).get("chosen", configs.get(name, {})),
                "split": str(split_file),
                "verbose": not quiet,
            }
            if kind == "fit":  # TensorBoard logs of the models that train by epochs
                job["log_dir"] = str(staging / "logs" / name / f"seed-{seed}")
                job["export"] = seed == 0  # the export's size does not depend on the seed
            progress.start(kind, name, seed, job)
            record, seconds = _run_job(job, work / f"{kind}-{name}-{seed}", quiet)
            if kind == "tune" and "error" not in record:
                chosen = choose(record["points"])
                tuning[name] = {
                    "metric": f"validation {TUNE_METRIC}",
                    "grid": {k: v for k, v in GRIDS[name].items() if k not in job["config"]},
                    "points": record["points"],
                    "defaults": catalog.model_class_for(name)
                    .Config.from_dict(configs.get(name, {}))
                    .to_dict(),
                    "chosen": chosen["config"],
                }
                score = chosen["validation"][TUNE_METRIC]
                summary = f"chose {chosen['config']} (validation {TUNE_METRIC} {score:.4f})"
            elif kind == "tune":
                notes.append(f"tuning {name} failed ({record['error']}); its defaults were used")
                summary = f"FAILED: {record['error']}"
            else:
                runs.append(record)
                summary = _summary(record)
            progress.finish(kind, name, seed, seconds, summary)

        if not any("error" not in r for r in runs):
            raise TfrecError(
                "every benchmark run failed; first error: " + next(r["error"] for r in runs)
            )
        settings = {
            "dataset": dataset.name,
            "data_dir": str(data_dir) if data_dir else None,
            "split": split,
            "split_seed": 0,
            "sizes": parts.sizes(),
            "models": names,
            "seeds": list(range(seeds)),
            "peers": peers,
            "tune": tune,
            "configs": configs,
            "n_boot": n_boot,
            "bootstrap_seed": 0,
            "command": _command(
                dataset.name, data_dir, models, split, seeds, peers, tune, configs, n_boot, out
            ),
            "started_utc": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "cpus": os.cpu_count(),
            "python": sys.version.split()[0],
            "tfrec_version": tfrec.__version__,
        }
        board = build_leaderboard(runs, n_boot=n_boot, seed=0)
        board.update(settings=settings, tuning=tuning, notes=notes + board.pop("notes"))
        progress.say("writing the leaderboard and plots")
        from tfrec.benchmark.plots import write_plots
        from tfrec.benchmark.report import write_reports

        board["plots"] = [
            str(p.relative_to(staging)) for p in write_plots(staging / "plots", board)
        ]
        board["wall_seconds"] = round(time.perf_counter() - started, 1)
        write_reports(staging, board)
        _umask_permissions(staging)
    progress.say(
        f"wrote {out}/ (leaderboard.md, leaderboard.json, leaderboard.csv, plots/) "
        f"in {_clock(board['wall_seconds'])}"
    )
    return BenchmarkResult(out, board)


def _check_out(out: Path, overwrite: bool) -> None:
    if out.exists() and not overwrite and (out.is_file() or any(out.iterdir())):
        raise ConfigError(
            f"output directory {out} exists and is not empty; pass --overwrite "
            "(overwrite=True) to replace it, or choose another --out"
        )


def _umask_permissions(directory: Path) -> None:
    """Gives the staged files the usual permissions (temporary files are private)."""
    umask = os.umask(0)
    os.umask(umask)
    for path in [directory, *directory.rglob("*")]:
        path.chmod((0o777 if path.is_dir() else 0o666) & ~umask)


def _check_configs(configs: dict, names: list[str]) -> dict:
    """Validates per-model options up front, so no run fails on a typo late."""
    for name, options in configs.items():
        if name not in names:
            raise ConfigError(
                f"options given for {name!r}, which is not benchmarked; models: {', '.join(names)}"
            )
        catalog.model_class_for(name).Config.from_dict(catalog.seeded_config(name, options, 0))
    return {name: dict(options) for name, options in configs.items()}


def _run_job(job: dict, job_dir: Path, quiet: bool) -> tuple[dict, float]:
    """Runs one job in a fresh process; returns (its result, or {"error": ...}; seconds)."""
    job_dir.mkdir(parents=True)
    write_json(job_dir / "job.json", job)
    env = dict(os.environ)
    package_root = str(Path(tfrec.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    started = time.perf_counter()
    command = [sys.executable, "-m", "tfrec.benchmark.worker", str(job_dir)]
    with open(job_dir / "output.log", "w") as log:
        if quiet:
            returncode = subprocess.run(command, stdout=log, stderr=log, env=env).returncode
        else:  # stdout (Keras epochs) as it comes; stderr too, but not TensorFlow's start-up log
            process = subprocess.Popen(
                command, stderr=subprocess.PIPE, env=env, text=True, errors="replace"
            )
            try:
                for line in process.stderr:
                    log.write(line)
                    if not _TF_NOISE.match(line):
                        print(line, end="", file=sys.stderr, flush=True)
                returncode = process.wait()
            finally:
                if process.poll() is None:
                    process.kill()
                    process.wait()
    seconds = time.perf_counter() - started
    if returncode == 0:
        record = _load_json(job_dir / "result.json")
        if job["kind"] == "fit":
            with np.load(job_dir / "result.npz") as arrays:
                record["arrays"] = {k: arrays[k] for k in arrays.files}
        return record, seconds
    if (job_dir / "error.json").exists():
        error = _load_json(job_dir / "error.json")["error"]
    else:
        tail = (job_dir / "output.log").read_text(errors="replace").strip().splitlines()[-3:]
        error = f"exit status {returncode}" + (f": {' / '.join(tail)}" if tail else "")
    print(f"tfrec: benchmark: {job['model']} seed {job['seed']} failed: {error}", file=sys.stderr)
    return {"model": job["model"], "seed": job["seed"], "error": error}, seconds


def _load_json(path: Path) -> dict:
    import json

    return json.loads(path.read_text())


def _summary(record: dict) -> str:
    if "error" in record:
        return f"FAILED: {record['error']}"
    m = record["metrics"]
    parts = [f"NDCG@10 {m['ndcg@10']:.4f}", f"HR@10 {m['hr@10']:.4f}"]
    if "rmse" in m:
        parts.append(f"RMSE {m['rmse']:.4f}")
    parts.append(f"fit {record['train_seconds']:.1f} s")
    return ", ".join(parts)


class _Progress:
    """Progress lines: the job, and elapsed and estimated time left."""

    def __init__(self, jobs, quiet: bool):
        self.quiet = quiet
        self.started = time.perf_counter()
        self.remaining = list(jobs)
        self.total = len(jobs)
        self.unit_seconds: dict[str, list[float]] = {}  # per model: seconds per fit
        self.units: dict[tuple, int] = {}

    def say(self, line: str) -> None:
        if not self.quiet:
            print(line, flush=True)

    def start(self, kind, name, seed, job) -> None:
        if kind == "tune":
            self.units[(kind, name, seed)] = len(grid_points(name, job["config"]))
        done = self.total - len(self.remaining) + 1
        self.say(f"[{done}/{self.total}] {self._label(kind, name, seed)} ...")

    def finish(self, kind, name, seed, seconds, summary) -> None:
        key = (kind, name, seed)
        self.remaining.remove(key)
        self.unit_seconds.setdefault(name, []).append(seconds / self.units.get(key, 1))
        done = self.total - len(self.remaining)
        elapsed = time.perf_counter() - self.started
        left = self._estimate_left()
        left_text = (
            "done"
            if not self.remaining
            else f"~{_clock(left)} left"
            if left is not None
            else "time left unknown"
        )
        self.say(
            f"[{done}/{self.total}] {self._label(kind, name, seed)}: {summary} "
            f"| {seconds:.1f} s; elapsed {_clock(elapsed)}, {left_text}"
        )

    def _estimate_left(self) -> float | None:
        known = {name: float(np.mean(v)) for name, v in self.unit_seconds.items()}
        if not known:
            return None
        fallback = float(np.mean(list(known.values())))
        total = 0.0
        for kind, name, _ in self.remaining:
            units = len(grid_points(name)) if kind == "tune" else 1
            total += units * known.get(name, fallback)
        return total

    @staticmethod
    def _label(kind, name, seed) -> str:
        return f"tune {name} on validation" if kind == "tune" else f"{name} seed {seed}"


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def _command(dataset, data_dir, models, split, seeds, peers, tune, configs, n_boot, out) -> str:
    """The ``tfrec benchmark`` command line that reproduces the run."""
    import json
    import shlex

    models = models if isinstance(models, str) else ",".join(models)
    words = ["tfrec", "benchmark", "--dataset", dataset]
    if data_dir:
        words += ["--data-dir", str(data_dir)]
    words += ["--models", models, "--split", split, "--seeds", str(seeds)]
    words += ["--peers"] * peers + ["--tune"] * tune
    for name, options in configs.items():
        for key, value in options.items():
            words += ["--set", f"{name}.{key}={json.dumps(value)}"]
    if n_boot != 1000:
        words += ["--bootstrap", str(n_boot)]
    words += ["--out", str(out)]
    return shlex.join(words)

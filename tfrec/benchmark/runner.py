"""Runs a benchmark: every model and seed fitted in a process of its own, then
the leaderboard, its files and plots, written into the output directory at
once (a staging directory renamed when everything is there).

Each fit runs in a fresh Python process (:mod:`tfrec.benchmark.worker`) so
that its peak RSS is its own, not the high-water mark of everything fitted
before it, and a model that crashes does not take the others down: its
failure is reported and the benchmark carries on. The split is made once
(seed 0) and shared, so every model is scored on the same users and paired
tests over users are possible.

``jobs`` fits run at once, each with ``cores // jobs`` TensorFlow and BLAS
threads: most fits here are too small to keep two cores busy (the
recurrent models' per-step matrices, the baselines' single-threaded numpy,
each process's start-up), so two one-thread fits finish sooner than two
two-thread fits in turn. Tuning runs first, since the fits use its choice.
"""

from __future__ import annotations

import datetime
import os
import pickle
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tfrec import tf_logging
from tfrec.benchmark import catalog
from tfrec.benchmark.leaderboard import build_leaderboard
from tfrec.benchmark.tune import TUNE_METRIC, choose, n_trials, space
from tfrec.data import Dataset, load_dataset
from tfrec.errors import ConfigError, TfrecError, check_choice, check_positive_int
from tfrec.io import atomic_dir, write_json
from tfrec.models import model_class
from tfrec.splits import NEEDS, SPLIT_METHODS, models_for
from tfrec.splits import split as make_split
from tfrec.tuning.space import fixed_by_data
from tfrec.version import __version__

BENCH_SPLITS = tuple(m for m in SPLIT_METHODS if m != "none")


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
    history: int | None = None,
    seeds: int = 3,
    peers: bool = False,
    tune: bool = False,
    configs: dict[str, dict] | None = None,
    n_boot: int = 1000,
    jobs: int | None = None,
    quiet: bool = False,
    overwrite: bool = False,
    download: bool = False,
    data_options: dict | None = None,
) -> BenchmarkResult:
    """Trains every model with every seed on one split and writes the leaderboard.

    Args:
        dataset: A dataset name, an interaction file or DataFrame (read with
            ``data_options``, see :func:`tfrec.data.load_dataset`), or a
            loaded :class:`Dataset`. On implicit feedback the rating models
            are left out, with a note.
        out: Output directory; it must not exist or be empty unless ``overwrite``.
        data_dir: Where MovieLens datasets are read from.
        models: ``"all"`` (every model of ``tfrec models``), or names
            (comma-separated string or list); peer names are accepted when
            their library is installed.
        split: Split method (not ``"none"``); made once, with seed 0.
        history: Split ``cold-users`` only: the interactions each new user
            brings (H, default 5).
        seeds: Number of seeds (0, 1, ...); models whose fit has no seed
            (popularity, bias, itemknn) are fitted once.
        peers: Add the installed peer adapters (Surprise, implicit).
        tune: Choose each model's options from its grid (:mod:`tfrec.benchmark.tune`)
            on the validation split, with the first seed, before the runs.
        configs: Per-model options, e.g. ``{"dnn": {"epochs": 5}}``.
        n_boot: Bootstrap resamples of the confidence intervals and tests.
        jobs: Fits run at once (``None``: :func:`default_jobs`), each with
            ``cores // jobs`` threads. Train seconds are measured under this
            sharing, so compare them within one benchmark.
        quiet: Print nothing but failures.
        overwrite: Replace a non-empty ``out``.
        download: Download a missing MovieLens dataset.

    Returns:
        A :class:`BenchmarkResult`.
    """
    started = time.perf_counter()
    seeds = check_positive_int("seeds", seeds)
    n_boot = check_positive_int("n_boot", n_boot)
    if jobs is not None:
        check_positive_int("jobs", jobs)
    check_choice("split", split, BENCH_SPLITS)
    names, notes = catalog.resolve_models(models, peers)
    configs = _check_configs(configs or {}, names)
    out = Path(out)
    _check_out(out, overwrite)
    if not isinstance(dataset, Dataset):
        dataset = load_dataset(dataset, data_dir, download=download, **(data_options or {}))
    if dataset.implicit:
        rating = [n for n in names if model_class(n).needs_ratings()]
        names = [n for n in names if n not in rating]
        if not names:
            raise ConfigError(
                f"{dataset.name!r} has no ratings (implicit feedback) and every model asked "
                f"for predicts ratings ({', '.join(rating)}); ask for ranking models"
            )
        if rating:
            notes.append(f"left out the rating models ({', '.join(rating)}): no ratings")
    if split in NEEDS:
        names, left_out = models_for(split, names)
        if not names:
            raise ConfigError(
                f"split {split!r} needs models that score new {NEEDS[split][1]}; none of "
                f"{', '.join(left_out)} can"
            )
        if left_out:
            cannot = f"cannot score new {NEEDS[split][1]}"
            notes.append(f"left out the models that {cannot}: {', '.join(left_out)}")
    parts = make_split(dataset, split, seed=0, history=history)
    jobs = default_jobs(len(dataset.ratings)) if jobs is None else jobs
    if tune:  # options the data leaves nothing to choose for are not searched
        for name in names:
            fixed = fixed_by_data(model_class(name).Config, parts.train)
            if fixed:
                configs[name] = {**fixed, **configs.get(name, {})}

    tune_specs = [
        ("tune", name, 0) for name in names if tune and n_trials(name, configs.get(name)) > 1
    ]
    fit_specs = [
        ("fit", name, seed)
        for seed in range(seeds)
        for name in names
        if seed == 0 or catalog.is_seeded(name)
    ]
    progress = _Progress(tune_specs + fit_specs, quiet, jobs)
    progress.say(
        f"benchmark: {len(names)} models x {seeds} seed(s) on {dataset.name} ({split} split, "
        f"{len(parts.train):,} / {len(parts.validation):,} / {len(parts.test):,} ratings): "
        f"{len(tune_specs) + len(fit_specs)} jobs, {jobs} at a time"
    )
    for note in notes:
        progress.say(f"note: {note}")

    with tempfile.TemporaryDirectory(prefix="tfrec-bench-") as work, atomic_dir(out) as staging:
        work = Path(work)
        split_file = work / "split.pkl"
        with open(split_file, "wb") as f:
            pickle.dump(parts, f, protocol=pickle.HIGHEST_PROTOCOL)
        runner = _JobRunner(work, split_file, progress, jobs, quiet)
        tuning = {}
        for (_, name, _), record, job in runner.run(tune_specs, configs):
            if "error" in record:
                notes.append(f"tuning {name} failed ({record['error']}); its defaults were used")
                continue
            chosen = record["chosen"]
            tuning[name] = {
                "metric": f"validation {TUNE_METRIC}",
                "grid": space(name, job["config"]),
                "points": record["points"],
                "defaults": model_class(name).Config.from_dict(configs.get(name, {})).to_dict(),
                "chosen": chosen["config"],
            }
        fit_configs = {**configs, **{name: t["chosen"] for name, t in tuning.items()}}
        runs = [record for _, record, _ in runner.run(fit_specs, fit_configs, staging)]

        if not any("error" not in r for r in runs):
            raise TfrecError(
                "every benchmark run failed; first error: " + next(r["error"] for r in runs)
            )
        settings = {
            "dataset": dataset.name,
            "source": dataset.source,
            "data_dir": str(data_dir) if data_dir else None,
            "split": split,
            "history": parts.history,
            "split_seed": 0,
            "sizes": parts.sizes(),
            "models": names,
            "seeds": list(range(seeds)),
            "peers": peers,
            "tune": tune,
            "configs": configs,
            "n_boot": n_boot,
            "bootstrap_seed": 0,
            "jobs": jobs,
            "command": _command(
                dataset,
                data_options,
                data_dir,
                models,
                split,
                parts.history,
                seeds,
                peers,
                tune,
                configs,
                n_boot,
                jobs,
                out,
            ),
            "started_utc": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "cpus": os.cpu_count(),
            "python": sys.version.split()[0],
            "tfrec_version": __version__,
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
        model_class(name).Config.from_dict(catalog.seeded_config(name, options, 0))
    return {name: dict(options) for name, options in configs.items()}


# Above this many ratings fits run one at a time by default: each holds its own copy.
PARALLEL_RATINGS = 2_000_000


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def default_jobs(n_ratings: int = 0) -> int:
    """Fits run at once by default: one per core, at most four; one above
    ``PARALLEL_RATINGS`` ratings, where parallel fits would multiply the memory."""
    return 1 if n_ratings > PARALLEL_RATINGS else max(1, min(_cores(), 4))


class _JobRunner:
    """Runs jobs ``jobs`` at a time, each in a fresh worker process.

    A job that fails becomes an ``{"error": ...}`` record; an interrupt
    (Ctrl-C) or an error of the runner itself cancels the queued jobs and
    kills the running workers before it propagates.
    """

    def __init__(self, work: Path, split_file: Path, progress, jobs: int, quiet: bool):
        self.work, self.split_file, self.progress = work, split_file, progress
        self.jobs, self.quiet = jobs, quiet
        self.threads = max(1, _cores() // jobs)
        self.processes: set[subprocess.Popen] = set()
        self.stopping = False

    def run(self, specs, configs: dict, staging: Path | None = None):
        """Runs ``(kind, model, seed)`` specs; returns (spec, record, job) in the specs' order."""
        jobs = [self._job(spec, configs.get(spec[1], {}), staging) for spec in specs]
        pool = ThreadPoolExecutor(max_workers=self.jobs)
        try:
            futures = [pool.submit(self._run_one, *pair) for pair in zip(specs, jobs, strict=True)]
            records = [future.result() for future in futures]
        except BaseException:
            self.stopping = True
            pool.shutdown(wait=False, cancel_futures=True)
            with self.progress.lock:
                for process in self.processes:
                    process.kill()
            raise
        pool.shutdown()
        return [(spec, record, job) for spec, record, job in zip(specs, records, jobs, strict=True)]

    def start(self, command, env) -> subprocess.Popen:
        """Starts a worker process (none once the runner is stopping)."""
        with self.progress.lock:
            if self.stopping:
                raise RuntimeError("benchmark stopped")
            process = subprocess.Popen(
                command,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env=env,
                text=True,
                errors="replace",
            )
            self.processes.add(process)
            return process

    def done(self, process) -> None:
        with self.progress.lock:
            self.processes.discard(process)

    def _job(self, spec, config: dict, staging: Path | None) -> dict:
        kind, name, seed = spec
        job = {
            "kind": kind,
            "model": name,
            "seed": seed,
            "config": config,
            "split": str(self.split_file),
            "verbose": not self.quiet,
        }
        if kind == "fit":  # TensorBoard logs of the models that train by epochs
            job["log_dir"] = str(staging / "logs" / name / f"seed-{seed}")
            job["export"] = seed == 0  # the export's size does not depend on the seed
        return job

    def _run_one(self, spec, job: dict) -> dict:
        kind, name, seed = spec
        self.progress.start(kind, name, seed, job)
        prefix = f"[{_Progress.label(kind, name, seed)}] " if self.jobs > 1 else ""
        started = time.perf_counter()
        try:
            record = self._process(job, self.work / f"{kind}-{name}-{seed}", prefix)
        except Exception as e:  # the runner's own failure, not the worker's
            if self.stopping:
                raise
            record = {"model": name, "seed": seed, "error": f"{type(e).__name__}: {e}"}
        seconds = time.perf_counter() - started
        if "error" in record:
            self.progress.echo(f"tfrec: benchmark: {name} seed {seed} failed: {record['error']}\n")
            summary = _summary(record)
        elif kind == "tune":
            record["chosen"] = chosen = choose(record["points"])
            score = chosen["validation"][TUNE_METRIC]
            summary = f"chose {chosen['config']} (validation {TUNE_METRIC} {score:.4f})"
        else:
            summary = _summary(record)
        self.progress.finish(kind, name, seed, seconds, summary)
        return record

    def _process(self, job: dict, job_dir: Path, prefix: str) -> dict:
        """Runs one job in a fresh process; returns its result, or ``{"error": ...}``.

        The worker's output goes to ``job_dir/output.log`` and, unless quiet, to
        the terminal (without TensorFlow's start-up lines), each line after ``prefix``.
        """
        job_dir.mkdir(parents=True)
        write_json(job_dir / "job.json", job)
        command = [sys.executable, "-m", "tfrec.benchmark.worker", str(job_dir)]
        with open(job_dir / "output.log", "w") as log:
            process = self.start(command, self.environment())
            try:
                for line in process.stdout:
                    log.write(line)
                    startup = tf_logging.STARTUP_LINE.match(line) and not tf_logging.shown()
                    if not self.quiet and not startup:
                        self.progress.echo(prefix + line)
                returncode = process.wait()
            finally:
                if process.poll() is None:
                    process.kill()
                    process.wait()
                self.done(process)
        if returncode == 0:
            record = _load_json(job_dir / "result.json")
            if job["kind"] == "fit":
                with np.load(job_dir / "result.npz") as arrays:
                    record["arrays"] = {k: arrays[k] for k in arrays.files}
            return record
        if (job_dir / "error.json").exists():
            error = _load_json(job_dir / "error.json")["error"]
        else:
            tail = (job_dir / "output.log").read_text(errors="replace").strip().splitlines()[-3:]
            error = f"exit status {returncode}" + (f": {' / '.join(tail)}" if tail else "")
        return {"model": job["model"], "seed": job["seed"], "error": error}

    def environment(self) -> dict:
        """The worker's environment: this package importable, threads limited to its share."""
        env = dict(os.environ)
        # tfrec/benchmark/runner.py -> the directory that contains the tfrec package
        package_root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
        env.setdefault(tf_logging.LEVEL_VARIABLE, "2")
        env["PYTHONUNBUFFERED"] = "1"  # epoch lines as they come
        if self.jobs > 1:
            for name in THREAD_VARIABLES:
                env.setdefault(name, str(self.threads))
        return env


# TensorFlow's op thread pools and the BLAS/OpenMP pools of numpy and oneDNN.
THREAD_VARIABLES = (
    "TF_NUM_INTRAOP_THREADS",
    "TF_NUM_INTEROP_THREADS",
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
)


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
    """Progress lines: the job, and elapsed and estimated time left (thread-safe)."""

    def __init__(self, jobs, quiet: bool, at_once: int):
        self.quiet = quiet
        self.at_once = at_once
        self.started = time.perf_counter()
        self.remaining = list(jobs)
        self.total = len(jobs)
        self.n_started = 0
        self.unit_seconds: dict[str, list[float]] = {}  # per model: seconds per fit
        self.units: dict[tuple, int] = {}
        self.lock = threading.Lock()

    def say(self, line: str) -> None:
        if not self.quiet:
            with self.lock:
                print(line, flush=True)

    def echo(self, text: str) -> None:
        """A line of a worker's output, on stderr."""
        with self.lock:
            print(text, end="", file=sys.stderr, flush=True)

    def start(self, kind, name, seed, job) -> None:
        with self.lock:
            if kind == "tune":
                self.units[(kind, name, seed)] = n_trials(name, job["config"])
            self.n_started += 1
            number = self.n_started
        self.say(f"[{number}/{self.total}] {self.label(kind, name, seed)} ...")

    def finish(self, kind, name, seed, seconds, summary) -> None:
        key = (kind, name, seed)
        with self.lock:
            self.remaining.remove(key)
            self.unit_seconds.setdefault(name, []).append(seconds / self.units.get(key, 1))
            done = self.total - len(self.remaining)
            left = self._estimate_left()
            finished = not self.remaining
        elapsed = time.perf_counter() - self.started
        left_text = (
            "done"
            if finished
            else f"~{_clock(left)} left"
            if left is not None
            else "time left unknown"
        )
        self.say(
            f"[{done}/{self.total}] {self.label(kind, name, seed)}: {summary} "
            f"| {seconds:.1f} s; elapsed {_clock(elapsed)}, {left_text}"
        )

    def _estimate_left(self) -> float | None:
        """Wall seconds left: the remaining jobs' seconds, run ``at_once`` at a time."""
        known = {name: float(np.mean(v)) for name, v in self.unit_seconds.items()}
        if not known:
            return None
        fallback = float(np.mean(list(known.values())))
        total = 0.0
        for kind, name, _ in self.remaining:
            units = n_trials(name) if kind == "tune" else 1
            total += units * known.get(name, fallback)
        return total / self.at_once

    @staticmethod
    def label(kind, name, seed) -> str:
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


def _command(
    dataset,
    data_options,
    data_dir,
    models,
    split,
    history,
    seeds,
    peers,
    tune,
    configs,
    n_boot,
    jobs,
    out,
) -> str:
    """The ``tfrec benchmark`` command line that reproduces the run: a file dataset
    by its path, with the reading options as their flags."""
    import json
    import shlex

    from tfrec.data.interaction_log import is_table_source

    models = models if isinstance(models, str) else ",".join(models)
    source = dataset.source if is_table_source(dataset.source) else dataset.name
    words = ["tfrec", "benchmark", "--dataset", source]
    if data_dir:
        words += ["--data-dir", str(data_dir)]
    words += _data_flags(data_options or {})
    words += ["--models", models, "--split", split, "--seeds", str(seeds)]
    words += [] if history is None else ["--history", str(history)]
    words += ["--peers"] * peers + ["--tune"] * tune
    for name, options in configs.items():
        for key, value in options.items():
            words += ["--set", f"{name}.{key}={json.dumps(value)}"]
    if n_boot != 1000:
        words += ["--bootstrap", str(n_boot)]
    words += ["--jobs", str(jobs), "--out", str(out)]
    return shlex.join(words)


def _data_flags(options: dict) -> list[str]:
    """The command-line flags of :func:`tfrec.data.load_dataset`'s reading options
    (``item_columns`` -> ``--item-columns``, ``header=False`` -> ``--no-header``)."""
    no_header = {"header": "--no-header", "item_header": "--items-no-header",
                 "user_header": "--users-no-header"}  # fmt: skip
    words = []
    for key, value in options.items():
        if key in no_header:
            words += [] if value else [no_header[key]]
            continue
        if key == "context_time":
            words += ["--context-time"] if value else []
            continue
        if isinstance(value, dict):
            value = ",".join(f"{k}={'none' if v is None else v}" for k, v in value.items())
        elif isinstance(value, list | tuple):
            value = ",".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value)
        words += ["--" + key.replace("_", "-"), str(value)]
    return words

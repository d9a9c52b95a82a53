"""The Python API that scripts, notebooks and the CLI use.

import tfrec
result = tfrec.train(model="svd", dataset="synthetic", out="runs/svd")
print(result.metrics["rmse"], result.metrics["hr@10"])
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from tfrec import resume as resume_
from tfrec.benchmark import BenchmarkResult, run_benchmark
from tfrec.data import Dataset, load_dataset
from tfrec.data.interaction_log import is_table_source
from tfrec.data.prepare.manifest import is_prepared, read_manifest
from tfrec.data.registry import dataset_names
from tfrec.distribute import check_strategy, cluster_task, make_strategy, serve_if_server_task
from tfrec.errors import ConfigError
from tfrec.evaluation import EvaluationResult, evaluate
from tfrec.export import existing_versions
from tfrec.io import atomic_dir, write_json, write_text
from tfrec.models import Recommender, get_model, model_class, model_names
from tfrec.models import load_model as _load_saved_model
from tfrec.models.options import TrainingOptions
from tfrec.projector import write_model_projector
from tfrec.splits import NEEDS, Split, models_for, split
from tfrec.tuning import in_train as tuning
from tfrec.version import __version__

__all__ = [
    "load_dataset",
    "split",
    "get_model",
    "evaluate",
    "train",
    "cascade",
    "load_model",
    "run_benchmark",
    "TrainResult",
    "EvaluationResult",
    "BenchmarkResult",
]


@dataclass
class TrainResult:
    """What :func:`train` produced.

    Attributes:
        model: The fitted model.
        split: The split it was fitted and evaluated on.
        metrics: The contents of ``metrics.json``.
        run_dir: Where the run was written, or None.
    """

    model: Recommender
    split: Split
    metrics: dict
    run_dir: Path | None


def train(
    model: str | Recommender = "svd",
    dataset: str | Dataset = "synthetic",
    split: str | Split | None = None,
    out=None,
    *,
    data_dir=None,
    seed: int = 0,
    config: dict | None = None,
    refit: bool = False,
    k: int = 10,
    download: bool = False,
    verbose: bool = False,
    export_root=None,
    overwrite: bool = False,
    strategy: str = "default",
    resume: bool = False,
    data_options: dict | None = None,
    tune: bool = False,
    tune_budget: str | float | None = None,
    tune_metric: str | None = None,
    export_name: str | None = None,
    history: int | None = None,
    eval_users: int | None = None,
) -> TrainResult:
    """Loads data, splits, fits, evaluates on test, writes a run and exports it.

    Args:
        model: A model name (see ``tfrec.models.model_names()``), an unfitted
            model, or ``"auto"``: every candidate model that fits the data,
            fitted with its defaults, then tuned within ``tune_budget``; the
            best on validation is kept (see :mod:`tfrec.tuning.auto`).
        dataset: A dataset name, an interaction file (``.csv``, ``.tsv``,
            ``.parquet``), a pandas DataFrame, a loaded :class:`Dataset`, or
            a prepared directory (``tfrec data prepare``; its own split).
        split: A split method name or a :class:`Split` (None: ``temporal``,
            or a prepared directory's split); ``"none"`` fits on all
            ratings and skips evaluation.
        out: Run directory to write (``metrics.json``, ``config.json``,
            ``model/``, ``items.csv``, ``logs/`` with TensorBoard scalars and
            the item embeddings for its projector); None writes nothing.
        data_dir: Where MovieLens datasets are read from.
        seed: Seed of the model (when it has one) and of the random split.
        config: Model options, e.g. ``{"k": 64}``.
        refit: The "refit" protocol: fit on train with early stopping on
            validation, then refit on train + validation with the settings
            chosen (e.g. the epoch count) and score test.
        k: Cut-off of the top-N metrics.
        download: Download a missing MovieLens dataset.
        verbose: Show per-epoch progress.
        export_root: Export a SavedModel under this root (TF Serving layout), as
            ``<export_name>/<version>/``.
        export_name: The served model's name; by default the model's name for a
            registered dataset and ``<dataset>-<model>`` for the user's own data
            (:func:`default_export_name`). A new version of a name whose newest
            version was trained on another dataset is refused before the fit
            (:func:`check_export_name`).
        overwrite: Replace an existing run in ``out``; without it a non-empty
            ``out`` is refused before anything is fitted.
        strategy: ``default``, ``mirrored``, ``multi-worker`` or
            ``parameter-server`` (see :mod:`tfrec.distribute`); the cluster
            comes from ``TF_CONFIG``. Only the chief writes ``out`` and
            evaluates; other workers train and return empty metrics, and
            the ``worker`` and ``ps`` tasks of ``parameter-server`` serve
            the chief and never return.
        resume: Continue an interrupted run from the checkpoints in
            ``<out>.checkpoints/`` (written after every epoch by the models
            that train by epochs, removed when the run completes; see
            :mod:`tfrec.resume`). Not under ``parameter-server``, where Keras
            has no checkpoint callback.
        data_options: Options of :func:`load_dataset` for a file or a
            DataFrame (``columns``, ``items``, ``duplicates``, ...) and the
            k-core thresholds.
        tune: Search the model's options on validation (Optuna, TPE seeded
            with ``seed``; :mod:`tfrec.tuning.search`) and keep the best
            trial's fitted model; ``metrics.json`` records the search under
            ``tuning``, and ``config.json`` holds the chosen values.
        tune_budget: Time for ``tune`` or ``model="auto"``: seconds, or text
            such as ``"90s"``, ``"10m"``, ``"1h"`` (default 10m; 15m for auto).
        tune_metric: Validation metric of the search (default NDCG@k, or
            RMSE for a rating model on rating data).
        export_name: The served model's name (see :func:`check_export_name`).
        history: Split ``cold-users`` only: the interactions each new user
            brings (H, default 5).
        eval_users: Evaluate a seeded sample of this many test users (None:
            every one), for catalogues where ranking every user is too slow.

    Returns:
        A :class:`TrainResult`.

    The run directory is written under a temporary name and renamed when
    complete, so a failed or killed run leaves ``out`` as it was.
    """
    run_dir = Path(out) if out else None
    if resume and run_dir is None:
        raise ConfigError("resume needs out, the run directory to continue; got out=None")
    auto = isinstance(model, str) and model == "auto"
    budget = tuning.budget_seconds(auto, tune, tune_budget, resume=resume, strategy=strategy)
    if not auto:
        check_strategy(strategy, model_class(model) if isinstance(model, str) else type(model))
    serve_if_server_task(strategy)  # a parameter-server worker or ps task never returns
    chief = strategy in ("default", "mirrored") or cluster_task().is_chief
    occupied = run_dir is not None and run_dir.exists()
    if occupied and not overwrite and (not run_dir.is_dir() or any(run_dir.iterdir())):
        raise ConfigError(
            f"{run_dir} already exists and is not empty; pass overwrite=True "
            "(--overwrite) to replace it, or choose another out directory"
        )
    if is_prepared(dataset):
        parts = _prepared_split(dataset, split, data_options)
    elif isinstance(split, Split):
        parts = split
    else:
        if not isinstance(dataset, Dataset):
            dataset = load_dataset(dataset, data_dir, download=download, **(data_options or {}))
        parts = _split_dataset(dataset, split or "temporal", seed=seed, history=history)
    if isinstance(model, str) and not auto:
        options = dict(config or {})
        if "seed" in model_class(model).Config.__dataclass_fields__:
            options.setdefault("seed", seed)
        model = get_model(model, options)
    if not auto and model.needs_ratings() and parts.dataset.implicit:
        ranking = [
            name for name in model_names(installed=True) if not model_class(name).needs_ratings()
        ]
        raise ConfigError(
            f"{model.name} predicts ratings, and {parts.dataset.name!r} has no rating column "
            f"(implicit feedback); use a ranking model: {', '.join(ranking)}"
        )
    need = NEEDS.get(parts.method)
    if not auto and need is not None and not getattr(model, need[0]):
        able = models_for(parts.method, model_names(installed=True))[0]
        raise ConfigError(
            f"{model.name} cannot score {need[1]} absent from training, as split "
            f"{parts.method!r} asks; "
            f"models that can: {', '.join(able) or 'none installed'}"
        )
    if export_root is not None and not auto:
        check_export_name(export_root, export_name, model.name, *_identity(parts.dataset))
    checkpoints = None
    if run_dir is not None and budget is None and model.trains_by_epochs:
        identity = {
            "model": model.name,
            "config": model.config.to_dict(),
            "dataset": parts.dataset.name,
            "split": parts.method,
            "sizes": parts.sizes(),
            "refit": refit,
        }
        checkpoints = resume_.prepare(run_dir, identity, resume, overwrite, writer=chief)
    elif resume:
        print(f"{model.name} does not checkpoint; fitting from the start", file=sys.stderr)
    tf_strategy = make_strategy(strategy)  # before any other TensorFlow work
    if not chief:  # a multi-worker peer: trains its share, writes nothing
        run_dir = export_root = None
    with _staged_logs(run_dir, checkpoints) as log_dir:
        started = time.perf_counter()

        def fit(model, parts, stage):
            options = TrainingOptions(
                verbose=verbose,
                log_dir=log_dir,
                checkpoint_dir=checkpoints / stage if checkpoints else None,
                strategy=tf_strategy,
            )
            model.fit(parts, options)

        chosen = resume_.saved_refit_options(checkpoints) if refit else None
        searched = {}
        if budget is not None:
            trials = TrainingOptions(strategy=tf_strategy)
            model, searched = tuning.search(
                model,
                parts,
                budget,
                config,
                verbose=verbose,
                seed=seed,
                k=k,
                metric=tune_metric,
                options=trials,
            )
        elif chosen is None:
            fit(model, parts, "train")
        fit_on = parts
        if refit:
            if chosen is None:
                chosen = model.refit_options()
                resume_.save_refit_options(checkpoints, chosen)
            fit_on = parts.with_validation_in_train()
            model = type(model)(dataclasses.replace(model.config, **chosen))
            fit(model, fit_on, "refit")
        train_seconds = time.perf_counter() - started
        if log_dir is not None:
            write_model_projector(model, log_dir, parts.dataset.items)
        if not chief:
            return TrainResult(model, parts, {}, None)
        record = {
            "model": model.name,
            "dataset": parts.dataset.name,
            "split": parts.method,
            "protocol": "refit" if refit else "train",
            "protocol_description": _protocol(parts, refit, model),
            "seed": seed,
            "k": k,
            **{f"n_{name}": n for name, n in parts.sizes().items()},
            **searched,
        }
        if parts.method != "none":
            started = time.perf_counter()
            result = evaluate(model, fit_on, k=k, users=eval_users, seed=seed)
            record.update(result.metrics)
            record["eval_seconds"] = round(time.perf_counter() - started, 3)
        record["train_seconds"] = round(train_seconds, 3)
        if getattr(model, "best_epoch_", None):
            record["epochs"] = int(model.best_epoch_)
        record["tfrec_version"] = __version__
        if export_root is not None and not model.exportable:
            if verbose:
                print(f"{model.name} has no SavedModel export; the run is saved without one")
            export_root = None
        inside = _inside(export_root, run_dir)
        exporting = (export_name, parts.dataset, record)
        if export_root is not None and inside is None:
            _export(model, Path(export_root), Path(export_root), *exporting)
        if run_dir is not None:
            with atomic_dir(run_dir) as staging:
                if inside is not None:  # an export root in the run dir moves with it
                    if (run_dir / inside).is_dir():
                        shutil.copytree(run_dir / inside, staging / inside, dirs_exist_ok=True)
                    _export(model, staging / inside, run_dir / inside, *exporting)
                _write_run_files(staging, model, parts, record, data_dir, data_options)
                if log_dir is not None and log_dir.is_dir() and any(log_dir.iterdir()):
                    os.replace(log_dir, staging / "logs")
        if checkpoints is not None:
            shutil.rmtree(checkpoints, ignore_errors=True)
        return TrainResult(model, parts, record, run_dir)


# What two runs must share for their models to form a cascade (config.json).
_SAME_DATA = ("dataset", "source", "data_dir", "data_options", "split", "seed")
# Cascade options that the stages' own fits settle (refused by ``cascade``).
_FITTED_STAGE_OPTIONS = (
    "retrieval",
    "ranking",
    "retrieval_options",
    "ranking_options",
    "hard_negatives",
    "seed",
)


def cascade(
    retrieval_run,
    ranking_run,
    out=None,
    *,
    config: dict | None = None,
    k: int = 10,
    verbose: bool = False,
    export_root=None,
    export_name: str | None = None,
    overwrite: bool = False,
    eval_users: int | None = None,
) -> TrainResult:
    """A cascade of two trained runs' models: the stages are not refitted.

    The runs (``tfrec train --out``) must come from the same data, split and
    seed. Their split is made again, the signals are fitted on it with their
    options (by default the retrievers other than the retrieval run's model,
    two_tower among them), the combiner θ is fitted on its validation users
    (:mod:`tfrec.models.ranking.stacking`), and the cascade is evaluated,
    written and exported as :func:`train` does.

    Args:
        retrieval_run: Run directory of the first stage (two_tower, ease...).
        ranking_run: Run directory of the second stage (dcn, dnn, mf...).
        out: Run directory to write, or None.
        config: Cascade options other than the stages (``candidates``,
            ``combiner``...).
        k, verbose, export_root, export_name, overwrite, eval_users: As
            :func:`train`'s.
    """
    fixed = sorted(set(config or {}) & set(_FITTED_STAGE_OPTIONS))
    if fixed:
        raise ConfigError(
            f"cascade option(s) {', '.join(fixed)} are settled by the runs' own fits; "
            "set them when training the runs"
        )
    runs = {"retrieval": Path(retrieval_run), "ranking": Path(ranking_run)}
    recorded = {stage: _run_config(path) for stage, path in runs.items()}
    for key in _SAME_DATA:
        first, second = recorded["retrieval"].get(key), recorded["ranking"].get(key)
        if first != second:
            raise ConfigError(
                f"the retrieval run {retrieval_run} and the ranking run {ranking_run} differ "
                f"in {key}: {first!r} against {second!r}; train both stages on the same "
                "dataset, split and seed"
            )
    run = recorded["retrieval"]
    data_options = run.get("data_options")
    if data_options and "<DataFrame>" in data_options.values():
        raise ConfigError(
            f"{retrieval_run} was trained with a DataFrame among its data options, which a run "
            "does not keep; build the cascade in Python with Cascade.with_stages"
        )
    stages = {stage: load_model(path) for stage, path in runs.items()}
    options = dict(config or {})
    for stage, model in stages.items():
        options[stage] = model.name
        options[f"{stage}_options"] = model.config.to_dict()
    options["seed"] = run["seed"]
    model = get_model("cascade", options).with_stages(**stages)
    dataset = run["dataset"] if run["dataset"] in dataset_names() else run["source"]
    return train(
        model,
        dataset,
        run["split"],
        out,
        data_dir=run.get("data_dir"),
        seed=run["seed"],
        k=k,
        verbose=verbose,
        export_root=export_root,
        export_name=export_name,
        overwrite=overwrite,
        data_options=data_options,
        eval_users=eval_users,
    )


def _run_config(run_dir: Path) -> dict:
    """A run directory's ``config.json``."""
    path = run_dir / "config.json"
    if not path.is_file():
        raise ConfigError(
            f"{run_dir} is not a run directory (no config.json); pass the --out of a tfrec train"
        )
    return json.loads(path.read_text())


@contextlib.contextmanager
def _staged_logs(run_dir: Path | None, checkpoints: Path | None):
    """Where the TensorBoard logs go until the run is written (None without a run).

    With checkpoints, ``<checkpoints>/logs``, so a resumed run continues
    them; otherwise a temporary directory beside ``run_dir``, removed if the
    run fails.
    """
    if run_dir is None:
        yield None
        return
    if checkpoints is not None:
        (checkpoints / "logs").mkdir(parents=True, exist_ok=True)
        yield checkpoints / "logs"
        return
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    log_dir = Path(tempfile.mkdtemp(prefix=f".{run_dir.name}.logs-", dir=run_dir.parent))
    try:
        yield log_dir
    finally:
        shutil.rmtree(log_dir, ignore_errors=True)


def _inside(export_root, run_dir) -> Path | None:
    """The export root relative to the run dir when it lies within it."""
    if export_root is None or run_dir is None:
        return None
    try:
        return Path(export_root).resolve().relative_to(run_dir.resolve())
    except ValueError:
        return None


def _export(model, root: Path, final_root: Path, name, dataset: Dataset, record: dict) -> None:
    name = check_export_name(final_root, name, model.name, *_identity(dataset))
    path = model.export(root, name=name, metadata={"dataset": dataset.name})
    record["export_path"] = str(final_root / path.relative_to(root))
    record["export_size_mb"] = round(_size(path) / 1e6, 3)


def default_export_name(model_name: str, dataset_name: str, source: str) -> str:
    """``<model>`` for a registered dataset (synthetic, MovieLens), ``<dataset>-<model>``
    for the user's own data (a file's stem, a DataFrame's name), e.g. ``hours-ease``."""
    if dataset_name in dataset_names() and not is_table_source(source):
        return model_name
    return f"{dataset_name}-{model_name}"


def _identity(dataset: Dataset) -> tuple[str, str]:
    return dataset.name, dataset.source


def check_export_name(
    export_root, name: str | None, model_name: str, dataset_name: str, source: str
) -> str:
    """The export name (``name``, else :func:`default_export_name`), refused when the
    newest version under it was trained on another dataset (its ``tfrec.json`` says)."""
    name = name or default_export_name(model_name, dataset_name, source)
    base = Path(export_root) / name
    versions = existing_versions(base)
    meta = base / str(versions[-1]) / "assets.extra" / "tfrec.json" if versions else None
    trained_on = json.loads(meta.read_text()).get("dataset") if meta and meta.exists() else None
    if trained_on is not None and trained_on != dataset_name:
        raise ConfigError(
            f"{base} holds versions trained on {trained_on!r}, and this model on "
            f"{dataset_name!r}; give it a name of its own (tfrec train --export-name NAME, "
            "tfrec export --name NAME)"
        )
    return name


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


_split_dataset = split  # `train` has an argument named split


def _prepared_split(directory, method, data_options) -> Split:
    """The split a prepared directory holds; refuses another method or reading options."""
    from tfrec.data.prepare.load import load_prepared

    prepared = read_manifest(directory)["split"]["method"]
    if isinstance(method, Split) or (method is not None and method != prepared):
        raise ConfigError(
            f"{directory} was split {prepared!r} when it was prepared; drop --split, or "
            f"prepare it again with --split {method if isinstance(method, str) else '...'}"
        )
    if data_options:
        raise ConfigError(
            f"{directory} is a prepared dataset, read as it was prepared; the reading options "
            f"({', '.join(sorted(data_options))}) belong to `tfrec data prepare`"
        )
    return load_prepared(directory)


def load_model(path) -> Recommender:
    """Loads a saved model from its directory or from a run directory."""
    path = Path(path)
    return _load_saved_model(path / "model" if (path / "model").is_dir() else path)


def _protocol(parts: Split, refit: bool, model: Recommender) -> str:
    """The run's procedure as the model followed it, e.g. \"random split; fit on train
    (l2 chosen on validation); metrics on test\"."""
    if parts.method == "none":
        return "fit on all ratings; not evaluated"
    if refit:
        return (
            f"{parts.method} split; settings chosen on validation, refit on "
            "train+validation; metrics on test"
        )
    return f"{parts.method} split; {fit_procedure(model)}; metrics on test"


def fit_procedure(model: Recommender) -> str:
    """How ``model``'s fit used the split: \"fit on train\", with early stopping
    (models that train by epochs, with patience) and the options it chose on
    validation (:attr:`Recommender.chosen_on_validation` left unset)."""
    steps = []
    if model.trains_by_epochs and getattr(model.config, "patience", 1):
        steps.append("early stopping on validation")
    chosen = [o for o in model.chosen_on_validation if getattr(model.config, o, 0) is None]
    if chosen:
        steps.append(f"{', '.join(chosen)} chosen on validation")
    return f"fit on train ({'; '.join(steps)})" if steps else "fit on train"


def _jsonable(options: dict | None) -> dict | None:
    """Data options as config.json can hold them (a DataFrame is named, not stored)."""
    if not options:
        return None
    return {
        key: "<DataFrame>" if isinstance(value, pd.DataFrame) else value
        for key, value in options.items()
    }


def _write_run_files(
    run_dir: Path, model, parts: Split, record: dict, data_dir, data_options
) -> None:
    model.save(run_dir / "model")
    write_text(run_dir / "items.csv", item_table(parts.dataset, parts.train).to_csv(index=False))
    write_json(
        run_dir / "config.json",
        {
            "model": model.name,
            "config": model.config.to_dict(),
            "dataset": parts.dataset.name,
            "source": parts.dataset.source,
            "data_dir": str(data_dir) if data_dir else None,
            "data_options": _jsonable(data_options),
            "split": parts.method,
            "seed": record["seed"],
            "k": record["k"],
            "tfrec_version": __version__,
        },
    )
    write_json(run_dir / "metrics.json", record)


def item_table(dataset: Dataset, ratings: pd.DataFrame) -> pd.DataFrame:
    """Raw item ID, title, genres and training rating count/average, for display."""
    stats = ratings.groupby("item_id")["rating"].agg(n_ratings="size", mean_rating="mean")
    items = dataset.items[["item_id", "title", "genres"]].copy()
    items["genres"] = items["genres"].map("|".join)
    items = items.merge(stats, left_on="item_id", right_index=True, how="left")
    items["n_ratings"] = items["n_ratings"].fillna(0).astype(np.int64)
    items["mean_rating"] = items["mean_rating"].round(3)
    items["item_id"] = dataset.raw_item_ids(items["item_id"].to_numpy())
    return items

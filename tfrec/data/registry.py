"""The dataset registry: name -> official URL, checksum, format and reader.

``load_dataset(name)`` reads ``<data root>/<name>/`` as the official archive
unpacks it. The data root is, in order: the ``data_dir`` argument (CLI
``--data-dir``), ``$TFREC_DATA_DIR``, or ``~/.cache/tfrec/data``.
``fetch(name)`` downloads and verifies the archive into the data root.
Names starting with ``synthetic`` are generated, never downloaded.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tfrec.data import movielens, synthetic
from tfrec.data.download import download, safe_extract
from tfrec.data.feature_schema import FeatureSchema
from tfrec.data.interaction_log import is_table_source, k_core, read_interactions
from tfrec.data.prepare.manifest import is_prepared
from tfrec.data.schema import Dataset, validate_ratings
from tfrec.errors import DataError

_GROUPLENS = "https://files.grouplens.org/datasets/movielens"


@dataclass(frozen=True)
class DatasetSpec:
    """How to get and read one MovieLens release."""

    name: str
    sha256: str
    reader: Callable
    required_files: tuple[str, ...]
    rating_scale: tuple[float, float]
    size_mb: float
    description: str

    @property
    def url(self) -> str:
        return f"{_GROUPLENS}/{self.name}.zip"


_LATEST_FILES = ("ratings.csv", "movies.csv")
_100K_FILES = ("u.data", "u.item")
_1M_FILES = ("ratings.dat", "movies.dat")

# SHA-256 of the official archives, as pinned by TensorFlow Datasets and other
# loaders. ml-latest is re-published by GroupLens from time to time; its pin is
# the 2023-07-20 snapshot, and a newer file will fail the check (unzip it by hand).
# fmt: off
DATASETS = {spec.name: spec for spec in (
    DatasetSpec("ml-latest-small",
                "696d65a3dfceac7c45750ad32df2c259311949efec81f0f144fdfb91ebc9e436",
                movielens.read_latest, _LATEST_FILES, (0.5, 5.0), 1.0,
                "100k ratings, 610 users, 9.7k movies, with tags (educational release)"),
    DatasetSpec("ml-latest",
                "66a9e518c747d76b241d9a859b001a2619d3ed1672ceef599eb50daf73a7b4a3",
                movielens.read_latest, _LATEST_FILES, (0.5, 5.0), 335.0,
                "the full latest release (33.8M ratings, 2023-07-20 snapshot)"),
    DatasetSpec("ml-100k",
                "50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229",
                movielens.read_100k, _100K_FILES, (1.0, 5.0), 4.9,
                "100k ratings, 943 users, 1,682 movies, user demographics (1998)"),
    DatasetSpec("ml-1m",
                "a6898adb50b9ca05aa231689da44c217cb524e7ebd39d264c56e2832f2c54e20",
                movielens.read_1m, _1M_FILES, (1.0, 5.0), 5.9,
                "1M ratings, 6,040 users, 3,706 movies, user demographics (2003)"),
    DatasetSpec("ml-20m",
                "96f243c338a8665f6bcc89c53edf6ee39162a846940de6b7c8c48aeada765ff3",
                movielens.read_latest, _LATEST_FILES, (0.5, 5.0), 198.7,
                "20M ratings, 138k users, 27k movies, with tags (2015)"),
    DatasetSpec("ml-25m",
                "8b21cfb7eb1706b4ec0aac894368d90acf26ebdfb6aced3ebd4ad5bd1eb9c6aa",
                movielens.read_latest, _LATEST_FILES, (0.5, 5.0), 262.0,
                "25M ratings, 162k users, 62k movies, with tags (2019)"),
)}
# fmt: on


def dataset_names() -> list[str]:
    """All names ``load_dataset`` accepts."""
    return [*synthetic.SIZES, *synthetic.SHAPES, *DATASETS]


def data_root(data_dir: str | os.PathLike | None = None) -> Path:
    """The directory that holds one sub-directory per dataset."""
    if data_dir:
        return Path(data_dir).expanduser()
    if os.environ.get("TFREC_DATA_DIR"):
        return Path(os.environ["TFREC_DATA_DIR"]).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "tfrec" / "data"


def get_spec(name: str) -> DatasetSpec:
    """The registry entry for ``name``; raises DataError listing the known names."""
    if name not in DATASETS:
        raise DataError(f"unknown dataset {name!r}; accepted: {', '.join(dataset_names())}")
    return DATASETS[name]


def dataset_dir(name: str, data_dir=None) -> Path:
    """Where dataset ``name`` is read from: ``<root>/<name>/``.

    For convenience ``data_dir`` may also be the dataset folder itself.
    """
    spec = get_spec(name)
    root = data_root(data_dir)
    if (
        data_dir
        and not (root / name).exists()
        and all((root / f).exists() for f in spec.required_files)
    ):
        return root
    return root / name


def load_dataset(
    name="synthetic",
    data_dir=None,
    *,
    download: bool = False,
    seed: int = 0,
    min_user_interactions: int = 1,
    min_item_interactions: int = 1,
    **read_options,
) -> Dataset:
    """Loads a dataset by name, or the user's own interaction log.

    Args:
        name: ``synthetic`` (default; also ``synthetic-tiny``, ``synthetic-1m``,
            ``synthetic-25m``, ``synthetic-seq`` whose users watch in an
            order with a next-item signal, and the implicit shapes with
            strengths ``synthetic-music`` and ``synthetic-shop``), a MovieLens
            name (``ml-latest-small``, ``ml-100k``, ``ml-1m``, ``ml-20m``,
            ``ml-25m``, ``ml-latest``), or
            a ``.csv``/``.tsv``/``.parquet`` file or a pandas DataFrame (see
            :func:`tfrec.data.interaction_log.read_interactions`).
        data_dir: Directory holding ``<name>/`` as unpacked from the official
            archive; defaults to ``$TFREC_DATA_DIR`` or ``~/.cache/tfrec/data``.
        download: Download the official archive when the files are absent.
        seed: Seed of the synthetic generator (ignored for MovieLens).
        min_user_interactions: Iterative k-core filter: keep users with at
            least this many interactions (and items with at least
            ``min_item_interactions``), before any split.
        min_item_interactions: See ``min_user_interactions``.
        **read_options: For a file or DataFrame: ``columns``, ``sep``,
            ``timestamp_unit``, ``rating_scale``, ``duplicates``, ``items``,
            ``item_columns``, ``list_sep``, ``name``, and the features:
            ``users``, ``user_columns``, ``user_features``,
            ``item_features``, ``context_features``, ``context_time`` (see
            :func:`~tfrec.data.interaction_log.read_interactions`).

    Returns:
        The dataset in tfrec's schema.

    Raises:
        DataError: Unknown name, files absent (with where to put them),
            malformed files.
    """
    if is_prepared(name):
        from tfrec.data.prepare.load import load_prepared

        return load_prepared(name).dataset
    if is_table_source(name):
        return read_interactions(
            name,
            min_user_interactions=min_user_interactions,
            min_item_interactions=min_item_interactions,
            **read_options,
        )
    given = sorted(k for k, v in read_options.items() if v is not None)
    if given:
        raise DataError(
            f"{', '.join(given)} apply to your own files only; {name!r} is a registered "
            "dataset with a known format"
        )
    dataset = _load_registered(name, data_dir, download, seed)
    if min_user_interactions > 1 or min_item_interactions > 1:
        before = dataset.info()
        dataset.ratings = k_core(
            dataset.ratings, min_user_interactions, min_item_interactions
        ).reset_index(drop=True)
        after = dataset.info()
        if dataset.users is not None:  # one row per user of the ratings, as before the filter
            kept = dataset.users["user_id"].isin(dataset.ratings["user_id"].unique())
            dataset.users = dataset.users[kept.to_numpy()].reset_index(drop=True)
        dataset.extra["k_core"] = {
            part: {key: info[key] for key in ("n_users", "n_items", "n_ratings")}
            for part, info in (("before", before), ("after", after))
        }
    return dataset


def _load_registered(name: str, data_dir, download: bool, seed: int) -> Dataset:
    if name in synthetic.SHAPES:
        return synthetic.SHAPES[name](seed=seed, name=name)
    if name in synthetic.SIZES:
        n_users, n_items, n_ratings = synthetic.SIZES[name]
        sequential = synthetic.SEQUENTIAL.get(name, 0.0)
        return synthetic.generate(
            n_users, n_items, n_ratings, sequential=sequential, seed=seed, name=name
        )
    spec = get_spec(name)
    directory = dataset_dir(name, data_dir)
    missing = [f for f in spec.required_files if not (directory / f).exists()]
    if missing and download:
        directory = fetch(name, data_dir)
    elif missing:
        raise DataError(
            f"dataset {name!r} not found: {directory} lacks {', '.join(missing)}. "
            f"Run `tfrec data fetch {name}` to download it ({spec.size_mb:g} MB from {spec.url}), "
            f"or unzip that archive so that {directory / spec.required_files[0]} exists "
            f"(or point --data-dir / TFREC_DATA_DIR at the folder holding {name}/)"
        )
    ratings, items, users = spec.reader(directory)
    ratings = validate_ratings(ratings, spec.rating_scale, str(directory))
    features = FeatureSchema()
    if users is not None:  # ml-100k, ml-1m: demographics as user features
        users, features = movielens.demographics(users, ratings)
    return Dataset(
        name=name,
        ratings=ratings,
        items=items,
        users=users,
        rating_scale=spec.rating_scale,
        source=str(directory),
        features=features,
    )


def fetch(name: str, data_dir=None, *, quiet: bool = False) -> Path:
    """Downloads, verifies and unpacks the official archive of ``name``.

    Returns:
        The unpacked dataset directory, ``<data root>/<name>``.
    """
    if name in synthetic.SIZES or name in synthetic.SHAPES:
        raise DataError(f"{name!r} is generated on the fly; there is nothing to fetch")
    spec = get_spec(name)
    root = data_root(data_dir)
    archive = root / f"{name}.zip"
    if not quiet:
        print(f"Downloading {spec.url} ({spec.size_mb:g} MB) into {root}")
    try:
        download(spec.url, archive, spec.sha256, quiet=quiet)
        return safe_extract(archive, root / name, name)
    finally:
        archive.unlink(missing_ok=True)

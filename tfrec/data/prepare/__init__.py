"""``tfrec data prepare``: a log larger than memory, read once into split shards.

:func:`prepare` reads an interaction log (a file, a glob, or a directory of
Parquet or CSV parts) with DuckDB, an embedded engine that spills to disk
beyond its memory limit, and writes a *prepared directory*
(:mod:`~tfrec.data.prepare.manifest`): the user and item vocabularies with
their counts, train / validation / test shards partitioned by a hash of the
user (a user's rows sit in one shard, in time order) and a manifest.

The engine is DuckDB, or Apache Spark (``engine="spark"``: ``_spark.py``,
locally or on a cluster), which runs the same statements (:mod:`._sql`).

It reads the log as the in-memory reader does
(:func:`~tfrec.data.interaction_log.read_interactions`: the same column
detection, ID text, time units, duplicates policies and k-core) and splits
as :func:`tfrec.splits.split` does, so both paths put the same rows in
train, validation and test. Stages (read, vocabularies, code, duplicates,
k-core, split, shards) run once each; a killed preparation resumes where it
stopped, and the directory appears, complete, only at the end.
"""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
import time
import types
from pathlib import Path

import numpy as np
import pandas as pd

from tfrec.data import feature_columns as fc
from tfrec.data.feature_schema import Feature, parse_features
from tfrec.data.interaction_log import (
    _KEPT,
    DUPLICATE_POLICIES,
    TIMESTAMP_UNITS,
    _check_feature_sources,
    _check_min,
    _read_items_table,
    _read_users,
    _taken,
    _vocabulary,
    parse_mapping,
)
from tfrec.data.prepare import _sql
from tfrec.data.prepare._runner import Runner
from tfrec.data.prepare._source import (
    Source,
    feature_text,
    find_files,
    first_bad_row,
    id_expression,
    rating_is_a_scale,
    sql_name,
    time_expression,
    where,
)
from tfrec.data.prepare.manifest import FORMAT, FORMAT_VERSION, MANIFEST, PARTS, is_prepared
from tfrec.errors import ConfigError, DataError, check_choice, check_positive_int
from tfrec.io import replace_dir, write_json
from tfrec.version import __version__

PREPARE_SPLITS = ("temporal", "leave-one-out", "random", "global-time", "none")
ENGINES = ("duckdb", "spark")
ROWS_PER_SHARD = 4_000_000  # the default number of shards: one per this many rows

__all__ = ["PrepareOptions", "is_prepared", "prepare"]


@dataclasses.dataclass
class PrepareOptions:
    """How to read and split a log (the options of the own-data path, plus shards).

    Attributes:
        columns: ``"user=C,item=C[,rating=C][,timestamp=C][,weight=C]"``;
            unmapped keys detected, ``KEY=none`` absent.
        sep: Field separator of text files (detected when None).
        header: False when text files have no header row.
        names: Column names of headerless text files.
        timestamp_unit: ``s``, ``ms`` or ``iso`` (detected when None).
        rating_scale: (lowest, highest); the data's range when None.
        duplicates: ``last``, ``first``, ``mean``, ``count`` or ``error``
            (None: ``last`` with ratings, ``count`` without).
        min_user_interactions: k-core threshold on users.
        min_item_interactions: k-core threshold on items.
        items: An items table (copied into the prepared directory).
        item_columns: The items table's columns.
        item_header: Whether the items table (text) has a header line.
        item_names: Column names of a headerless items table.
        list_sep: Separator of the items and users tables' list columns.
        item_features: Columns of the items table that are features
            (``name[=type],...``; none when None).
        users: A user table (copied into the prepared directory).
        user_columns: The user table's columns (``user=C``).
        user_header: Whether the user table (text) has a header line.
        user_names: Column names of a headerless user table.
        user_features: Columns of the user table that are features (every
            other column, types detected, when None).
        context_features: Columns of the log that are request context
            (``name[=type],...``: device, country of the request...), typed as
            the in-memory reader types them (detected on every row read) and
            written to the shards with each interaction.
        context_time: Each interaction's hour of day and weekday are request
            context (``FeatureSchema.context_time``): models that read
            context encode them from the timestamp the shards hold. Needs a
            time column.
        split: ``temporal``, ``leave-one-out``, ``random``, ``global-time`` or ``none``.
        fraction: Share of validation and of test.
        seed: Seed of the random split.
        shards: Shards per part (None: one per 4M interactions).
        name: Dataset name (the log's name by default).
    """

    columns: str | dict | None = None
    sep: str | None = None
    header: bool = True
    names: str | list | None = None
    timestamp_unit: str | None = None
    rating_scale: tuple | None = None
    duplicates: str | None = None
    min_user_interactions: int = 1
    min_item_interactions: int = 1
    items: str | None = None
    item_columns: str | dict | None = None
    item_header: bool = True
    item_names: str | list | None = None
    list_sep: str = "|"
    item_features: str | dict | None = None
    users: str | None = None
    user_columns: str | dict | None = None
    user_header: bool = True
    user_names: str | list | None = None
    user_features: str | dict | None = None
    context_features: str | dict | None = None
    context_time: bool = False
    split: str = "temporal"
    fraction: float = 0.1
    seed: int = 0
    shards: int | None = None
    name: str | None = None

    def validate(self) -> None:
        check_choice("split", self.split, PREPARE_SPLITS)
        if self.timestamp_unit is not None:
            check_choice("timestamp_unit", self.timestamp_unit, TIMESTAMP_UNITS)
        if self.duplicates is not None:
            check_choice("duplicates", self.duplicates, DUPLICATE_POLICIES)
        _check_min("min_user_interactions", self.min_user_interactions)
        _check_min("min_item_interactions", self.min_item_interactions)
        if not 0 < self.fraction < 0.5:
            raise ConfigError(f"fraction must be between 0 and 0.5; got {self.fraction!r}")
        if self.shards is not None:
            check_positive_int("shards", self.shards)
        _check_feature_sources(
            self.users,
            self.items,
            {
                "user": parse_features(self.user_features, "user"),
                "item": parse_features(self.item_features, "item"),
            },
            self.user_columns,
        )


def prepare(
    source,
    out,
    options: PrepareOptions | None = None,
    *,
    memory_limit: str | None = None,
    threads: int | None = None,
    overwrite: bool = False,
    verbose: bool = True,
    engine: str = "duckdb",
    spark_master: str | None = None,
) -> dict:
    """Reads a log with DuckDB or Spark and writes a prepared directory (module docstring).

    Args:
        source: A log file, a glob, or a directory of Parquet or CSV parts.
        out: The prepared directory to write; it appears only when complete
            (the work in progress is in ``OUT.partial``, reused by a rerun).
        options: :class:`PrepareOptions`.
        memory_limit: DuckDB's memory limit (None: 4GB); beyond it, it spills to
            disk. Refused with Spark (size its driver and executors instead).
        threads: DuckDB's threads, or Spark's cores in ``local[N]`` (None: every core).
        overwrite: Replace an existing ``out``.
        verbose: Print each stage with its progress and ETA to stderr.
        engine: ``duckdb`` or ``spark`` (needs ``pip install tfrec[spark]`` and Java 17+).
        spark_master: Spark's master URL (``local[N]``, ``yarn``, ``spark://HOST:7077``);
            None: the active SparkSession's, else ``local[threads or every core]``.

    Returns:
        The manifest (also written to ``out/manifest.json``).

    Raises:
        DataError: Unreadable or invalid data, naming the file and row.
        ConfigError: Invalid options, or ``out`` exists without ``overwrite``.
    """
    options = options or PrepareOptions()
    options.validate()
    check_choice("engine", engine, ENGINES)
    if engine == "spark":
        from tfrec.data.prepare._spark import check_spark_options

        check_spark_options(source, out, memory_limit, threads, spark_master)
    elif spark_master is not None:
        raise ConfigError(
            f"engine must be 'spark' with a spark_master; got {engine!r} (add --engine spark)"
        )
    out = Path(out).expanduser()
    if out.exists() and not overwrite:
        raise ConfigError(
            f"{out} already exists; pass --overwrite to replace it, or choose another --out"
        )
    files = find_files(source)
    fingerprint = {
        "options": _jsonable(dataclasses.asdict(options)),
        "files": [[str(f.resolve()), f.stat().st_size, f.stat().st_mtime_ns] for f in files],
        "tfrec": __version__,
        "engine": engine,
    }
    work = out.with_name(out.name + ".partial")
    started = time.perf_counter()
    if engine == "spark":
        from tfrec.data.prepare._spark import SparkRunner

        runner = SparkRunner(work, fingerprint, threads, spark_master, verbose)
    else:
        runner = Runner(work, fingerprint, memory_limit or "4GB", threads, verbose)
    try:
        named = Path(source).name if Path(source).expanduser().is_dir() else None
        log = Source(files, options.sep, options.header, options.names, named)
        manifest = _Preparation(runner, log, options, work).run()
    finally:
        runner.close()
    manifest["seconds"] = round(time.perf_counter() - started, 2)
    manifest["stage_seconds"] = runner.state.get("seconds", {})
    manifest["resumed"] = runner.resumed
    write_json(work / MANIFEST, manifest)
    for leftover in runner.leftovers:
        path = work / leftover
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    replace_dir(work, out)
    runner.say(
        f"wrote {out}/ ({manifest['counts']['n_interactions']:,} interactions, "
        f"{manifest['n_shards']} shards per part) in {manifest['seconds']:.1f}s"
    )
    return manifest


class _Preparation:
    """The stages of one preparation, over one :class:`Runner`."""

    def __init__(self, runner: Runner, source: Source, options: PrepareOptions, work: Path):
        self.runner, self.source, self.options, self.work = runner, source, options, work
        self.sql = runner.sql

    def run(self) -> dict:
        o = self.options
        read = self.runner.stage("read", self._read)
        if o.context_time and not read["has_timestamps"]:
            raise ConfigError(
                "context_time reads each interaction's hour and weekday, and the log has no "
                "timestamp column; map one (--columns timestamp=COLUMN) or drop --context-time"
            )
        weighted = read["weighted"]
        vocab = self.runner.stage("vocabularies", self._vocabularies)
        self.runner.stage("code", self._code)
        policy = o.duplicates or ("count" if read["implicit"] else "last")
        dedup = self.runner.stage("duplicates", lambda: self._deduplicate(policy, weighted))
        k_core = self.runner.stage("k_core", self._k_core)
        n = k_core["after"]["n_ratings"]
        shards = o.shards or max(1, math.ceil(n / ROWS_PER_SHARD))
        weighted = dedup["weighted"]
        parts = self.runner.stage("split", lambda: self._split(shards, weighted))
        files = self.runner.stage("shards", lambda: self._write(shards, weighted))
        notes = read["notes"] + dedup["notes"]
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "tfrec_version": __version__,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "name": o.name or self.source.name,
            "source": self.source.label,
            "engine": self.runner.engine,
            "options": _jsonable(dataclasses.asdict(o)),
            "columns": read["mapping"],
            "duplicates": policy,
            "implicit": read["implicit"],
            "has_timestamps": read["has_timestamps"],
            "context_time": o.context_time,
            "context_features": read["context"],
            "weighted": weighted,
            "rating_scale": read["rating_scale"],
            "user_ids": vocab["users"],
            "item_ids": vocab["items"],
            "items_table": vocab["items_table"],
            "users_table": vocab["users_table"],
            "split": {"method": o.split, "fraction": o.fraction, "seed": o.seed},
            "counts": {**k_core["after"], "n_interactions": n, **parts},
            "k_core": k_core
            if (o.min_user_interactions > 1 or o.min_item_interactions > 1)
            else None,
            "n_shards": shards,
            "shards": files,
            "notes": notes,
        }

    # -- stages ------------------------------------------------------------------------------

    def _read(self) -> dict:
        """The log's mapped columns, typed and checked, with each row's position."""
        o, source, con = self.options, self.source, self.runner.con
        given = parse_mapping(o.columns)
        notes: list[str] = []
        names = self.runner.source_columns(source)
        mapping = source.resolve(names, given)
        wanted = parse_features(o.context_features, "context")
        listing = types.SimpleNamespace(names=names, source=source.label)
        fc.check_columns(listing, wanted, "--context-features", _taken(mapping))
        self.runner.load(source, mapping, tuple(wanted))
        relation = "src"
        kinds = {n: k for n, k, *_ in con.execute("DESCRIBE src").fetchall()}
        if "rating" in mapping and "rating" not in given:
            scale, shown = rating_is_a_scale(con, relation, mapping["rating"])
            if not scale:
                column = mapping.pop("rating")
                notes.append(
                    f"column {column!r} is not read as a rating: it has {shown}, not a rating "
                    f"scale; the data is implicit feedback (map it with --columns "
                    f"rating={column} or weight={column})"
                )
        if "weight" in mapping:
            c = sql_name(mapping["weight"])
            (bad,) = con.execute(
                f"SELECT count(*) FROM {relation} WHERE NOT coalesce(TRY_CAST({c} AS DOUBLE) >= 0,"
                " false)"
            ).fetchone()
            if bad and "weight" not in given:
                column = mapping.pop("weight")
                notes.append(
                    f"column {column!r} is not read as a weight: it is not a non-negative number "
                    "on every row (map another with --columns weight=COLUMN)"
                )
        implicit, weighted = "rating" not in mapping, "weight" in mapping
        has_timestamps = "timestamp" in mapping
        if o.rating_scale is not None and implicit:
            raise ConfigError("rating_scale needs a rating column; this data has none")
        columns = [
            f"{id_expression(mapping['user'], kinds[mapping['user']])} AS user_raw",
            f"{id_expression(mapping['item'], kinds[mapping['item']])} AS item_raw",
            "CAST(1.0 AS FLOAT) AS rating"
            if implicit
            else f"TRY_CAST({sql_name(mapping['rating'])} AS FLOAT) AS rating",
            time_expression(
                con,
                relation,
                mapping["timestamp"],
                kinds[mapping["timestamp"]],
                o.timestamp_unit,
                self.runner.engine,
            )
            + " AS timestamp"
            if has_timestamps
            else "CAST(0 AS BIGINT) AS timestamp",
        ]
        if weighted:
            columns.append(f"TRY_CAST({sql_name(mapping['weight'])} AS FLOAT) AS weight")
        for name, column in zip(wanted, _sql.context_columns(len(wanted)), strict=True):
            text = feature_text(name, kinds[name], not source.parquet)
            columns.append(f"{text} AS {column}")
        self.sql(
            "CREATE OR REPLACE TABLE raw AS SELECT " + ", ".join(columns) + ", row FROM src",
            "typing the columns",
        )
        self.sql("DROP TABLE src")
        self._refuse(
            "raw",
            "user_raw IS NULL OR trim(user_raw) = ''",
            f"empty {mapping['user']!r} (an ID is missing)",
            "remove the row or fill the ID",
        )
        self._refuse(
            "raw",
            "item_raw IS NULL OR trim(item_raw) = ''",
            f"empty {mapping['item']!r} (an ID is missing)",
            "remove the row or fill the ID",
        )
        if not implicit:
            self._refuse(
                "raw",
                "rating IS NULL OR isnan(rating)",
                f"rating column {mapping['rating']!r} is empty or not a number",
                "fix or remove those rows, or map another column",
            )
        if weighted:
            self._refuse(
                "raw",
                "weight IS NULL OR isnan(weight) OR weight < 0",
                f"weight column {mapping['weight']!r} is not a non-negative number",
                "a weight is a count, hours or a quantity: fix or drop those rows",
            )
        if has_timestamps:
            self._refuse(
                "raw",
                "timestamp IS NULL",
                f"cannot read the time in column {mapping['timestamp']!r}",
                "use ISO 8601 (2024-05-01T12:30:00), epoch seconds or milliseconds",
            )
        n, low, high, padded = con.execute(
            "SELECT count(*), min(rating), max(rating), count(*) FILTER "
            "(WHERE trim(user_raw) <> user_raw OR trim(item_raw) <> item_raw) FROM raw"
        ).fetchone()
        if n == 0:
            raise DataError(f"{source.label}: the log has no rows")
        if padded:
            notes.append(
                f"{padded:,} rows have IDs with leading or trailing spaces; IDs are kept exactly "
                "as written, so 'a ' and 'a' are different IDs"
            )
        scale = [1.0, 1.0] if implicit else [float(low), float(high)]
        if o.rating_scale is not None:
            scale = [float(x) for x in o.rating_scale]
            if not scale[0] < scale[1]:
                raise ConfigError(
                    f"rating scale must be LO,HI with LO < HI; got {scale[0]:g},{scale[1]:g}"
                )
            self._refuse(
                "raw",
                f"rating < {scale[0]!r} OR rating > {scale[1]!r}",
                f"rating outside the rating scale [{scale[0]:g}, {scale[1]:g}]",
                "fix the data or the --rating-scale",
            )
        context = self._context_types(wanted, o.list_sep, notes)
        return {
            "mapping": mapping,
            "context": context,
            "implicit": implicit,
            "weighted": weighted,
            "has_timestamps": has_timestamps,
            "rating_scale": scale,
            "n_rows": int(n),
            "notes": notes,
        }

    def _context_types(self, wanted: dict, list_sep: str, notes: list[str]) -> list[dict]:
        """Each context column's type, given or detected as the in-memory reader
        detects it (:func:`~tfrec.data.feature_columns.detect_type` over the
        distinct values, in the order they first occur), and a numeric one's
        first non-number refused with its line."""
        features, detected, out = [], [], []
        for (name, kind), column in zip(
            wanted.items(), _sql.context_columns(len(wanted)), strict=True
        ):
            values = self.runner.con.execute(
                f"SELECT {column} FROM (SELECT {column}, min(row) AS first FROM raw "
                f"WHERE {column} <> '' GROUP BY {column}) AS v ORDER BY first"
            ).fetchnumpy()[column]
            present = pd.Series(np.asarray(values, dtype=object), dtype=object)
            if kind is None:
                kind = fc.detect_type(present, list_sep)
                detected.append(name)
            if kind == "numeric":
                bad = present[pd.to_numeric(present, errors="coerce").isna()]
                if len(bad):
                    self._refuse_values(name, column, bad)
            features.append(Feature(name, "context", kind))
            out.append({"name": name, "type": kind, "column": column})
        if features:
            notes.append(fc.features_note("context", features, detected))
        return out

    def _refuse_values(self, name: str, column: str, bad: pd.Series) -> None:
        """Refuses the first row whose numeric context ``column`` holds one of ``bad``."""
        con = self.runner.con
        con.register("bad_values", pd.DataFrame({"value": bad.astype(str).to_numpy()}))
        try:  # the values come from raw: a row holds one
            row, count = first_bad_row(con, "raw", f"{column} IN (SELECT value FROM bad_values)")
        finally:
            con.unregister("bad_values")
        raise DataError(
            f"{where(self.source, row)}: numeric feature {name!r} has {bad.iloc[0]!r}, which is "
            f"not a number ({count:,} such rows); fix the value or make it a category "
            f"(--context-features {name}=category)"
        )

    def _context(self) -> tuple[str, ...]:
        """The context columns the tables carry (``context_0``, ...)."""
        return tuple(c["column"] for c in self.runner.done("read").get("context", []))

    def _vocabularies(self) -> dict:
        """Each distinct raw ID's code, as the in-memory reader assigns them."""
        con, o = self.runner.con, self.options
        kinds = {}
        for what in ("user", "item"):
            values = con.execute(f"SELECT DISTINCT {what}_raw FROM raw").fetchnumpy()[f"{what}_raw"]
            values = np.asarray(values, dtype=object).astype(str)
            table_kind = None
            if what == "item" and o.items is not None:
                table, item_mapping = _read_items_table(
                    o.items,
                    o.item_columns,
                    o.item_header,
                    o.item_names,
                    features=parse_features(o.item_features, "item"),
                )
                values = np.union1d(values, np.asarray(table.ids(item_mapping["item"])).astype(str))
                suffix = Path(o.items).suffix
                shutil.copyfile(o.items, self.work / f"items_table{suffix}")
                table_kind = {
                    "file": f"items_table{suffix}",
                    "item_columns": item_mapping,
                    "header": o.item_header,
                    "names": o.item_names,
                    "list_sep": o.list_sep,
                    "item_features": o.item_features,
                }
            if what == "user":
                kinds["users_table"] = self._users_table()
            import pyarrow as pa

            vocab, codes = _vocabulary(pa.array(values, pa.string()))
            kind = "integer" if vocab is None else ("string" if vocab.is_string else "int64")
            frame = pd.DataFrame({"raw": values, "code": codes.astype(np.int32)})
            con.register("vocab_frame", frame)
            self.sql(f"CREATE OR REPLACE TABLE {what}_vocab AS SELECT * FROM vocab_frame")
            con.unregister("vocab_frame")
            kinds[f"{what}s"] = kind
            kinds[f"{what}s_in_vocabulary"] = len(values)
            if what == "item":
                kinds["items_table"] = table_kind
        return kinds

    def _users_table(self) -> dict | None:
        """Copies the user table into the directory, read once here so that a bad
        one is refused now (its features are typed when the directory is loaded)."""
        o = self.options
        if o.users is None:
            return None
        wanted = parse_features(o.user_features, "user")
        _, _, _, column = _read_users(
            o.users,
            o.user_columns,
            o.user_header,
            o.user_names,
            wanted,
            o.list_sep,
            None,
            np.array([], np.int64),
        )
        suffix = Path(o.users).suffix
        shutil.copyfile(o.users, self.work / f"users_table{suffix}")
        return {
            "file": f"users_table{suffix}",
            "user_columns": {"user": column},
            "header": o.user_header,
            "names": o.user_names,
            "user_features": o.user_features,
            "list_sep": o.list_sep,
        }

    def _code(self) -> dict:
        weight = ", raw.weight" if self.runner.done("read")["weighted"] else ""
        context = "".join(f", raw.{c}" for c in self._context())
        self.sql(
            "CREATE OR REPLACE TABLE coded AS SELECT u.code AS user_id, i.code AS item_id, "
            f"raw.rating, raw.timestamp{weight}{context}, raw.row FROM raw "
            "JOIN user_vocab u ON raw.user_raw = u.raw JOIN item_vocab i ON raw.item_raw = i.raw "
            "ORDER BY raw.row",
            "coding the IDs",
        )
        return {}

    def _deduplicate(self, policy: str, weighted: bool) -> dict:
        con = self.runner.con
        (n,) = con.execute("SELECT count(*) FROM coded").fetchone()
        if policy == "error":
            found = con.execute(
                "SELECT min(row), count(*) FROM (SELECT row, row_number() OVER (PARTITION BY "
                "user_id, item_id ORDER BY row) AS k FROM coded) AS r WHERE k > 1"
            ).fetchone()
            if found[1]:
                user, item = con.execute(
                    f"SELECT user_raw, item_raw FROM raw WHERE row = {found[0]}"
                ).fetchone()
                raise DataError(
                    f"{where(self.source, found[0])}: user {user!r} and item {item!r} occur "
                    f"again ({found[1]} repeated pairs); choose --duplicates last, first, mean "
                    "or count"
                )
            self.sql("CREATE OR REPLACE TABLE kept AS SELECT * FROM coded ORDER BY row")
        else:
            self.sql(
                "CREATE OR REPLACE TABLE kept AS "
                + _sql.deduplicate(policy, weighted, self._context()),
                f"duplicates ({policy})",
            )
        (kept,) = con.execute("SELECT count(*) FROM kept").fetchone()
        notes = []
        if kept < n:
            what = _KEPT[policy]
            if policy == "count" and weighted:
                what = "kept one row each, its weight the sum of theirs"
            notes.append(f"{n - kept:,} repeated (user, item) rows: {what} (--duplicates {policy})")
        self.sql("DROP TABLE IF EXISTS raw")
        self.sql("DROP TABLE IF EXISTS coded")
        # As the in-memory reader: counting repeats makes a weight column (the counts).
        counted = policy == "count" and kept < n
        return {"collapsed": int(n - kept), "notes": notes, "weighted": weighted or counted}

    def _k_core(self) -> dict:
        o, con = self.options, self.runner.con
        before = _counts(con)
        passes = 0
        if o.min_user_interactions > 1 or o.min_item_interactions > 1:
            n = before["n_ratings"]
            while True:
                passes += 1
                self.sql(
                    "CREATE OR REPLACE TABLE kept_next AS "
                    + _sql.k_core_pass(o.min_user_interactions, o.min_item_interactions),
                    f"k-core pass {passes}",
                )
                self.sql("DROP TABLE kept")
                self.sql("ALTER TABLE kept_next RENAME TO kept")
                (left,) = con.execute("SELECT count(*) FROM kept").fetchone()
                if left == n:
                    break
                n = left
            if n == 0:
                raise DataError(
                    "no interactions left after the k-core filter (min_user_interactions="
                    f"{o.min_user_interactions}, min_item_interactions={o.min_item_interactions});"
                    " lower the thresholds"
                )
        return {"before": before, "after": _counts(con), "passes": passes}

    def _split(self, shards: int, weighted: bool) -> dict:
        o, con = self.options, self.runner.con
        if (
            o.split in ("temporal", "leave-one-out", "global-time")
            and not self.runner.done("read")["has_timestamps"]
        ):
            raise ConfigError(
                f"split {o.split!r} orders interactions by time, and the log has no timestamp "
                "column; use --split random (or map one: --columns timestamp=COLUMN)"
            )
        if o.split == "random":
            self._random_parts()
        self.sql(
            "CREATE OR REPLACE TABLE final AS "
            + _sql.final(o.split, o.fraction, shards, weighted, self._context()),
            f"splitting ({o.split}) into {shards} shards",
        )
        self.sql("DROP TABLE IF EXISTS parts")
        sizes = dict(con.execute("SELECT part, count(*) FROM final GROUP BY part").fetchall())
        return {name: int(sizes.get(i, 0)) for i, name in enumerate(PARTS)}

    def _random_parts(self) -> None:
        """Table ``parts`` (idx, part): numpy's draws of :func:`tfrec.splits._random`
        for the kept rows in log order (the engine draws them)."""
        (n,) = self.runner.con.execute("SELECT count(*) FROM kept").fetchone()
        self.runner.random_parts(int(n), self.options.seed, self.options.fraction)

    def _write(self, shards: int, weighted: bool) -> dict:
        """One Parquet file per (part, shard), and the vocabularies with counts."""
        files = self.runner.write_shards(self.work, shards, weighted, self._context())
        self.runner.write_vocabularies(self.work)
        return files

    def _refuse(self, table: str, condition: str, what: str, fix: str) -> None:
        bad = first_bad_row(self.runner.con, table, condition)
        if bad is not None:
            row, count = bad
            raise DataError(f"{where(self.source, row)}: {what} ({count:,} such rows); {fix}")


def _counts(con) -> dict:
    n_users, n_items, n = con.execute(
        "SELECT count(DISTINCT user_id), count(DISTINCT item_id), count(*) FROM kept"
    ).fetchone()
    return {"n_users": int(n_users), "n_items": int(n_items), "n_ratings": int(n)}


def _jsonable(value):
    return json.loads(json.dumps(value, default=str))

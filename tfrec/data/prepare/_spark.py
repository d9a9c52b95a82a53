"""The preparation on Apache Spark: the same stages and statements, over Spark SQL.

:class:`SparkRunner` has :class:`~tfrec.data.prepare._runner.Runner`'s
interface, so ``_Preparation`` runs unchanged: every statement of
:mod:`~tfrec.data.prepare._sql` (and of the read and check stages) is
executed by Spark SQL, with ANSI double-quoted identifiers so that the text
is the one DuckDB runs. A tiny shim (:class:`_Connection`) gives the few DDL
statements (``CREATE OR REPLACE TABLE t AS``, ``DROP TABLE``, ``ALTER TABLE
.. RENAME``, ``DESCRIBE``) their Spark meaning: a table is a Parquet folder
under ``OUT.partial/tables`` registered as a temporary view (without the
statement's trailing ``ORDER BY``: no step relies on a table's order), so a
killed preparation resumes from the stages done, as with DuckDB.

What is Spark's own: reading the files (each row's position in the log,
from the scan's partitions), the random split's draws (numpy's seeded
stream, jumped ahead to each partition's first row, so the draws equal the
in-memory split's) and writing the shard files (one partitioned write, each
(part, shard) one file). ``OUT`` must be a path the driver and every
executor see (local disk with ``local[N]``; a shared mount on a cluster).
"""

from __future__ import annotations

import os
import re
import shutil
import threading
import time
import warnings
from pathlib import Path
from urllib.parse import unquote, urlparse

from tfrec.data.prepare import _sql
from tfrec.data.prepare._runner import PRINT_EVERY_S, STATE, Stages, duration
from tfrec.data.prepare._source import sql_name
from tfrec.data.prepare.manifest import PARTS
from tfrec.errors import ConfigError, DataError

TABLES = "tables"
SHARDS_TMP = "shards.tmp"
ROWS_PER_DRAW_TASK = 5_000_000  # random split: rows drawn by one Spark task
# Session settings the statements need (restored on close when the session was given).
SQL_CONF = {
    "spark.sql.ansi.enabled": "true",
    "spark.sql.ansi.doubleQuotedIdentifiers": "true",  # "column" as in DuckDB
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
}
# pyspark's notice that it is not yet tested with pandas 3 (the conversions used here work).
warnings.filterwarnings(
    "ignore", message="PySpark does not yet fully support pandas", category=FutureWarning
)
# Spark's type names as DuckDB's, which the read stage's expressions test.
_KINDS = {"string": "VARCHAR", "double": "DOUBLE", "float": "FLOAT", "bigint": "BIGINT",
          "int": "INTEGER", "smallint": "SMALLINT", "tinyint": "TINYINT", "date": "DATE",
          "timestamp": "TIMESTAMP WITH TIME ZONE", "timestamp_ntz": "TIMESTAMP",
          "boolean": "BOOLEAN"}  # fmt: skip


def check_spark_options(source, out, memory_limit, threads, master) -> None:
    """Refuses what engine ``spark`` does not take, one line each with the fix."""
    if memory_limit is not None:
        raise ConfigError(
            f"memory_limit must be unset with engine 'spark' (it is DuckDB's); got "
            f"{memory_limit!r}; set spark.driver.memory and spark.executor.memory in "
            "$SPARK_CONF_DIR/spark-defaults.conf"
        )
    if threads is not None and master is not None and not master.startswith("local"):
        raise ConfigError(
            f"threads must be unset with spark_master {master!r} (it sets local[N]); got "
            f"{threads}; set spark.executor.cores and spark.executor.instances in "
            "$SPARK_CONF_DIR/spark-defaults.conf"
        )
    for name, path in (("source", source), ("out", out)):
        if "://" in str(path):
            raise ConfigError(
                f"{name} must be a path that the driver and every executor see (a shared "
                f"mount); got {str(path)!r}; mount the bucket or share the folder (NFS, "
                "a FUSE mount) and pass its path"
            )
    try:
        import pyspark  # noqa: F401
    except ImportError:
        raise ConfigError(
            "engine 'spark' must have pyspark installed; got none; pip install "
            "'tfrec[spark]' (and Java 17 or later)"
        ) from None


class SparkRunner(Stages):
    """Runs the stages' SQL on Spark; tables are Parquet folders in ``work/tables``.

    Args:
        work: The work directory, seen by the driver and every executor.
        fingerprint: As :class:`~tfrec.data.prepare._runner.Stages`.
        threads: Cores of ``local[N]`` when this runner starts Spark (None: every core).
        master: Spark's master URL; None: the active SparkSession's, else ``local[N]``.
        verbose: Print progress to stderr.
    """

    engine = "spark"
    leftovers = (STATE, TABLES, SHARDS_TMP)

    def __init__(self, work: Path, fingerprint: dict, threads, master, verbose: bool):
        from pyspark.sql import SparkSession

        work = work.absolute()  # the JVM's working directory is not Python's
        super().__init__(work, fingerprint, verbose)
        active = SparkSession.getActiveSession()
        self.owned = active is None
        if active is not None:
            if master is not None and master != active.sparkContext.master:
                raise ConfigError(
                    f"spark_master must be the running SparkSession's "
                    f"{active.sparkContext.master!r}; got {master!r}; leave --spark-master "
                    "out, or stop that session first"
                )
            if threads is not None:
                raise ConfigError(
                    f"threads must be unset while a SparkSession runs (master "
                    f"{active.sparkContext.master!r}); got {threads}; leave --threads out"
                )
            self.spark = active
        else:
            master = master or f"local[{threads or os.cpu_count() or 1}]"
            self.spark = (
                SparkSession.builder.master(master)
                .appName("tfrec data prepare")
                .config("spark.ui.showConsoleProgress", "false")
                .getOrCreate()
            )
            self.spark.sparkContext.setLogLevel("ERROR")
        self.say(f"engine: Spark {self.spark.version}, master {self.spark.sparkContext.master}")
        self._restore = {}
        for key, value in SQL_CONF.items():
            self._restore[key] = self.spark.conf.get(key, None)
            self.spark.conf.set(key, value)
        self.tables = work / TABLES
        self.tables.mkdir(exist_ok=True)
        self.views: set[str] = set()
        for path in sorted(self.tables.iterdir()):  # an earlier attempt's tables
            if not path.name.startswith(".") and (path / "_SUCCESS").exists():
                self._view(path.name)
        self.con = _Connection(self)

    # -- tables ------------------------------------------------------------------------------

    def materialize(self, name: str, frame) -> None:
        """Writes ``frame`` as table ``name`` (a Parquet folder) and registers its view."""
        tmp, path = self.tables / f".{name}.tmp", self.tables / name
        frame.write.mode("overwrite").parquet(str(tmp))
        shutil.rmtree(path, ignore_errors=True)
        os.replace(tmp, path)
        self._view(name)

    def drop(self, name: str) -> None:
        self.spark.catalog.dropTempView(name)
        self.views.discard(name)
        shutil.rmtree(self.tables / name, ignore_errors=True)

    def rename(self, old: str, new: str) -> None:
        self.drop(new)
        os.replace(self.tables / old, self.tables / new)
        self.spark.catalog.dropTempView(old)
        self.views.discard(old)
        self._view(new)

    def _view(self, name: str) -> None:
        self.spark.read.parquet(str(self.tables / name)).createOrReplaceTempView(name)
        self.views.add(name)

    # -- statements ---------------------------------------------------------------------------

    def sql(self, text: str, what: str = ""):
        """Executes one statement, printing the progress of Spark's tasks while it runs."""
        return self.watched(what, lambda: self.con.execute(text))

    def watched(self, what: str, run):
        """``run()``, printing the progress of Spark's tasks every few seconds; a
        failure of the data is a DataError naming ``what``."""
        finished = threading.Event()
        watcher = threading.Thread(target=self._watch, args=(what, finished), daemon=True)
        watcher.start()
        try:
            return run()
        except Exception as e:
            raise _data_error(e, what) from None
        finally:
            finished.set()
            watcher.join()

    def _watch(self, what: str, finished: threading.Event) -> None:
        tracker = self.spark.sparkContext.statusTracker()
        started = last = time.perf_counter()
        while not finished.wait(0.5):
            now = time.perf_counter()
            if now - last < PRINT_EVERY_S or not what:
                continue
            last = now
            elapsed = now - started
            try:
                stages = [tracker.getStageInfo(i) for i in tracker.getActiveStageIds()]
                done = sum(s.numCompletedTasks for s in stages if s)
                total = sum(s.numTasks for s in stages if s)
            except Exception:  # noqa: BLE001 - progress is best effort
                done = total = 0
            if total:
                eta = f", ETA {duration(elapsed * (total - done) / done)}" if done else ""
                self.say(
                    f"  {what}: {done}/{total} tasks of the running stages, "
                    f"{duration(elapsed)} elapsed{eta}"
                )
            else:
                self.say(f"  {what}: {duration(elapsed)} elapsed")

    def close(self) -> None:
        for name in list(self.views):
            self.spark.catalog.dropTempView(name)
        self.views.clear()
        if self.owned:
            self.spark.stop()
            return
        for key, value in self._restore.items():
            if value is None:
                self.spark.conf.unset(key)
            else:
                self.spark.conf.set(key, value)

    # -- the engine's own steps -------------------------------------------------------------

    def _frame(self, source, files):
        """The files as Spark reads them: Parquet as typed, text as strings (the
        read stage types them, as it does DuckDB's text)."""
        paths = [os.path.abspath(f) for f in files]
        if source.parquet:
            return self.spark.read.parquet(*paths)
        frame = self.spark.read.csv(
            paths,
            sep=source.sep,
            header=bool(source.header),
            escape='"',
            mode="FAILFAST",
            encoding="UTF-8",
            inferSchema=False,
        )
        if source.names:
            if len(source.names) != len(frame.columns):
                raise DataError(
                    f"{source.label}: {len(source.names)} names for "
                    f"{len(frame.columns)} columns; give one name per column"
                )
            return frame.toDF(*source.names)
        return frame.toDF(frame.columns[0].lstrip("\ufeff"), *frame.columns[1:])

    def source_columns(self, source) -> list[str]:
        return list(self._frame(source, source.files[:1]).columns)

    def load(self, source, mapping: dict, text: tuple[str, ...] = ()) -> None:
        """Table ``src``: the mapped columns with each row's position in the log
        (files in order; within a file, the order Spark reads it, which is the
        file's own: its splits are scanned in offset order)."""
        from pyspark.sql import functions as F

        started = time.perf_counter()
        columns = list(dict.fromkeys([*mapping.values(), *text]))  # text: CSV's are strings
        frame = self._frame(source, source.files).select(
            *[F.col(_backtick(c)) for c in columns],
            F.col("_metadata.file_path").alias("__file"),
            F.monotonically_increasing_id().alias("__mid"),
        )
        self.watched(f"reading {source.label}", lambda: self.materialize("src_read", frame))
        chunks = self.spark.sql(
            "SELECT __file, shiftright(__mid, 33) AS pid, count(*) AS n, min(__mid) AS first "
            "FROM src_read GROUP BY __file, shiftright(__mid, 33)"
        ).collect()
        order = {os.path.realpath(f): i for i, f in enumerate(source.files)}
        chunks.sort(key=lambda c: (order[os.path.realpath(unquote(urlparse(c[0]).path))], c[1]))
        offset, starts = 0, []
        for file, pid, n, first in chunks:
            starts.append((file, int(pid), offset - int(first)))
            offset += int(n)
        self.spark.createDataFrame(
            starts, "file string, pid bigint, shift bigint"
        ).createOrReplaceTempView("src_chunks")
        quoted = ", ".join(f"s.{sql_name(c)}" for c in columns)
        self.sql(
            f"CREATE OR REPLACE TABLE src AS SELECT {quoted}, s.__mid + c.shift AS row "
            "FROM src_read s JOIN src_chunks c ON s.__file = c.file "
            "AND shiftright(s.__mid, 33) = c.pid",
            "numbering the rows",
        )
        self.spark.catalog.dropTempView("src_chunks")
        self.drop("src_read")
        self.say(
            f"  read {len(source.files)} files, {offset:,} rows in "
            f"{duration(time.perf_counter() - started)}"
        )

    def random_parts(self, n: int, seed: int, fraction: float) -> None:
        """Table ``parts`` (idx, part): numpy's draws for rows 0..n-1, each task
        jumping the seeded stream (PCG64) ahead to its first row: the same numbers
        as ``np.random.default_rng(seed).random(n)`` (executors need numpy,
        pandas and pyarrow)."""

        def draw(batches):
            import numpy as np
            import pandas as pd

            for batch in batches:
                idx = batch["id"].to_numpy()
                if not len(idx):
                    continue
                generator = np.random.PCG64(seed)
                generator.advance(int(idx[0]))  # a batch is a run of consecutive rows
                u = np.random.Generator(generator).random(len(idx))
                part = np.where(u < fraction, 2, np.where(u < 2 * fraction, 1, 0))
                yield pd.DataFrame({"idx": idx, "part": part.astype(np.int8)})

        tasks = max(1, min(n, -(-n // ROWS_PER_DRAW_TASK)))
        frame = self.spark.range(0, n, 1, tasks).mapInPandas(draw, "idx bigint, part tinyint")
        self.materialize("parts", frame)

    def write_shards(self, work: Path, shards: int, weighted: bool, context=()) -> dict:
        """One partitioned write of ``final`` (each (part, shard) by one task, so
        one file, sorted as ``_sql.SHARD_ORDER``), then each file moved to its name."""
        import pyarrow as pa
        import pyarrow.parquet as pq
        from pyspark.sql import functions as F

        schema = [("user_id", pa.int32()), ("item_id", pa.int32()), ("rating", pa.float32()),
                  ("timestamp", pa.int64())]  # fmt: skip
        schema += [("weight", pa.float32())] if weighted else []
        schema += [(column, pa.string()) for column in context]
        spark_types = {pa.int32(): "int", pa.float32(): "float", pa.int64(): "bigint",
                       pa.string(): "string"}  # fmt: skip
        tmp = work.absolute() / SHARDS_TMP
        if not (tmp / "_SUCCESS").exists():
            started = time.perf_counter()
            final = self.spark.table("final")
            # Typed before the sort, so that the sorted rows are the rows written: the
            # write then needs no sort of its own by (part, shard), which would not
            # keep (user, time, log) order once it spills.
            typed = final.select(
                *[F.col(c).cast(spark_types[t]).alias(c) for c, t in schema],
                "row",
                F.col("part").cast("int").alias("part"),
                F.col("shard").cast("int").alias("shard"),
            )
            write = (
                typed.repartition(len(PARTS) * shards, "part", "shard")
                .sortWithinPartitions("part", "shard", *_sql.SHARD_ORDER)
                .drop("row")
                .write.mode("overwrite")
                .partitionBy("part", "shard")
                .option("compression", "zstd")
            )
            self.watched("writing the shards", lambda: write.parquet(str(tmp)))
            self.say(f"  shards: written by Spark in {duration(time.perf_counter() - started)}")

        def write(p, s, path):
            found = sorted((tmp / f"part={p}" / f"shard={s}").glob("*.parquet"))
            if len(found) == 1:
                os.replace(found[0], path)
                return
            # none (an empty shard), or a task's files in order
            tables = [pq.read_table(f) for f in found]
            table = pa.concat_tables(tables) if tables else pa.schema(schema)
            if not tables:
                table = table.empty_table()
            pq.write_table(table, path.with_suffix(".tmp"), compression="zstd")
            os.replace(path.with_suffix(".tmp"), path)

        return self._shard_files(work, shards, write)

    def write_vocabularies(self, work: Path) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        for what in ("user", "item"):
            frame = self.spark.sql(_sql.vocabulary(what)).toPandas()
            table = pa.table(
                {
                    "raw_id": pa.array(frame["raw_id"].astype(str), pa.string()),
                    "code": pa.array(frame["code"], pa.int32()),
                    "interactions": pa.array(frame["interactions"], pa.int64()),
                }
            )
            pq.write_table(table, work / f"{what}s.parquet")


class _Connection:
    """DuckDB's ``execute`` / ``register`` over Spark: the DDL the stages use,
    the rest as Spark SQL."""

    def __init__(self, runner: SparkRunner):
        self.runner, self.spark = runner, runner.spark

    def execute(self, text: str):
        text = text.strip()
        if m := re.fullmatch(r"CREATE OR REPLACE TABLE (\w+) AS (.*)", text, re.S):
            # A Spark table has no row order: its trailing ORDER BY (which DuckDB
            # keeps, for range scans) would only cost a global sort.
            query = re.sub(r"\s+ORDER BY [\w., ]+$", "", m[2])
            self.runner.materialize(m[1], self.spark.sql(query))
            return _Result(None)
        if m := re.fullmatch(r"DROP TABLE (?:IF EXISTS )?(\w+)", text):
            self.runner.drop(m[1])
            return _Result(None)
        if m := re.fullmatch(r"ALTER TABLE (\w+) RENAME TO (\w+)", text):
            self.runner.rename(m[1], m[2])
            return _Result(None)
        if m := re.fullmatch(r"DESCRIBE (\w+)", text):
            kinds = self.spark.table(m[1]).dtypes
            return _Result([(name, _duckdb_kind(kind)) for name, kind in kinds])
        return _Result(self.spark.sql(text))

    def register(self, name: str, frame) -> None:
        self.spark.createDataFrame(frame).createOrReplaceTempView(name)

    def unregister(self, name: str) -> None:
        self.spark.catalog.dropTempView(name)


class _Result:
    """``fetchone`` / ``fetchall`` / ``fetchnumpy`` of a Spark DataFrame (or of rows)."""

    def __init__(self, frame):
        self.frame = frame

    def fetchall(self) -> list[tuple]:
        if self.frame is None or isinstance(self.frame, list):
            return list(self.frame or [])
        return [tuple(row) for row in self.frame.collect()]

    def fetchone(self):
        rows = self.fetchall()
        return rows[0] if rows else None

    def fetchnumpy(self) -> dict:
        frame = self.frame.toPandas()
        return {c: frame[c].to_numpy() for c in frame.columns}


def _duckdb_kind(kind: str) -> str:
    if kind.startswith("decimal"):
        return kind.upper()
    return _KINDS.get(kind, kind.upper())


def _data_error(error: Exception, what: str) -> Exception:
    """A Spark failure as a DataError naming the stage (analysis errors, which are
    tfrec's own, are raised as they are)."""
    if isinstance(error, ConfigError | DataError):
        return error
    try:
        from pyspark.errors import AnalysisException
    except ImportError:  # pragma: no cover - pyspark < 3.4
        AnalysisException = ()  # noqa: N806
    if isinstance(error, AnalysisException):
        return error
    first = next((line for line in str(error).splitlines() if line.strip()), repr(error))
    return DataError(f"{what or 'preparing'}: {first.strip()[:500]}")


def _backtick(column: str) -> str:
    return "`" + column.replace("`", "``") + "`"

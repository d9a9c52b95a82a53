"""A DuckDB session that runs the preparation's stages once each, with progress.

The work directory (``OUT.partial``) holds a DuckDB database file and
``state.json``, the stages done so far with what each found; a killed
preparation run again with the same options skips them, and one with other
options starts over. Every statement prints its progress and ETA (DuckDB's
own estimate) every few seconds.

:class:`Stages` is what every engine shares (the state, the stages, the
progress lines); :class:`Runner` is DuckDB's, ``_spark.SparkRunner`` Spark's.
Besides ``sql`` and ``con`` (``execute``, ``register``), an engine has the
steps that are its own: reading the source files (``source_columns``,
``load``), the random split's draws (``random_parts``) and writing the files
(``write_shards``, ``write_vocabularies``).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

from tfrec.data.prepare import _sql
from tfrec.data.prepare.manifest import PARTS
from tfrec.errors import DataError
from tfrec.io import write_text

STATE = "state.json"
PRINT_EVERY_S = 5.0
RANDOM_CHUNK = 10_000_000  # random split: draws made (and inserted) this many at a time


class Stages:
    """The stages done so far (``work/state.json``) and the progress lines.

    Args:
        work: The work directory (created; kept between attempts).
        fingerprint: The options, sources, engine and tfrec version: a work
            directory made with another fingerprint is started over.
        verbose: Print progress to stderr.
    """

    engine = ""
    leftovers: tuple = (STATE,)  # files and folders of ``work`` that are not the output

    def __init__(self, work: Path, fingerprint: dict, verbose: bool):
        self.work, self.verbose = work, verbose
        state = _read_state(work / STATE)
        if state and state.get("fingerprint") != fingerprint:
            self.say(f"{work} was made with other options or data: starting over")
            shutil.rmtree(work)
            state = None
        self.resumed = bool(state and state["done"])
        self.state = state or {"fingerprint": fingerprint, "done": {}}
        work.mkdir(parents=True, exist_ok=True)
        self._save()

    def say(self, line: str) -> None:
        if self.verbose:
            print(line, file=sys.stderr, flush=True)

    def done(self, name: str):
        """What stage ``name`` found, if it is done (None otherwise)."""
        return self.state["done"].get(name)

    def stage(self, name: str, run):
        """Runs ``run()`` (which returns a JSON-able summary) unless done before."""
        if name in self.state["done"]:
            self.say(f"[{name}] done in an earlier attempt")
            return self.state["done"][name]
        self.say(f"[{name}] ...")
        started = time.perf_counter()
        found = run()
        seconds = time.perf_counter() - started
        self.checkpoint()
        self.state["done"][name] = found
        self.state.setdefault("seconds", {})[name] = round(seconds, 2)
        self._save()
        self.say(f"[{name}] done in {duration(seconds)}")
        return found

    def checkpoint(self) -> None:
        """Makes the tables written so far durable."""

    def _save(self) -> None:
        write_text(self.work / STATE, json.dumps(self.state, indent=1))

    def _shard_files(self, work: Path, shards: int, write) -> dict:
        """``{part: [{file, rows}]}`` of every (part, shard) file, each written by
        ``write(p, s, path)`` unless an earlier attempt wrote it (atomically)."""
        import pyarrow.parquet as pq

        files: dict[str, list] = {}
        started, total = time.perf_counter(), len(PARTS) * shards
        for p, part in enumerate(PARTS):
            (work / part).mkdir(exist_ok=True)
            files[part] = []
            for s in range(shards):
                name = f"{part}/part-{s:05d}.parquet"
                path = work / name
                if not path.exists():
                    write(p, s, path)
                rows = pq.read_metadata(path).num_rows
                files[part].append({"file": name, "rows": int(rows)})
                self._write_progress(p * shards + s + 1, total, started)
        return files

    def _write_progress(self, done: int, total: int, started: float) -> None:
        elapsed = time.perf_counter() - started
        if done % max(1, total // 10) == 0 or done == total:
            eta = elapsed * (total - done) / done
            self.say(f"  shards: {done}/{total} files, ETA {eta:.0f}s")


class Runner(Stages):
    """Runs SQL in ``work/work.duckdb``, remembers finished stages in ``work/state.json``.

    Args:
        work: The work directory (created; kept between attempts).
        fingerprint: The options, sources and tfrec version: a work directory
            made with another fingerprint is started over.
        memory_limit: DuckDB's memory limit, e.g. ``"4GB"``; it spills to
            ``work/tmp`` beyond it.
        threads: DuckDB's threads (None: every core).
        verbose: Print progress to stderr.
    """

    engine = "duckdb"
    leftovers = ("work.duckdb", "work.duckdb.wal", STATE, "tmp")

    def __init__(self, work: Path, fingerprint: dict, memory_limit: str, threads, verbose: bool):
        import duckdb

        super().__init__(work, fingerprint, verbose)
        self.con = duckdb.connect(str(work / "work.duckdb"))
        self.con.execute(f"SET memory_limit = '{memory_limit}'")
        self.con.execute(f"SET temp_directory = '{work / 'tmp'}'")
        self.con.execute("SET TimeZone = 'UTC'")
        self.con.execute("SET preserve_insertion_order = true")
        self.con.execute("SET enable_progress_bar = false")
        if threads:
            self.con.execute(f"SET threads = {int(threads)}")

    def checkpoint(self) -> None:
        self.con.execute("CHECKPOINT")

    def sql(self, text: str, what: str = ""):
        """Executes one statement, printing its progress and ETA while it runs."""
        import duckdb

        finished = threading.Event()
        watcher = threading.Thread(target=self._watch, args=(what, finished), daemon=True)
        watcher.start()
        try:
            return self.con.execute(text)
        except duckdb.OutOfMemoryException as e:
            raise DataError(
                f"the preparation ran out of memory ({str(e).splitlines()[0]}); lower "
                "--threads or raise --memory-limit"
            ) from None
        except (duckdb.ConversionException, duckdb.InvalidInputException) as e:
            raise DataError(f"{what or 'preparing'}: {str(e).splitlines()[0]}") from None
        finally:
            finished.set()
            watcher.join()

    def _watch(self, what: str, finished: threading.Event) -> None:
        started = last = time.perf_counter()
        while not finished.wait(0.5):
            now = time.perf_counter()
            if now - last < PRINT_EVERY_S or not what:
                continue
            last = now
            try:
                percent = self.con.query_progress()
            except Exception:  # noqa: BLE001 - progress is best effort
                percent = -1
            elapsed = now - started
            if percent and percent > 0:
                eta = elapsed * (100 - percent) / percent
                self.say(
                    f"  {what}: {percent:5.1f}%  {duration(elapsed)} elapsed, ETA {duration(eta)}"
                )
            else:
                self.say(f"  {what}: {duration(elapsed)} elapsed")

    def close(self) -> None:
        self.con.close()

    # -- the engine's own steps -------------------------------------------------------------

    def source_columns(self, source) -> list[str]:
        """The log's column names (the first file's header or schema)."""
        return list(source.columns(self.con))

    def load(self, source, mapping: dict, text: tuple[str, ...] = ()) -> None:
        """The mapped columns of every file, and the ``text`` ones (read as text
        from CSV, as the IDs), into table ``src`` with each row's position in the
        log (``row``); a line per file with the ETA."""
        from tfrec.data.prepare._source import sql_name

        read = dict.fromkeys([*mapping.values(), *text])
        columns = ", ".join(sql_name(c) for c in read)
        ids = (mapping["user"], mapping["item"], *text)
        sizes = [f.stat().st_size for f in source.files]
        started, offset = time.perf_counter(), 0
        for i, path in enumerate(source.files):
            rows = f"SELECT {columns}, {offset} + row_number() OVER () - 1 AS row "
            rows += f"FROM {source.relation(ids, [path])}"
            try:
                self.sql(("CREATE OR REPLACE TABLE src AS " if i == 0 else "INSERT INTO src ")
                         + rows, f"reading {path}")  # fmt: skip
            except DataError as e:
                raise DataError(
                    f"{e}; every part must have the first part's columns and types "
                    f"({source.files[0].name})"
                ) from None  # fmt: skip
            (offset,) = self.con.execute("SELECT count(*) FROM src").fetchone()
            done = sum(sizes[: i + 1]) / max(sum(sizes), 1)
            elapsed = time.perf_counter() - started
            self.say(
                f"  read {i + 1}/{len(sizes)} files, {offset:,} rows, {done:.0%} of the bytes, "
                f"ETA {duration(elapsed * (1 - done) / max(done, 1e-9))}"
            )

    def random_parts(self, n: int, seed: int, fraction: float) -> None:
        """Table ``parts`` (idx, part): numpy's draws of :func:`tfrec.splits._random`
        for the ``n`` kept rows in log order, a chunk at a time (memory: one chunk)."""
        rng = np.random.default_rng(seed)
        self.sql("CREATE OR REPLACE TABLE parts (idx BIGINT, part TINYINT)")
        for start in range(0, n, RANDOM_CHUNK):
            u = rng.random(min(RANDOM_CHUNK, n - start))
            chunk = pd.DataFrame(
                {"idx": np.arange(start, start + len(u)), "part": random_part(u, fraction)}
            )
            self.con.register("chunk", chunk)
            self.con.execute("INSERT INTO parts SELECT * FROM chunk")
            self.con.unregister("chunk")

    def write_shards(self, work: Path, shards: int, weighted: bool, context=()) -> dict:
        """One Parquet file per (part, shard) of table ``final``: {part: [{file, rows}]}."""

        def write(p, s, path):
            tmp = path.with_name(path.name + ".tmp")
            self.con.execute(
                f"COPY ({_sql.shard_rows(p, s, weighted, context)}) TO '{tmp}' "
                "(FORMAT parquet, COMPRESSION zstd)"
            )
            os.replace(tmp, path)

        return self._shard_files(work, shards, write)

    def write_vocabularies(self, work: Path) -> None:
        """``users.parquet`` and ``items.parquet``: raw_id, code, interactions."""
        for what in ("user", "item"):
            self.con.execute(
                f"COPY ({_sql.vocabulary(what)}) TO '{work / f'{what}s.parquet'}' (FORMAT parquet)"
            )


def random_part(u: np.ndarray, fraction: float) -> np.ndarray:
    """The part of each uniform draw, as :func:`tfrec.splits._random`: test below
    ``fraction``, validation below twice it, train above."""
    return np.where(u < fraction, 2, np.where(u < 2 * fraction, 1, 0)).astype(np.int8)


def _read_state(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def duration(seconds: float) -> str:
    """``42s``, ``3m05s`` or ``1h02m``."""
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    return f"{minutes // 60}h{minutes % 60:02d}m"

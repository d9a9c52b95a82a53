"""A DuckDB session that runs the preparation's stages once each, with progress.

The work directory (``OUT.partial``) holds a DuckDB database file and
``state.json``, the stages done so far with what each found; a killed
preparation run again with the same options skips them, and one with other
options starts over. Every statement prints its progress and ETA (DuckDB's
own estimate) every few seconds.
"""

from __future__ import annotations

import json
import shutil
import sys
import threading
import time
from pathlib import Path

from tfrec.errors import DataError
from tfrec.io import write_text

STATE = "state.json"
PRINT_EVERY_S = 5.0


class Runner:
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

    def __init__(self, work: Path, fingerprint: dict, memory_limit: str, threads, verbose: bool):
        import duckdb

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
        self.con = duckdb.connect(str(work / "work.duckdb"))
        self.con.execute(f"SET memory_limit = '{memory_limit}'")
        self.con.execute(f"SET temp_directory = '{work / 'tmp'}'")
        self.con.execute("SET TimeZone = 'UTC'")
        self.con.execute("SET preserve_insertion_order = true")
        self.con.execute("SET enable_progress_bar = false")
        if threads:
            self.con.execute(f"SET threads = {int(threads)}")

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
        self.con.execute("CHECKPOINT")
        self.state["done"][name] = found
        self.state.setdefault("seconds", {})[name] = round(seconds, 2)
        self._save()
        self.say(f"[{name}] done in {duration(seconds)}")
        return found

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

    def _save(self) -> None:
        write_text(self.work / STATE, json.dumps(self.state, indent=1))


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

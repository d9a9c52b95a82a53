"""``tfrec data prepare --engine spark``: Spark runs the same statements as DuckDB
and writes the same prepared directory (one local SparkSession for the module)."""

import json
import shutil

import pandas as pd
import pytest

from tests.data.test_prepare import _log, _rows
from tfrec.cli import main
from tfrec.data.prepare import PrepareOptions, _Preparation, prepare
from tfrec.data.prepare.load import load_prepared
from tfrec.data.prepare.manifest import PARTS, read_manifest
from tfrec.errors import ConfigError, DataError

pytestmark = pytest.mark.slow
pytest.importorskip("pyspark", reason="pyspark is not installed (pip install -e '.[spark]')")
if shutil.which("java") is None:
    pytest.skip("Spark needs Java 17+ (no java on PATH)", allow_module_level=True)

# Bookkeeping that differs between two runs of the same preparation.
VARYING = {"engine", "created", "seconds", "stage_seconds", "resumed"}


@pytest.fixture(scope="module")
def spark():
    """One small local session for the module: 2 cores, 2 shuffle partitions, no UI,
    a JVM tuned for short jobs (C1 only, expressions interpreted rather than
    compiled), and sorts that spill every 200 rows, as they do on a large log."""
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("tfrec-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        .config("spark.sql.codegen.wholeStage", "false")
        .config("spark.sql.codegen.factoryMode", "NO_CODEGEN")  # no Janino compiles
        .config("spark.shuffle.spill.numElementsForceSpillThreshold", "200")  # sorts spill
        .config("spark.driver.extraJavaOptions", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def _assert_same_directory(duckdb_dir, spark_dir):
    """The same manifest (but the engine), vocabularies and shard files, row for row."""
    a, b = read_manifest(duckdb_dir), read_manifest(spark_dir)
    assert (a["engine"], b["engine"]) == ("duckdb", "spark")
    assert {k: v for k, v in a.items() if k not in VARYING} == {
        k: v for k, v in b.items() if k not in VARYING
    }
    for vocabulary in ("users.parquet", "items.parquet"):
        pd.testing.assert_frame_equal(
            pd.read_parquet(duckdb_dir / vocabulary), pd.read_parquet(spark_dir / vocabulary)
        )
    for part in PARTS:
        for shard in a["shards"][part]:
            pd.testing.assert_frame_equal(
                pd.read_parquet(duckdb_dir / shard["file"]),
                pd.read_parquet(spark_dir / shard["file"]),
            )
    x, y = load_prepared(duckdb_dir), load_prepared(spark_dir)
    for part in PARTS:
        assert _rows(x, part) == _rows(y, part), part
    assert len(y.train) > len(y.test) > 0


@pytest.fixture
def small_splits(spark):
    """Spark reads each file in several splits (8 KiB), as it reads a large log."""
    spark.conf.set("spark.sql.files.maxPartitionBytes", "8k")
    yield
    spark.conf.unset("spark.sql.files.maxPartitionBytes")


def test_temporal_with_duplicates_and_k_core_as_duckdb(spark, small_splits, tmp_path):
    """With context features too: each kept row's context, detected alike."""
    path = tmp_path / "log.csv"
    log = _log(seed=1)
    log["device"] = (["tv", "phone", ""] * len(log))[: len(log)]
    log["speed"] = range(len(log))
    log.to_csv(path, index=False)
    options = {"split": "temporal", "shards": 3, "min_user_interactions": 5,
               "min_item_interactions": 3, "context_features": "device,speed"}  # fmt: skip
    prepare(path, tmp_path / "d", PrepareOptions(**options), verbose=False)
    manifest = prepare(
        path, tmp_path / "s", PrepareOptions(**options), engine="spark", verbose=False
    )
    _assert_same_directory(tmp_path / "d", tmp_path / "s")
    assert manifest["k_core"]["passes"] > 1
    assert [c["type"] for c in manifest["context_features"]] == ["category", "numeric"]
    assert any("repeated (user, item) rows" in note for note in manifest["notes"])
    assert not (tmp_path / "s.partial").exists()


def test_random_split_of_csv_parts_with_weights_as_duckdb(spark, small_splits, tmp_path):
    """Counted repeats summing the weights, k-core, and the log order over files
    and splits (which the random draws follow)."""
    log = _log(seed=2, implicit=True)
    parts = tmp_path / "parts"
    parts.mkdir()
    for i, start in enumerate(range(0, len(log), 600)):
        log.iloc[start : start + 600].to_csv(parts / f"part-{i}.csv", index=False)
    options = {"split": "random", "seed": 4, "shards": 2, "min_user_interactions": 3,
               "columns": "weight=plays"}  # fmt: skip
    prepare(parts, tmp_path / "d", PrepareOptions(**options), verbose=False)
    manifest = prepare(
        parts, tmp_path / "s", PrepareOptions(**options), engine="spark", verbose=False
    )
    _assert_same_directory(tmp_path / "d", tmp_path / "s")
    assert manifest["weighted"] and manifest["duplicates"] == "count"


def test_cli_engine_spark_resumes_after_a_kill(spark, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    _log(seed=3).to_parquet("log.parquet", index=False)
    argv = ["data", "prepare", "--dataset", "log.parquet", "--split", "leave-one-out",
            "--duplicates", "mean", "--shards", "2"]  # fmt: skip
    spark_argv = [*argv, "--out", "s", "--engine", "spark", "--spark-master", "local[2]"]
    write = _Preparation._write

    def killed(self, *args):
        raise KeyboardInterrupt

    monkeypatch.setattr(_Preparation, "_write", killed)
    assert main([*spark_argv, "--quiet"]) == 130  # interrupted in the shards stage
    monkeypatch.setattr(_Preparation, "_write", write)
    state = json.loads((tmp_path / "s.partial" / "state.json").read_text())
    assert "split" in state["done"] and "shards" not in state["done"]
    assert main(spark_argv) == 0
    out = capsys.readouterr()
    assert "[read] done in an earlier attempt" in out.err and "(spark," in out.out
    assert read_manifest(tmp_path / "s")["resumed"]
    assert main([*argv, "--out", "d", "--quiet"]) == 0
    _assert_same_directory(tmp_path / "d", tmp_path / "s")


def test_what_spark_refuses(spark, tmp_path):
    path = tmp_path / "log.csv"
    _log(n=50).to_csv(path, index=False)
    cases = [
        ({"memory_limit": "8GB"}, "memory_limit must be unset with engine 'spark'"),
        ({"threads": 4, "spark_master": "yarn"}, "threads must be unset with spark_master"),
        ({"threads": 4}, "threads must be unset while a SparkSession runs"),
        ({"spark_master": "local[1]"}, "spark_master must be the running SparkSession's"),
    ]
    for kwargs, message in cases:
        with pytest.raises(ConfigError, match=message):
            prepare(path, tmp_path / "p", engine="spark", verbose=False, **kwargs)
    with pytest.raises(ConfigError, match="out must be a path that the driver and every"):
        prepare(path, "s3a://bucket/prepared", engine="spark", verbose=False)
    with pytest.raises(ConfigError, match="engine must be 'spark' with a spark_master"):
        prepare(path, tmp_path / "p", spark_master="local[2]", verbose=False)
    path.write_text("user,item,rating,ts\na,x,4,10\nb,,3,11\n")  # as DuckDB, with the line
    with pytest.raises(DataError, match=r"log.csv, line 3: empty 'item'"):
        prepare(path, tmp_path / "p", engine="spark", verbose=False)

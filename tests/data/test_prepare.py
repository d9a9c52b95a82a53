"""``tfrec data prepare``: the out-of-core path gives the in-memory path's split,
resumes after a kill, refuses bad input, and its directory trains."""

import json

import numpy as np
import pandas as pd
import pytest

import tfrec
from tfrec.cli import main
from tfrec.data.prepare import PrepareOptions, _Preparation, prepare
from tfrec.data.prepare.load import load_prepared
from tfrec.data.prepare.manifest import is_prepared, read_manifest
from tfrec.errors import ConfigError, DataError

METHODS = ("temporal", "leave-one-out", "random", "global-time")


def _log(seed=0, n=1500, implicit=False):
    """String IDs, ISO times with ties, repeated (user, item) pairs."""
    rng = np.random.default_rng(seed)
    users = rng.integers(0, 60, n)
    items = (rng.zipf(1.5, n) % 80).astype(int)
    log = pd.DataFrame(
        {
            "customer": [f"u{u:03d}" for u in users],
            "sku": [f"SKU-{i}" for i in items],
            "when": pd.to_datetime(1_500_000_000 + rng.integers(0, 300, n) * 3600, unit="s")
            .strftime("%Y-%m-%dT%H:%M:%S"),
        }
    )  # fmt: skip
    if implicit:
        log["plays"] = rng.integers(1, 20, n)
    else:
        log["stars"] = rng.integers(1, 11, n) / 2
    return log


def _rows(split, part):
    """A part as sorted (raw user, raw item, rating, time[, weight]) tuples."""
    frame, data = getattr(split, part), split.dataset
    columns = [
        data.raw_user_ids(frame["user_id"].to_numpy()).astype(str),
        data.raw_item_ids(frame["item_id"].to_numpy()).astype(str),
        frame["rating"].to_numpy().round(4),
        frame["timestamp"].to_numpy(),
    ]
    if "weight" in frame:
        columns.append(frame["weight"].to_numpy().round(4))
    return sorted(zip(*columns, strict=True))


def _assert_same_split(a, b):
    for part in ("train", "validation", "test"):
        assert _rows(a, part) == _rows(b, part), part


@pytest.mark.parametrize("method", METHODS)
def test_same_split_as_in_memory(tmp_path, method):
    path = tmp_path / "log.csv"
    _log().to_csv(path, index=False)
    in_memory = tfrec.split(tfrec.load_dataset(path), method, seed=3)
    prepare(path, tmp_path / "p", PrepareOptions(split=method, seed=3, shards=3), verbose=False)
    prepared = load_prepared(tmp_path / "p")
    _assert_same_split(in_memory, prepared)
    assert prepared.method == method
    assert len(prepared.train) > len(prepared.test) > 0


def test_weights_duplicates_and_k_core_as_in_memory(tmp_path):
    path = tmp_path / "plays.csv"
    _log(seed=1, implicit=True).to_csv(path, index=False)
    options = {"min_user_interactions": 5, "min_item_interactions": 3}
    data = tfrec.load_dataset(path, **options)
    manifest = prepare(
        path, tmp_path / "p", PrepareOptions(split="temporal", **options), verbose=False
    )
    prepared = load_prepared(tmp_path / "p")
    _assert_same_split(tfrec.split(data, "temporal"), prepared)
    assert manifest["implicit"] and manifest["weighted"]
    assert manifest["counts"]["n_interactions"] == len(data.ratings)
    assert manifest["k_core"]["after"]["n_ratings"] == len(data.ratings)
    assert any("repeated (user, item) rows" in note for note in manifest["notes"])


@pytest.mark.parametrize("policy", ["first", "mean"])
def test_duplicate_policies_as_in_memory(tmp_path, policy):
    path = tmp_path / "log.csv"
    _log(seed=6).to_csv(path, index=False)
    data = tfrec.load_dataset(path, duplicates=policy)
    prepare(path, tmp_path / "p", PrepareOptions(duplicates=policy), verbose=False)
    _assert_same_split(tfrec.split(data, "temporal"), load_prepared(tmp_path / "p"))


def test_counted_repeats_become_the_weight_as_in_memory(tmp_path):
    path = tmp_path / "clicks.csv"
    _log(seed=5).drop(columns="stars").to_csv(path, index=False)  # implicit, repeats, no weight
    data = tfrec.load_dataset(path)
    manifest = prepare(path, tmp_path / "p", PrepareOptions(split="random"), verbose=False)
    prepared = load_prepared(tmp_path / "p")
    assert manifest["weighted"] and "weight" in prepared.train and "weight" in data.ratings
    _assert_same_split(tfrec.split(data, "random"), prepared)


def test_a_directory_of_parquet_parts_reads_as_one_log(tmp_path):
    log = _log(seed=2)
    parts = tmp_path / "parts"
    parts.mkdir()
    for i, start in enumerate(range(0, len(log), 500)):
        log.iloc[start : start + 500].to_parquet(parts / f"part-{i}.parquet", index=False)
    prepare(parts, tmp_path / "p", PrepareOptions(split="random", seed=1), verbose=False)
    _assert_same_split(tfrec.split(tfrec.load_dataset(log), "random", seed=1),
                       load_prepared(tmp_path / "p"))  # fmt: skip


def test_shards_hold_whole_users_in_time_order(tmp_path):
    path = tmp_path / "log.csv"
    _log().to_csv(path, index=False)
    manifest = prepare(path, tmp_path / "p", PrepareOptions(shards=4), verbose=False)
    owners = {}
    for s, shard in enumerate(manifest["shards"]["train"]):
        frame = pd.read_parquet(tmp_path / "p" / shard["file"])
        assert len(frame) == shard["rows"]
        keys = list(zip(frame["user_id"], frame["timestamp"], strict=True))
        assert keys == sorted(keys)
        for user in frame["user_id"].unique():
            assert owners.setdefault(user, s) == s
    assert len(set(owners.values())) > 1


def test_a_killed_preparation_resumes(tmp_path, monkeypatch):
    path = tmp_path / "log.csv"
    _log().to_csv(path, index=False)
    out = tmp_path / "p"
    options = PrepareOptions(split="temporal", shards=2)
    write = _Preparation._write

    def killed(self, *args):
        raise KeyboardInterrupt

    monkeypatch.setattr(_Preparation, "_write", killed)
    with pytest.raises(KeyboardInterrupt):
        prepare(path, out, options, verbose=False)
    assert not out.exists() and (tmp_path / "p.partial" / "state.json").exists()
    done = json.loads((tmp_path / "p.partial" / "state.json").read_text())["done"]
    assert "split" in done and "shards" not in done
    monkeypatch.setattr(_Preparation, "_write", write)
    manifest = prepare(path, out, options, verbose=False)
    assert manifest["resumed"]
    assert not (tmp_path / "p.partial").exists()
    _assert_same_split(tfrec.split(tfrec.load_dataset(path), "temporal"), load_prepared(out))


def test_other_options_start_over(tmp_path, monkeypatch):
    path = tmp_path / "log.csv"
    _log().to_csv(path, index=False)
    monkeypatch.setattr(_Preparation, "_write", lambda self, *a: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        prepare(path, tmp_path / "p", PrepareOptions(split="temporal"), verbose=False)
    monkeypatch.undo()
    manifest = prepare(path, tmp_path / "p", PrepareOptions(split="random"), verbose=False)
    assert not manifest["resumed"] and manifest["split"]["method"] == "random"


def test_bad_input_is_refused_with_its_line(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text("user,item,rating,ts\na,x,4,10\nb,,3,11\n")
    with pytest.raises(DataError, match=r"line 3: empty 'item'"):
        prepare(path, tmp_path / "p", verbose=False)
    path.write_text("user,item,rating,ts\na,x,4,2024-05-01T12:30:00\nb,y,3,soon\n")
    with pytest.raises(DataError, match=r"line 3: cannot read the time in column 'ts'"):
        prepare(path, tmp_path / "p", verbose=False)
    path.write_text("user,item\na,x\nb,y\n")
    with pytest.raises(ConfigError, match="no timestamp column; use --split random"):
        prepare(path, tmp_path / "p", verbose=False)
    prepare(path, tmp_path / "p", PrepareOptions(split="random"), verbose=False)
    with pytest.raises(ConfigError, match="already exists; pass --overwrite"):
        prepare(path, tmp_path / "p", PrepareOptions(split="random"), verbose=False)
    with pytest.raises(ConfigError, match="shards must be a positive integer; got 0"):
        prepare(path, tmp_path / "q", PrepareOptions(shards=0), verbose=False)
    with pytest.raises(DataError, match="no such file"):
        prepare(tmp_path / "missing.csv", tmp_path / "q", verbose=False)


def test_cli_prepare_info_and_train(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    _log().to_csv("log.csv", index=False)
    assert main(["data", "prepare", "--dataset", "log.csv", "--out", "prep", "--quiet"]) == 0
    assert is_prepared("prep") and read_manifest("prep")["split"]["method"] == "temporal"
    capsys.readouterr()
    assert main(["data", "info", "--dataset", "prep"]) == 0
    out = capsys.readouterr().out
    assert "n_interactions" in out and "temporal" in out
    argv = ["train", "--model", "popularity", "--dataset", "prep", "--no-export", "--quiet"]
    assert main([*argv, "--out", "run", "--eval-users", "20"]) == 0
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["split"] == "temporal" and metrics["hr@10"] > 0
    assert metrics["eval_users"] == 20 and 15 <= metrics["n_users_ranked"] <= 20
    assert main([*argv, "--out", "run2", "--split", "random"]) == 2
    assert "was split 'temporal' when it was prepared" in capsys.readouterr().err


@pytest.mark.realdata
@pytest.mark.slow
@pytest.mark.parametrize(
    ("log", "method", "columns"),
    [
        ("ml-latest-small/ratings.csv", "temporal", None),
        ("steam-hours/hours.csv", "random", "user=user-id,item=game-title,weight=value"),
    ],
)
def test_real_logs_prepare_to_the_in_memory_split(ml_root, tmp_path, log, method, columns):
    path = ml_root / log
    in_memory = tfrec.split(tfrec.load_dataset(path, columns=columns), method, seed=1)
    options = PrepareOptions(split=method, seed=1, columns=columns, shards=2)
    manifest = prepare(path, tmp_path / "p", options, verbose=False)
    _assert_same_split(in_memory, load_prepared(tmp_path / "p"))
    assert manifest["counts"]["n_interactions"] == len(in_memory.dataset.ratings)


def test_the_items_table_travels_with_the_prepared_directory(tmp_path):
    log = _log(seed=4)
    path, items = tmp_path / "log.csv", tmp_path / "products.csv"
    log.to_csv(path, index=False)
    skus = sorted(set(log["sku"])) + ["SKU-never-bought"]
    pd.DataFrame({"sku": skus, "name": [f"Product {s}" for s in skus],
                  "category": ["a|b"] * len(skus)}).to_csv(items, index=False)  # fmt: skip
    prepare(path, tmp_path / "p", PrepareOptions(items=str(items)), verbose=False)
    (tmp_path / "products.csv").unlink()  # the prepared directory holds its own copy
    prepared = load_prepared(tmp_path / "p").dataset
    in_memory = tfrec.load_dataset(path, items=str(tmp_path / "p" / "items_table.csv"))

    def titles(data):
        raw = data.raw_item_ids(data.items["item_id"].to_numpy()).astype(str)
        return sorted(zip(raw, data.items["title"], data.items["genres"].map(tuple), strict=True))

    assert titles(prepared) == titles(in_memory)
    assert "SKU-never-bought" in prepared.item_vocab.ids


def test_a_preparation_killed_by_sigkill_resumes(tmp_path):
    """A hard kill (no cleanup, DuckDB's database mid-write) in the shards stage."""
    import subprocess
    import sys

    path = tmp_path / "log.csv"
    _log().to_csv(path, index=False)
    script = (
        "import os, signal\n"
        "from tfrec.data.prepare import PrepareOptions, _Preparation, prepare\n"
        "def killed(self, *args):\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
        "_Preparation._write = killed\n"
        f"prepare({str(path)!r}, {str(tmp_path / 'p')!r}, PrepareOptions(shards=2),"
        " verbose=False)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=300)
    assert done.returncode == -9, done.stderr.decode()[-2000:]
    manifest = prepare(path, tmp_path / "p", PrepareOptions(shards=2), verbose=False)
    assert manifest["resumed"]
    _assert_same_split(
        tfrec.split(tfrec.load_dataset(path), "temporal"), load_prepared(tmp_path / "p")
    )


def test_user_and_item_features_travel_with_the_prepared_directory(tmp_path):
    """--users/--user-features and --item-features: the prepared directory's
    dataset has the in-memory reader's typed features and tables, and a model
    that reads features trains on it."""
    log = _log(seed=5)
    path, items, users = tmp_path / "log.csv", tmp_path / "products.csv", tmp_path / "people.csv"
    log.to_csv(path, index=False)
    skus = sorted(set(log["sku"]))
    brands = [f"b{i % 3}" for i in range(len(skus))]
    pd.DataFrame({"sku": skus, "price": np.arange(len(skus)) * 1.5, "brand": brands}).to_csv(
        items, index=False
    )
    customers = sorted(set(log["customer"]))[:-2] + ["u-never-seen"]  # two users lack a row
    pd.DataFrame({"id": customers, "age": np.arange(len(customers)) % 50 + 18,
                  "country": ["fr", "de", "it"] * (len(customers) // 3)
                  + ["fr"] * (len(customers) % 3)}).to_csv(users, index=False)  # fmt: skip
    reading = {"items": str(items), "item_features": "price,brand", "users": str(users),
               "user_columns": "user=id", "user_features": "age=numeric,country"}  # fmt: skip
    prepare(path, tmp_path / "p", PrepareOptions(**reading), verbose=False)
    for table in (items, users):
        table.unlink()  # the prepared directory holds its own copies
    prepared = load_prepared(tmp_path / "p").dataset
    manifest = read_manifest(tmp_path / "p")
    copies = {
        "items": str(tmp_path / "p" / manifest["items_table"]["file"]),
        "users": str(tmp_path / "p" / manifest["users_table"]["file"]),
    }
    in_memory = tfrec.load_dataset(path, **{**reading, **copies})
    assert prepared.features == in_memory.features
    assert [f.name for f in prepared.features.features] == ["age", "country", "price", "brand"]

    def by_raw_id(data, frame, key, columns):
        raw = (data.raw_user_ids if key == "user_id" else data.raw_item_ids)(frame[key].to_numpy())
        return frame.assign(raw=raw.astype(str)).set_index("raw")[columns].sort_index()

    pd.testing.assert_frame_equal(
        by_raw_id(prepared, prepared.users, "user_id", ["age", "country"]),
        by_raw_id(in_memory, in_memory.users, "user_id", ["age", "country"]),
    )
    pd.testing.assert_frame_equal(
        by_raw_id(prepared, prepared.items, "item_id", ["price", "brand"]),
        by_raw_id(in_memory, in_memory.items, "item_id", ["price", "brand"]),
    )
    model = tfrec.get_model("two_tower", epochs=1, embedding_dim=8, batch_size=256)
    model.fit(load_prepared(tmp_path / "p"))
    assert model.feature_schema_ == prepared.features


def test_headerless_user_and_items_tables_are_read_with_their_names(tmp_path):
    """--items-no-header/--item-names and --users-no-header/--user-names: the
    same typed features and values as the in-memory reader."""
    log = _log(seed=7)
    path, items, users = tmp_path / "log.csv", tmp_path / "products.csv", tmp_path / "people.csv"
    log.to_csv(path, index=False)
    skus = sorted(set(log["sku"]))
    pd.DataFrame({"sku": skus, "brand": [f"b{i % 4}" for i in range(len(skus))]}).to_csv(
        items, index=False, header=False
    )
    customers = sorted(set(log["customer"]))
    ages = np.arange(len(customers)) % 40 + 20
    pd.DataFrame({"id": customers, "age": ages}).to_csv(users, index=False, header=False)
    reading = {
        "items": str(items), "item_header": False, "item_names": ["sku", "brand"],
        "item_columns": "item=sku", "item_features": "brand",
        "users": str(users), "user_header": False, "user_names": ["id", "age"],
        "user_columns": "user=id", "user_features": "age=numeric",
    }  # fmt: skip
    prepare(path, tmp_path / "p", PrepareOptions(**reading), verbose=False)
    prepared = load_prepared(tmp_path / "p").dataset
    in_memory = tfrec.load_dataset(path, **reading)
    assert prepared.features == in_memory.features
    assert [f.name for f in prepared.features.features] == ["age", "brand"]
    np.testing.assert_array_equal(
        prepared.users.sort_values("user_id")["age"].to_numpy(),
        in_memory.users.sort_values("user_id")["age"].to_numpy(),
    )
    np.testing.assert_array_equal(
        prepared.items.sort_values("item_id")["brand"].to_numpy(),
        in_memory.items.sort_values("item_id")["brand"].to_numpy(),
    )


def test_context_time_travels_with_the_prepared_directory(tmp_path):
    """--context-time: the loaded schema says so, as the in-memory reader's does,
    and a log without times is refused before anything is written."""
    log = _log(seed=6)
    path = tmp_path / "log.csv"
    log.to_csv(path, index=False)
    prepare(path, tmp_path / "p", PrepareOptions(context_time=True), verbose=False)
    prepared = load_prepared(tmp_path / "p").dataset
    assert prepared.features.context_time
    assert prepared.features == tfrec.load_dataset(path, context_time=True).features
    model = tfrec.get_model("two_tower", epochs=1, embedding_dim=8, batch_size=256)
    model.fit(load_prepared(tmp_path / "p"))
    assert model.feature_schema_.context_time
    log.drop(columns="when").to_csv(path, index=False)
    with pytest.raises(ConfigError, match="context_time reads each interaction's hour"):
        prepare(path, tmp_path / "q", PrepareOptions(context_time=True, split="random"))
    assert not (tmp_path / "q").exists()


@pytest.mark.parametrize("duplicates", ["last", "first"])
def test_context_features_travel_with_each_interaction(tmp_path, duplicates):
    """--context-features: every part holds each kept interaction's context,
    typed as the in-memory reader types it (given, or detected: a category, a
    number with gaps, a multi), the kept duplicate's own; dcn trains on it."""
    log = _log(seed=7)
    rng = np.random.default_rng(7)
    log["device"] = rng.choice(["tv", "phone", " tv ", "", "null"], len(log))  # null: missing
    speed = rng.integers(1, 50, len(log)).astype(str)
    log["speed"] = np.where(rng.random(len(log)) < 0.2, rng.choice(["", "NA", "nan"]), speed)
    log["tags"] = rng.choice(["a|b", "b", "c|a", "x y"], len(log))
    log["page"] = rng.integers(0, 9, len(log)).astype(str)
    path = tmp_path / "log.csv"
    log.to_csv(path, index=False)
    reading = {"context_features": "device,speed,tags,page=category", "duplicates": duplicates}
    prepare(path, tmp_path / "p", PrepareOptions(**reading, context_time=True), verbose=False)
    prepared = load_prepared(tmp_path / "p")
    in_memory = tfrec.split(tfrec.load_dataset(path, **reading, context_time=True), "temporal")
    assert prepared.dataset.features == in_memory.dataset.features
    types = {f.name: f.type for f in prepared.dataset.features.features}
    assert types == {"device": "category", "speed": "numeric", "tags": "multi", "page": "category"}
    for part in ("train", "validation", "test"):
        mine, theirs = getattr(prepared, part), getattr(in_memory, part)
        pd.testing.assert_frame_equal(
            _with_context(mine, prepared.dataset), _with_context(theirs, in_memory.dataset)
        )
    model = tfrec.get_model("dcn", epochs=1, embedding_dim=8, hidden_units=(8,), history=0)
    model.fit(prepared)
    assert model.feature_schema_.of("context") == prepared.dataset.features.of("context")
    items, _ = model.recommend(["u000"], k=3, context={"device": ["tv"], "speed": [3.0]})
    assert items.shape == (1, 3)


def test_a_parquet_float_context_reads_as_in_memory(tmp_path):
    """NaN is missing, whole floats read as integers, inf as written."""
    log = _log(seed=9)
    values = np.array([1.0, 2.5, np.nan, np.inf, 7.0])
    log["speed"] = values[np.arange(len(log)) % len(values)]
    path = tmp_path / "log.parquet"
    log.to_parquet(path)
    reading = {"context_features": "speed=category"}
    prepare(path, tmp_path / "p", PrepareOptions(**reading), verbose=False)
    prepared = load_prepared(tmp_path / "p").dataset.ratings["speed"]
    in_memory = tfrec.load_dataset(path, **reading).ratings["speed"]
    assert sorted(set(prepared)) == sorted(set(in_memory)) == ["", "1", "2.5", "7", "inf"]


def test_parquet_float_ids_read_as_in_memory_and_a_nan_id_is_refused(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    log = _log(seed=10)
    log["customer"] = log["customer"].str[1:].astype(float)  # 3.0 is user "3"
    path = tmp_path / "log.parquet"
    log.to_parquet(path)
    prepare(path, tmp_path / "p", PrepareOptions(split="random"), verbose=False)
    _assert_same_split(
        tfrec.split(tfrec.load_dataset(path), "random"), load_prepared(tmp_path / "p")
    )
    log.loc[7, "customer"] = np.nan  # a float NaN, not a null: pandas would write a null
    pq.write_table(
        pa.Table.from_pandas(log, preserve_index=False).set_column(
            0, "customer", pa.array(log["customer"].to_numpy(), from_pandas=False)
        ),
        path,
    )
    with pytest.raises(DataError, match=r"row 8: empty 'customer' \(an ID is missing\)"):
        prepare(path, tmp_path / "q", PrepareOptions(split="random"), verbose=False)
    with pytest.raises(DataError, match=r"row 8: empty 'customer' \(an ID is missing\)"):
        tfrec.load_dataset(path)  # the in-memory reader alike


def _with_context(frame, data):
    """A part's raw IDs, times and context columns, in a fixed row order."""
    columns = ["user", "item", "timestamp", "device", "speed", "tags", "page"]
    frame = frame.assign(
        user=data.raw_user_ids(frame["user_id"].to_numpy()).astype(str),
        item=data.raw_item_ids(frame["item_id"].to_numpy()).astype(str),
    )
    return frame[columns].sort_values(columns[:3]).reset_index(drop=True)


def test_a_numeric_context_feature_with_a_word_is_refused_with_its_line(tmp_path):
    log = _log(seed=8).assign(speed="3")
    log.loc[41, "speed"] = "5'11"  # a quote, which the engine's SQL must not choke on
    log.loc[50, "speed"] = "fast"
    path = tmp_path / "log.csv"
    log.to_csv(path, index=False)
    with pytest.raises(DataError, match=r"line 43.*numeric feature 'speed' has \"5'11\".*2 such"):
        prepare(path, tmp_path / "p", PrepareOptions(context_features="speed=numeric"))
    with pytest.raises(DataError, match="column 'color' \\(--context-features\\) is not in"):
        prepare(path, tmp_path / "q", PrepareOptions(context_features="color"))


def test_features_without_their_table_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="--user-features needs --users"):
        PrepareOptions(user_features="age").validate()
    with pytest.raises(ConfigError, match="--item-features needs --items"):
        PrepareOptions(item_features="price").validate()


def test_shards_mix_user_codes(tmp_path):
    """Each shard holds users of every residue of the code (an even and an odd
    one, every class mod 4): the hash's high bits choose the shard."""
    log = _log(seed=11, n=4000)
    log["customer"] = [f"u{i % 400:03d}" for i in range(len(log))]
    path = tmp_path / "log.csv"
    log.to_csv(path, index=False)
    manifest = prepare(path, tmp_path / "p", PrepareOptions(shards=4), verbose=False)
    for shard in manifest["shards"]["train"]:
        users = pd.read_parquet(tmp_path / "p" / shard["file"])["user_id"].unique()
        assert set(users % 4) == {0, 1, 2, 3}
        assert 0.15 < len(users) / 400 < 0.35

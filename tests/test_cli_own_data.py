"""The CLI on a user's own files: reasons, unknown IDs, export names, reading flags."""

import json
import re

import numpy as np
import pandas as pd
import pytest

from tfrec.cli import main


@pytest.fixture(autouse=True)
def _work_in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _write_log(folder, ratings: bool):
    """12 users x 10 string-ID items in two taste groups, and an items table that
    also lists two items no one chose (``s98``, ``s99``)."""
    rng = np.random.default_rng(0)
    rows = []
    for user in range(12):
        group = user % 2
        for item in rng.choice(5, size=4, replace=False) + 5 * group:
            rows.append((f"c{user}", f"s{item}", float(rng.integers(3, 6)), 1000 + len(rows)))
    log = pd.DataFrame(rows, columns=["customer", "sku", "stars", "ts"])
    if not ratings:
        log = log.drop(columns="stars")
    log.to_csv(folder / "shop.csv", index=False)
    titles = [f"s{i}" for i in (*range(10), 98, 99)]
    items = pd.DataFrame({"sku": titles, "name": [f"Product {t}" for t in titles]})
    items.to_csv(folder / "products.csv", index=False)
    return folder / "shop.csv", folder / "products.csv"


@pytest.fixture(scope="module", params=["implicit", "ratings"])
def own_runs(request, tmp_path_factory):
    """itemknn and popularity runs on an own log whose items table has unused items."""
    folder = tmp_path_factory.mktemp(request.param)
    log, items = _write_log(folder, ratings=request.param == "ratings")
    columns = "user=customer,item=sku,timestamp=ts"
    columns += ",rating=stars" if request.param == "ratings" else ""
    runs = {}
    for model in ("itemknn", "popularity"):
        runs[model] = folder / model
        argv = ["train", "--model", model, "--dataset", str(log), "--columns", columns]
        argv += ["--items", str(items), "--item-columns", "item=sku,title=name"]
        argv += ["--split", "random", "--no-export", "--quiet", "--out", str(runs[model])]
        assert main(argv) == 0
    return request.param, runs


@pytest.mark.parametrize("model", ["itemknn", "popularity"])
def test_explain_on_own_data_with_items_absent_from_training(own_runs, model, capsys):
    kind, runs = own_runs
    stats = pd.read_csv(runs[model] / "items.csv").set_index("item_id")
    assert stats.loc[["s98", "s99"], "mean_rating"].isna().all()  # blank cells
    argv = ["recommend", "--model-dir", str(runs[model]), "--user-id", "c0", "-k", "6"]
    code, out, err = _run(capsys, *argv, "--explain", "--json")
    assert code == 0, err
    rows = json.loads(out)
    assert len(rows) == 6
    for row in rows:
        reason, info = row["reason"], stats.loc[row["item_id"]]
        liked = re.fullmatch(r"because you (chose|rated) Product (s\d+)( highly \(\d\))?", reason)
        if liked:  # a neighbour c0 chose in training: c0 is in the group of s0-s4
            assert model == "itemknn" and liked[2] in {f"s{i}" for i in range(5)}
            assert (liked[1] == "chose") == (kind == "implicit")
        elif kind == "implicit":
            assert reason == f"{info.n_ratings} interactions in training"
        else:
            assert reason == f"rated {info.n_ratings} times, average {info.mean_rating:.2f}"
    if kind == "implicit" and model == "itemknn":
        assert any(row["reason"].startswith("because you chose") for row in rows)
    code, out, _ = _run(capsys, *argv[:-2], "-k", "3", "--explain")  # the text form too
    assert code == 0 and out.count(" - ") == 3


def test_unknown_user_gets_the_most_popular_items_with_a_note(own_runs, capsys):
    _, runs = own_runs
    run = str(runs["itemknn"])
    code, out, err = _run(capsys, "recommend", "--model-dir", run, "--user-id", "nobody", "--json")
    assert code == 0
    note = f"user 'nobody' is not in the training data of {run}: the most popular items"
    assert err == f"note: {note}\n"
    rows = json.loads(out)
    train = pd.read_csv(runs["popularity"] / "items.csv").set_index("item_id")["n_ratings"]
    counts = sorted(train, reverse=True)[: len(rows)]
    assert [train[row["item_id"]] for row in rows] == counts  # most chosen first
    assert all(row["note"] == note for row in rows)
    code, out, _ = _run(capsys, "recommend", "--model-dir", run, "--user-id", "c0", "--json")
    assert code == 0 and "note" not in json.loads(out)[0]


def test_unknown_item_gets_the_most_popular_items_without_scores(own_runs, capsys):
    _, runs = own_runs
    run = str(runs["itemknn"])
    code, out, err = _run(capsys, "similar", "--model-dir", run, "--item-id", "s98", "--json")
    rows = json.loads(out)
    assert code == 0 and err.startswith("note: item 's98' is not in the training data of")
    assert all(row["score"] is None and "note" in row for row in rows)
    code, out, _ = _run(capsys, "similar", "--model-dir", run, "--item-id", "s98")
    assert code == 0 and out.splitlines()[1].endswith("score -")


def _info(capsys, *argv):
    code, out, err = _run(capsys, "data", "info", *argv, "--json")
    assert code == 0, err
    return json.loads(out), err.splitlines()


def test_headerless_log_and_items_table_with_names(tmp_path, capsys):
    (tmp_path / "plays.tsv").write_text("u1\ta\t3\nu1\tb\t10\nu2\ta\t1\nu2\ta\t2\n")
    (tmp_path / "artists.tsv").write_text("a\tAbba\nb\tBeck\nc\tCake\n")
    info, err = _info(
        capsys,
        *("--dataset", str(tmp_path / "plays.tsv"), "--no-header", "--names", "user,artist,plays"),
        *("--items", str(tmp_path / "artists.tsv"), "--items-no-header"),
        *("--item-names", "id,name", "--item-columns", "item=id,title=name"),
        *("--columns", "item=artist"),
    )
    assert (info["n_users"], info["n_items_in_catalog"], info["n_ratings"]) == (2, 3, 3)
    assert (
        err[0]
        == "columns: user=user, item=artist, weight=plays (detected; set them with --columns)"
    )
    assert err[1].startswith("note: 1 repeated (user, item) row") and len(err) == 2


def test_implicit_ignores_the_rating_column_and_the_notes_are_printed(tmp_path, capsys):
    (tmp_path / "log.csv").write_text("user,item,rating\n1,10,4\n1,11,5\n2,10,3\n2,10,3\n")
    info, err = _info(capsys, "--dataset", str(tmp_path / "log.csv"))
    assert info["feedback"] != "implicit"
    detected = "columns: user=user, item=item, rating=rating (detected; set them with {})"
    assert err[0] == detected.format("--columns, --implicit")
    info, err = _info(capsys, "--dataset", str(tmp_path / "log.csv"), "--implicit")
    assert info["feedback"] == "implicit"
    assert err[0] == "columns: user=user, item=item (detected; set them with --columns)"
    assert any(line.startswith("note: ") for line in err)
    train = ["train", "--model", "popularity", "--dataset", "log.csv", "--implicit"]
    code, _, err = _run(capsys, *train, "--split", "random", "--no-export", "--out", "r", "--quiet")
    assert code == 0 and err == ""
    code, _, err = _run(
        capsys, "data", "info", "--dataset", "log.csv", "--implicit", "--columns", "rating=rating"
    )
    assert code == 2 and "--implicit ignores the rating column" in err


@pytest.mark.parametrize(
    "flags",
    [
        ["--columns", "customer"],
        ["--columns", "item=sku,rating=stars", "--dataset", "nouser.csv"],
        ["--items", "products.csv", "--item-columns", "sku"],
        ["--items", "products.csv", "--item-columns", "title=name", "--item-names", "a,name"],
        ["--items", "products.csv", "--item-columns", "user=customer,item=sku"],
    ],
)
def test_every_example_in_a_reading_error_is_valid(tmp_path, capsys, flags):
    from tfrec.data.interaction_log import ITEM_KEYS, RATING_KEYS, parse_mapping

    _write_log(tmp_path, ratings=True)
    pd.DataFrame({"sku": ["s1"], "stars": [4.0]}).to_csv(tmp_path / "nouser.csv", index=False)
    code, _, err = _run(capsys, "data", "info", "--dataset", "shop.csv", *flags)
    assert code == 2 and err.startswith("tfrec: error: "), err
    examples = re.findall(r"e\.g\. (--[\w-]+) ([\w=,]+)", err)
    assert examples or "unknown key 'user' in --item-columns; accepted: item, title" in err
    for flag, example in examples:
        parse_mapping(example, RATING_KEYS if flag == "--columns" else ITEM_KEYS, flag)


def test_benchmark_reproduce_command_runs_as_printed(tmp_path, capsys):
    import shlex

    from tfrec.cli import build_parser, data_options

    log, _ = _write_log(tmp_path, ratings=True)
    lines = log.read_text().splitlines()[1:]  # headerless, ';'-separated
    (tmp_path / "shop.txt").write_text("\n".join(line.replace(",", ";") for line in lines))
    argv = ["benchmark", "--dataset", "shop.txt", "--no-header", "--sep", ";"]
    argv += ["--names", "c,s,r,t", "--columns", "user=c,item=s,timestamp=t", "--implicit"]
    argv += ["--min-item-interactions", "2", "--models", "popularity", "--seeds", "1"]
    argv += ["--bootstrap", "10", "--split", "random", "--out", "bench"]
    code, _, err = _run(capsys, *argv, "--quiet")
    assert code == 0, err
    settings = json.loads((tmp_path / "bench" / "leaderboard.json").read_text())["settings"]
    words = shlex.split(settings["command"])
    assert words[:2] == ["tfrec", "benchmark"]
    again, given = build_parser().parse_args(words[1:]), build_parser().parse_args(argv)
    assert again.dataset == "shop.txt" and data_options(again) == data_options(given)
    assert (again.models, again.split, again.seeds, again.out) == (
        "popularity",
        "random",
        1,
        "bench",
    )


def test_exports_of_different_datasets_never_share_a_name(tmp_path, capsys):
    import shutil

    log, _ = _write_log(tmp_path, ratings=False)
    shutil.copy(log, tmp_path / "hours.csv")
    train = ["train", "--model", "popularity", "--split", "random", "--quiet"]
    train += ["--columns", "user=customer,item=sku,timestamp=ts"]
    assert main([*train, "--dataset", "hours.csv", "--out", "a"]) == 0
    export = tmp_path / "saved_models" / "hours-popularity" / "1"
    assert json.loads((export / "assets.extra" / "tfrec.json").read_text())["dataset"] == "hours"

    mixed = [*train, "--dataset", "shop.csv", "--export-name", "hours-popularity"]
    code, _, err = _run(capsys, *mixed, "--out", "b")
    assert code == 2 and err.count("\n") == 1 and "--export-name NAME" in err
    assert "hours-popularity holds versions trained on 'hours', and this model on 'shop'" in err
    assert not (tmp_path / "b").exists()  # refused before the fit
    assert main([*train, "--dataset", "shop.csv", "--out", "b"]) == 0
    assert (tmp_path / "saved_models" / "shop-popularity" / "1").is_dir()

    assert main(["export", "--model-dir", "a"]) == 0  # named as train names it
    assert (tmp_path / "saved_models" / "hours-popularity" / "2").is_dir()
    code, _, err = _run(capsys, "export", "--model-dir", "b", "--name", "hours-popularity")
    assert code == 2 and "tfrec export --name NAME" in err


def test_new_user_from_features_alone(tmp_path, capsys):
    """Train two_tower with a users table; a new user with no items yet, from "fr",
    gets the items the "fr" users chose."""
    rng = np.random.default_rng(1)
    rows = [
        (f"{group}{user}", f"{item}{i}", 1_600_000_000 + 3600 * n)
        for group, item in (("u", "a"), ("v", "b"))
        for user in range(20)
        for n, i in enumerate(rng.choice(8, 6, replace=False))
    ]
    pd.DataFrame(rows, columns=["customer", "sku", "ts"]).to_csv(tmp_path / "log.csv", index=False)
    customers = [f"{g}{u}" for g in "uv" for u in range(20)]
    country = ["fr" if c.startswith("u") else "de" for c in customers]
    users = pd.DataFrame({"customer": customers, "country": country, "age": 30})
    users.to_csv(tmp_path / "customers.csv", index=False)
    run_dir = tmp_path / "run"
    argv = ["train", "--model", "two_tower", "--dataset", str(tmp_path / "log.csv")]
    argv += ["--users", str(tmp_path / "customers.csv"), "--user-features", "country,age"]
    argv += ["--set", "embedding_dim=8", "--set", "epochs=40", "--set", "batch_size=32"]
    argv += ["--set", "patience=40", "--split", "none", "--no-export", "--quiet"]
    assert main([*argv, "--out", str(run_dir)]) == 0
    recommend = ["recommend", "--model-dir", str(run_dir), "--history", "", "-k", "3", "--json"]
    code, out, _ = _run(capsys, *recommend, "--feature", "country=fr", "--feature", "age=41")
    assert code == 0 and all(row["item_id"].startswith("a") for row in json.loads(out)), out
    code, out, _ = _run(capsys, *recommend, "--feature", "country=de")
    assert code == 0 and all(row["item_id"].startswith("b") for row in json.loads(out)), out
    code, _, err = _run(capsys, *recommend, "--feature", "height=180")
    assert code == 2 and "reads no feature height; it reads: country, age" in err
    code, _, err = _run(capsys, *recommend, "--feature", "country")
    assert code == 2 and "--feature takes NAME=VALUE" in err
    known = ["recommend", "--model-dir", str(run_dir), "--user-id", "u1", "--feature", "device=tv"]
    code, _, err = _run(capsys, *known)
    assert code == 2 and "reads no feature device; it reads: none" in err  # no context trained

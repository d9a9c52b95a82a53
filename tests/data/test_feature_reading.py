"""Reading user, item and context features: types, detection, coding, errors, CLI."""

import json

import numpy as np
import pandas as pd
import pytest

from tests.movielens_files import write_1m
from tfrec.cli import main
from tfrec.data import load_dataset
from tfrec.data.feature_columns import detect_type
from tfrec.data.feature_schema import Feature
from tfrec.data.interaction_log import read_interactions
from tfrec.errors import ConfigError, DataError
from tfrec.splits import SPLIT_METHODS, split

LOG = pd.DataFrame(
    {
        "user": ["u1", "u1", "u2", "u3", "u3"],
        "item": ["i1", "i2", "i1", "i3", "i3"],
        "rating": [4, 3, 5, 2, 4],
        "ts": [1000, 2000, 3000, 4000, 5000],
        "device": ["mobile", "web", "mobile", None, "tv"],
        "page": [1, 2, 1, 3, 3],
    }
)
USERS = pd.DataFrame(
    {
        "uid": ["u2", "u1", "u9"],
        "age": [31.0, np.nan, 40.0],
        "gender": ["F", "M", "F"],
        "zip": ["02139", "10001", "99999"],
        "bio": ["likes long walks on the beach", "", "who knows what this is"],
        "likes": ["jazz;rock", "rock", "pop;jazz"],
    }
)
ITEMS = pd.DataFrame(
    {
        "item": ["i1", "i2", "i4"],
        "title": ["One", "Two", "Four"],
        "price": [9.5, None, 3.0],
        "brand": ["acme", "acme", "zeta"],
    }
)


def _write(folder, name, frame):
    path = folder / name
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(params=["csv", "dataframe"])
def sources(request, tmp_path):
    if request.param == "dataframe":
        return LOG, USERS, ITEMS
    return (
        _write(tmp_path, "log.csv", LOG),
        _write(tmp_path, "users.csv", USERS),
        _write(tmp_path, "items.csv", ITEMS),
    )


def test_each_type_is_read_in_its_convention(sources):
    log, users, items = sources
    data = read_interactions(
        log,
        users=users,
        user_features="age=numeric,gender=category,zip,bio=text,likes=multi",
        items=items,
        item_features="price,brand=category",
        context_features="device,page=category",
        context_time=True,
        list_sep=";",
    )
    types = {(f.source, f.name): f.type for f in data.features.features}
    assert types == {
        ("user", "age"): "numeric",
        ("user", "gender"): "category",
        ("user", "zip"): "category",  # a leading zero: a code
        ("user", "bio"): "text",
        ("user", "likes"): "multi",
        ("item", "price"): "numeric",
        ("item", "brand"): "category",
        ("context", "device"): "category",
        ("context", "page"): "category",
    }
    assert data.features.context_time
    users = data.users.set_index(data.raw_user_ids(data.users["user_id"]))
    assert list(users.index) == ["u1", "u2", "u3"]  # the log's users; u9 dropped
    assert users["age"].dtype == np.float32
    assert np.isnan(users.loc["u1", "age"]) and users.loc["u2", "age"] == 31.0
    assert users.loc["u2", "zip"] == "02139"
    assert users.loc["u2", "likes"] == "jazz|rock"  # joined by | whatever the list_sep
    assert users.loc["u1", "bio"] == ""
    # u3 is in the log, not in the table: missing values
    assert np.isnan(users.loc["u3", "age"]) and users.loc["u3", "gender"] == ""
    items = data.items.set_index(data.raw_item_ids(data.items["item_id"]))
    assert items.loc["i1", "price"] == np.float32(9.5) and np.isnan(items.loc["i2", "price"])
    assert items["price"].dtype == np.float32
    assert items.loc["i3", "brand"] == "" and np.isnan(items.loc["i3", "price"])
    assert items.loc["i1", "title"] == "One" and items.loc["i1", "genres"] == []
    ratings = data.ratings
    assert ratings["page"].tolist() == ["1", "2", "1", "3"]  # numbers as written
    assert ratings["device"].tolist() == ["mobile", "web", "mobile", "tv"]  # u3's i3: the last


def test_string_user_ids_are_coded_as_in_the_ratings(tmp_path):
    log = pd.DataFrame({"user": ["b", "c", "a", "b"], "item": [1, 2, 3, 2]})
    users = pd.DataFrame(
        {"user": ["c", "a", "yy", "b", "zz"], "plan": ["pro", "free", "x", "pro", "x"]}
    )
    data = read_interactions(log, users=users)
    raw = data.raw_user_ids(data.users["user_id"])
    assert list(raw) == ["a", "b", "c"]
    assert data.users["plan"].tolist() == ["free", "pro", "pro"]
    by_id = dict(zip(data.users["user_id"], data.users["plan"], strict=True))
    for code, user in zip(data.ratings["user_id"], log["user"], strict=True):
        assert by_id[code] == dict(zip(users["user"], users["plan"], strict=True))[user]


def test_integer_user_ids_and_a_detected_user_column(tmp_path):
    log = _write(tmp_path, "log.csv", pd.DataFrame({"user_id": [7, 8, 9], "item_id": [1, 1, 2]}))
    table = pd.DataFrame({"customer_id": [9, 7, 5, 3], "country": ["FR", "DE", "IT", "ES"]})
    users = _write(tmp_path, "users.csv", table)
    data = read_interactions(log, users=users)
    assert data.user_vocab is None
    assert data.users["user_id"].tolist() == [7, 8, 9]
    assert data.users["country"].tolist() == ["DE", "", "FR"]
    assert data.extra["user_columns"] == {"user": "customer_id"}
    assert any("user features: country=category (detected)" in n for n in data.extra["notes"])


def test_headerless_user_table(tmp_path):
    log = pd.DataFrame({"user": [1, 2], "item": [1, 2]})
    path = tmp_path / "users.txt"
    path.write_text("1|23|M\n2|41|F\n")
    data = read_interactions(
        log, users=path, user_header=False, user_names="user,age,gender", user_columns="user=user"
    )
    assert data.users["age"].tolist() == [23.0, 41.0]
    assert data.users["gender"].tolist() == ["M", "F"]


@pytest.mark.parametrize(
    ("values", "kind"),
    [
        (["25", "31", "", "40.5"], "numeric"),
        (["02139", "10001"], "category"),  # codes with a leading zero
        (["M", "F", "M", ""], "category"),
        (["rock|pop", "jazz", "pop|metal|rock", "jazz|pop"], "multi"),
        (["a long description of the item", "another rather long text here", "x y z w"], "text"),
        (["New York", "San Francisco", "Paris"], "category"),
        (["", ""], "category"),
    ],
)
def test_type_detection(values, kind):
    assert detect_type(pd.Series(values, dtype=object)) == kind


def test_files_without_features_have_none(tmp_path):
    data = read_interactions(LOG)
    assert not data.features and data.users is None
    assert list(data.ratings.columns) == ["user_id", "item_id", "rating", "timestamp"]
    assert "features" not in data.info()


def test_only_the_named_item_and_context_features(tmp_path):
    data = read_interactions(LOG, items=ITEMS, item_features="brand")
    assert [f.name for f in data.features.features] == ["brand"]
    assert "price" not in data.items and "device" not in data.ratings


def test_context_columns_survive_duplicates_and_k_core():
    def device(**options):
        data = read_interactions(LOG, context_features="device", **options)
        return data.ratings["device"].tolist()

    # u3's repeated i3: the first row has no device, the last "tv"
    assert device(duplicates="first") == ["mobile", "web", "mobile", ""]
    assert device(duplicates="last") == ["mobile", "web", "mobile", "tv"]
    assert device(duplicates="count") == ["mobile", "web", "mobile", "tv"]
    assert device(min_user_interactions=2) == ["mobile", "web"]  # u1 alone has two
    data = read_interactions(LOG, context_features="device", duplicates="first")
    info = {f["name"]: f for f in data.info()["features"]}
    assert info["device"]["missing"] == 0.25 and info["device"]["cardinality"] == 2


@pytest.mark.parametrize("method", SPLIT_METHODS)
def test_splits_keep_the_context_columns(method):
    rng = np.random.default_rng(0)
    n_users, n_items = 40, 30
    rows = [(u, i) for u in range(n_users) for i in rng.choice(n_items, 12, replace=False)]
    log = pd.DataFrame(rows, columns=["user", "item"])
    log["ts"] = np.arange(len(log))
    log["device"] = np.where(log["item"] % 2, "web", "mobile")
    data = read_interactions(log, context_features="device", context_time=True)
    parts = split(data, method, seed=0)
    frames = [parts.train, parts.validation, parts.test, *(parts.given or {}).values()]
    for frame in frames:
        assert "device" in frame
        expected = np.where(frame["item_id"] % 2, "web", "mobile")
        assert (frame["device"].to_numpy() == expected).all()
    assert parts.dataset.features == data.features


def _message(error) -> str:
    return str(error.value)


def test_a_feature_column_the_file_lacks(tmp_path):
    log = _write(tmp_path, "log.csv", LOG)
    users = _write(tmp_path, "users.csv", USERS)
    with pytest.raises(DataError) as e:
        read_interactions(log, context_features="browser")
    assert _message(e).startswith(f"{log}: column 'browser' (--context-features) is not in")
    assert "it has: user, item, rating, ts, device, page" in _message(e)
    with pytest.raises(DataError) as e:
        read_interactions(log, users=users, user_features="agee=numeric")
    assert f"{users}: column 'agee' (--user-features)" in _message(e)
    assert "uid, age, gender" in _message(e)
    with pytest.raises(DataError, match=r"column 'colour' \(--item-features\)"):
        read_interactions(log, items=ITEMS, item_features="colour")


def test_a_numeric_feature_with_text(tmp_path):
    log = _write(tmp_path, "log.csv", LOG)
    users = _write(tmp_path, "users.csv", USERS.assign(age=["31", "unknown", "40"]))
    with pytest.raises(DataError) as e:
        read_interactions(log, users=users, user_features="age=numeric")
    assert _message(e).startswith(f"{users}, line 3: numeric feature 'age' has 'unknown'")
    assert "--user-features age=category" in _message(e)
    with pytest.raises(DataError, match=r"DataFrame, row 1: numeric feature 'device' has 'mobile'"):
        read_interactions(LOG, context_features="device=numeric")


def test_repeated_user_ids_in_the_user_table(tmp_path):
    users = _write(tmp_path, "users.csv", pd.concat([USERS, USERS.iloc[[1]]]))
    with pytest.raises(DataError) as e:
        read_interactions(LOG, users=users)
    assert _message(e).startswith(f"{users}, line 5: user 'u1' occurs again in column 'uid'")
    assert "one row per user" in _message(e)


def test_unknown_type_and_misplaced_options():
    with pytest.raises(
        ConfigError, match=r"--user-features: unknown type 'number' for feature 'age'"
    ):
        read_interactions(LOG, users=USERS, user_features="age=number")
    with pytest.raises(ConfigError, match="--user-features needs --users"):
        read_interactions(LOG, user_features="age")
    with pytest.raises(ConfigError, match="--item-features needs --items"):
        read_interactions(LOG, item_features="price")
    with pytest.raises(ConfigError, match="'rating' is a column tfrec reads itself"):
        read_interactions(LOG, context_features="rating=category")
    with pytest.raises(DataError, match="'stars' is the rating column; --context-features takes"):
        read_interactions(LOG.rename(columns={"rating": "stars"}), context_features="stars")


def test_context_time_needs_timestamps(tmp_path):
    log = _write(tmp_path, "log.csv", LOG.drop(columns="ts"))
    with pytest.raises(DataError) as e:
        read_interactions(log, context_time=True)
    assert _message(e).startswith(f"{log}: --context-time reads the hour and weekday")
    assert "--columns timestamp=COLUMN" in _message(e)


def test_movielens_1m_demographics_are_user_features(tmp_path):
    write_1m(tmp_path)
    data = load_dataset("ml-1m", tmp_path)
    assert data.features.of("user") == (
        Feature("age", "user", "numeric"),
        Feature("gender", "user", "category"),
        Feature("occupation", "user", "category"),
        Feature("zip_code", "user", "category"),
    )
    assert data.users["age"].dtype == np.float32
    assert data.users["occupation"].tolist() == ["1", "2", "3", "4", "5"]
    assert data.users["zip_code"].iloc[0] == "48101"
    assert sorted(data.users["user_id"]) == sorted(data.ratings["user_id"].unique())


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_data_info_shows_the_schema(tmp_path, capsys):
    log = _write(tmp_path, "log.csv", LOG)
    users = _write(tmp_path, "users.csv", USERS)
    items = _write(tmp_path, "items.csv", ITEMS)
    argv = ["data", "info", "--dataset", str(log), "--users", str(users)]
    argv += ["--user-columns", "user=uid", "--user-features", "age,gender=category,likes=multi"]
    argv += ["--items", str(items), "--item-features", "price=numeric"]
    argv += ["--context-features", "device", "--context-time", "--list-sep", ";"]
    code, out, err = _run(capsys, *argv)
    assert code == 0, err
    assert "note: user features: age=numeric (detected), gender=category, likes=multi" in err
    lines = {line.split()[1]: line for line in out.splitlines() if line.startswith("  ")}
    assert lines["age"].split()[:3] == ["user", "age", "numeric"]
    assert "66.7% missing" in lines["age"] and "e.g. 31.0" in lines["age"]
    assert "2 distinct" in lines["likes"]  # jazz, rock (u1, u2; u3 has no row, u9 left out)
    assert lines["device"].split()[:3] == ["context", "device", "category"]
    assert "context_time" in out and "True" in out
    code, out, err = _run(capsys, *argv, "--json")
    summary = json.loads(out)
    assert summary["context_time"] is True
    price = next(f for f in summary["features"] if f["name"] == "price")
    assert price == {
        "source": "item",
        "name": "price",
        "type": "numeric",
        "cardinality": 2,  # i1 9.5, i4 3.0 (in the catalogue, not the log)
        "missing": 0.5,  # i2 empty, i3 not in the table
        "example": 9.5,
    }


def test_cli_refuses_an_unknown_type(tmp_path, capsys):
    log = _write(tmp_path, "log.csv", LOG)
    code, out, err = _run(capsys, "data", "info", "--dataset", str(log), "--context-features",
                          "device=colour")  # fmt: skip
    assert code == 2
    assert "--context-features: unknown type 'colour' for feature 'device'" in err


def test_benchmark_reproduce_command_carries_the_feature_flags(tmp_path, capsys, monkeypatch):
    import shlex

    from tfrec.cli import build_parser, data_options

    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    rows = [(f"u{u}", f"i{i}") for u in range(30) for i in rng.choice(20, 8, replace=False)]
    log = pd.DataFrame(rows, columns=["user", "item"]).assign(
        ts=lambda f: np.arange(len(f)), device=lambda f: np.where(f.index % 3, "web", "tv")
    )
    log.to_csv("log.csv", index=False)
    (tmp_path / "users.txt").write_text("".join(f"u{u}|{20 + u}\n" for u in range(0, 30, 2)))
    argv = ["benchmark", "--dataset", "log.csv", "--users", "users.txt", "--users-no-header"]
    argv += ["--user-names", "who,age", "--user-columns", "user=who", "--user-features", "age"]
    argv += ["--context-features", "device=category", "--context-time"]
    argv += ["--models", "popularity", "--seeds", "1", "--bootstrap", "10"]
    argv += ["--split", "cold-users", "--out", "bench"]
    code, _, err = _run(capsys, *argv, "--quiet")
    assert code == 0, err
    settings = json.loads((tmp_path / "bench" / "leaderboard.json").read_text())["settings"]
    words = shlex.split(settings["command"])
    again, given = build_parser().parse_args(words[1:]), build_parser().parse_args(argv)
    assert data_options(again) == data_options(given)
    assert data_options(given)["user_header"] is False and data_options(given)["context_time"]

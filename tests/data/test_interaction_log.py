"""Reading the user's own interaction logs: every option and every error."""

import json

import numpy as np
import pandas as pd
import pytest

from tfrec.cli import main
from tfrec.data import load_dataset
from tfrec.data.interaction_log import k_core, parse_mapping, read_interactions
from tfrec.errors import ConfigError, DataError
from tfrec.splits import split

LOG = """customer_id,sku,stars,ts
c1,SKU-9,4,1600000000
c1,SKU-3,5,1600000100
c2,SKU-9,2,1600000200
c2,042,3,1600000300
c3,SKU-3,1,1600000400
"""


def write(tmp_path, text, name="log.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_detects_columns_and_keeps_string_ids_raw(tmp_path):
    data = read_interactions(write(tmp_path, LOG))
    assert data.extra["columns"] == {
        "user": "customer_id",
        "item": "sku",
        "rating": "stars",
        "timestamp": "ts",
    }
    assert list(data.user_vocab.ids) == ["c1", "c2", "c3"]
    assert list(data.item_vocab.ids) == ["042", "SKU-3", "SKU-9"]  # "042" stays a string
    raw = data.raw_item_ids(data.ratings["item_id"])
    assert list(raw) == ["SKU-9", "SKU-3", "SKU-9", "042", "SKU-3"]
    assert data.rating_scale == (1.0, 5.0) and not data.implicit
    info = data.info()
    assert info["n_users"] == 3 and info["n_items"] == 3 and info["n_ratings"] == 5


def test_integer_ids_behave_as_movielens(tmp_path):
    path = write(tmp_path, "userId,movieId,rating,timestamp\n1,10,4,5\n2,10,3,6\n")
    data = read_interactions(path)
    assert data.user_vocab is None and data.item_vocab is None
    assert data.ratings["user_id"].dtype == np.int32
    assert list(data.ratings["item_id"]) == [10, 10]


def test_huge_integer_ids_get_a_vocabulary(tmp_path):
    path = write(tmp_path, "user,item\n1,9000000000\n2,9000000001\n")
    data = read_interactions(path)
    assert data.item_vocab is not None and not data.item_vocab.is_string
    assert list(data.raw_item_ids(data.ratings["item_id"])) == [9000000000, 9000000001]


def test_columns_mapping_string_and_unknown_key():
    assert parse_mapping("user=a, item=b") == {"user": "a", "item": "b"}
    with pytest.raises(ConfigError, match="unknown key 'usr' in --columns; accepted: user"):
        parse_mapping("usr=a")
    with pytest.raises(ConfigError, match="KEY=COLUMN"):
        parse_mapping("user")


def test_mapped_column_missing_lists_the_columns(tmp_path):
    with pytest.raises(DataError, match=r"column 'buyer'.*it has: customer_id, sku, stars, ts"):
        read_interactions(write(tmp_path, LOG), columns="user=buyer,item=sku")


def test_no_detectable_user_column_says_what_was_tried(tmp_path):
    path = write(tmp_path, "who,what\na,b\n")
    with pytest.raises(DataError, match=r"no user column found; tried user, user_id.*--columns"):
        read_interactions(path)


def test_empty_file_and_header_only(tmp_path):
    with pytest.raises(DataError, match="the file is empty"):
        read_interactions(write(tmp_path, ""))
    with pytest.raises(DataError, match="header but no rows"):
        read_interactions(write(tmp_path, "user,item\n"))


def test_non_numeric_rating_names_line_and_value(tmp_path):
    path = write(tmp_path, "user,item,rating\na,x,4\nb,y,five\n")
    with pytest.raises(DataError, match=r"log.csv, line 3: rating column 'rating' has 'five'"):
        read_interactions(path)


def test_empty_rating_is_refused(tmp_path):
    path = write(tmp_path, "user,item,rating\na,x,4\nb,y,\n")
    with pytest.raises(DataError, match=r"line 3: rating column 'rating' is empty"):
        read_interactions(path)


def test_missing_id_names_the_row(tmp_path):
    path = write(tmp_path, "user,item\na,x\n,y\n")
    with pytest.raises(DataError, match=r"line 3: empty 'user' \(an ID is missing\)"):
        read_interactions(path)


@pytest.mark.parametrize(
    ("text", "unit", "expected"),
    [
        ("1600000000\n1600000100", None, [1600000000, 1600000100]),
        ("1600000000123\n1600000100999", None, [1600000000, 1600000100]),
        ("1600000000123\n1600000100999", "ms", [1600000000, 1600000100]),
        ("2020-09-13T12:26:40Z\n2020-09-13 12:28:20", None, [1600000000, 1600000100]),
        ("2020-09-13T14:26:40+02:00\n2020-09-13T12:28:20", "iso", [1600000000, 1600000100]),
        ("09/13/2020 12:26:40\n09/13/2020 12:28:20", None, [1600000000, 1600000100]),
    ],
)
def test_timestamp_units(tmp_path, text, unit, expected):
    rows = "\n".join(f"u{i},i{i},{t}" for i, t in enumerate(text.split("\n")))
    data = read_interactions(write(tmp_path, "user,item,time\n" + rows), timestamp_unit=unit)
    assert list(data.ratings["timestamp"]) == expected


def test_unparseable_timestamp_names_the_first_bad_value(tmp_path):
    path = write(tmp_path, "user,item,date\na,x,2020-01-01\nb,y,yesterday\n")
    with pytest.raises(DataError, match=r"line 3: cannot read timestamp 'yesterday'"):
        read_interactions(path)
    with pytest.raises(DataError, match=r"line 2: timestamp '2020-01-01'.*not a number of seconds"):
        read_interactions(path, timestamp_unit="s")


def test_no_timestamp_column_refuses_time_splits(tmp_path):
    data = read_interactions(write(tmp_path, "user,item\na,x\na,y\nb,x\n"))
    assert not data.has_timestamps and data.info()["first_rating"] is None
    with pytest.raises(ConfigError, match="no timestamp column; use --split random"):
        split(data, "temporal")
    assert len(split(data, "random", seed=1).train) > 0


def test_implicit_feedback_counts_repeats(tmp_path):
    path = write(tmp_path, "user,item,ts\na,x,1\na,x,5\na,y,2\nb,x,3\na,x,4\n")
    data = read_interactions(path)
    assert data.implicit and data.extra["duplicates"] == "count"
    frame = data.ratings.assign(user=data.raw_user_ids(data.ratings["user_id"]))
    assert len(frame) == 3 and set(frame["rating"]) == {1.0}
    ax = frame[(frame.user == "a") & (data.raw_item_ids(frame["item_id"]) == "x")]
    assert ax["weight"].tolist() == [3.0] and ax["timestamp"].tolist() == [5]
    assert data.info()["rating_scale"] is None and data.info()["mean_rating"] is None


@pytest.mark.parametrize(
    ("policy", "rating", "timestamp"),
    [("last", 2.0, 30), ("first", 4.0, 10), ("mean", 3.0, 30), ("count", 2.0, 30)],
)
def test_duplicate_policies(tmp_path, policy, rating, timestamp):
    path = write(tmp_path, "user,item,rating,ts\na,x,4,10\nb,x,5,15\na,x,3,20\na,x,2,30\n")
    data = read_interactions(path, duplicates=policy)
    row = data.ratings[data.ratings["user_id"] == 0]
    assert row["rating"].tolist() == [rating] and row["timestamp"].tolist() == [timestamp]
    assert len(data.ratings) == 2
    if policy == "count":
        assert row["weight"].tolist() == [3.0]


def test_duplicates_error_names_the_first_pair(tmp_path):
    path = write(tmp_path, "user,item,rating\na,x,4\nb,x,5\na,x,3\n")
    with pytest.raises(DataError, match=r"line 4: user 'a' and item 'x' occur again"):
        read_interactions(path, duplicates="error")
    with pytest.raises(ConfigError, match="duplicates must be one of"):
        read_interactions(path, duplicates="sum")


def test_rating_scale_forced_and_out_of_scale(tmp_path):
    path = write(tmp_path, "user,item,rating\na,x,4\nb,x,7\n")
    assert read_interactions(path).rating_scale == (4.0, 7.0)
    assert read_interactions(path, rating_scale=(0, 10)).rating_scale == (0.0, 10.0)
    with pytest.raises(DataError, match=r"rating 7 .* outside the rating scale \[1, 5\]"):
        read_interactions(path, rating_scale=(1, 5))


def test_k_core_is_iterative():
    # Dropping user 3 (one rating) leaves item 12 with one rating, which then goes too.
    frame = pd.DataFrame(
        {
            "user_id": [1, 1, 2, 2, 3, 1, 2],
            "item_id": [10, 11, 10, 11, 12, 12, 13],
            "rating": 1.0,
            "timestamp": 0,
        }
    )
    kept = k_core(frame, 2, 2)
    assert sorted(set(kept["user_id"])) == [1, 2] and sorted(set(kept["item_id"])) == [10, 11]
    with pytest.raises(ConfigError, match="min_user_interactions must be an integer >= 1; got 0"):
        k_core(frame, 0, 1)


def test_k_core_on_registered_data_records_counts():
    data = load_dataset("synthetic-tiny", min_user_interactions=20, min_item_interactions=5)
    counts = data.info()["k_core"]
    assert 0 < counts["after"]["n_ratings"] < counts["before"]["n_ratings"]
    assert data.ratings.groupby("user_id").size().min() >= 20
    assert data.ratings.groupby("item_id").size().min() >= 5
    with pytest.raises(DataError, match="no interactions left after the k-core filter"):
        load_dataset("synthetic-tiny", min_user_interactions=10_000)
    with pytest.raises(DataError, match="apply to your own files only"):
        load_dataset("synthetic-tiny", columns="user=a,item=b")


@pytest.mark.parametrize("suffix", [".tsv", ".txt"])
def test_separator_detected_and_forced(tmp_path, suffix):
    path = write(tmp_path, "user\titem\tscore\na\tx\t1\nb\ty\t2\n", "log" + suffix)
    assert read_interactions(path).extra["columns"]["rating"] == "score"
    semicolons = write(tmp_path, "user;item\na;x\nb;y\n", "semi.csv")
    assert len(read_interactions(semicolons).ratings) == 2
    assert len(read_interactions(semicolons, sep=";").ratings) == 2


def test_parquet_and_dataframe(tmp_path):
    frame = pd.DataFrame(
        {
            "visitor": ["v1", "v2", "v1"],
            "product_id": [7, 8, 8],
            "event_time": pd.to_datetime(["2021-01-01", "2021-01-02", "2021-01-03"]),
        }
    )
    frame.to_parquet(tmp_path / "log.parquet")
    for source in (tmp_path / "log.parquet", frame):
        data = load_dataset(source)
        assert data.implicit and data.user_vocab.is_string and data.item_vocab is None
        assert data.ratings["timestamp"].tolist()[0] == 1609459200


def test_items_table_and_list_columns(tmp_path):
    path = write(tmp_path, LOG)
    items = write(
        tmp_path,
        "sku,name,category,keywords\nSKU-9,Mug (2019),Kitchen;Gifts,blue\n042,Pen,Office,\n"
        "NEW-1,Lamp,Home,\n",
        "items.csv",
    )
    data = read_interactions(
        path, items=items, item_columns="item=sku,title=name,genres=category,tags=keywords",
        list_sep=";",
    )  # fmt: skip
    table = data.items.assign(raw=data.raw_item_ids(data.items["item_id"])).set_index("raw")
    assert (
        table.loc["SKU-9", "genres"] == ["Kitchen", "Gifts"] and table.loc["SKU-9", "year"] == 2019
    )
    assert table.loc["SKU-9", "tags"] == ["blue"]
    assert "NEW-1" in table.index  # an item nobody interacted with yet
    assert table.loc["SKU-3", "title"] == "SKU-3"  # rated, absent from the table
    with pytest.raises(ConfigError, match="--item-columns needs --items"):
        read_interactions(path, item_columns="item=sku")
    with pytest.raises(ConfigError, match="unknown key 'price' in --item-columns"):
        read_interactions(path, items=items, item_columns="item=sku,price=p")


def test_cli_data_info_and_errors(tmp_path, capsys):
    path = write(tmp_path, LOG)
    assert main(["data", "info", "--dataset", str(path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert (info["n_users"], info["n_items"], info["n_ratings"]) == (3, 3, 5)
    assert main(["data", "info", "--dataset", str(path), "--columns", "user=nope,item=sku"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tfrec: error:") and "Traceback" not in err and "nope" in err
    assert main(["data", "info", "--dataset", str(tmp_path / "absent.csv")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_cli_train_and_recommend_string_ids(tmp_path, capsys, small_data):
    from tfrec.data.synthetic import as_log

    log, items = as_log(small_data)
    log.to_csv(tmp_path / "log.csv", index=False)
    items.to_csv(tmp_path / "items.csv", index=False)
    run = tmp_path / "run"
    args = ["train", "--model", "itemknn", "--dataset", str(tmp_path / "log.csv"),
            "--columns", "user=customer,item=sku,rating=stars,timestamp=when",
            "--items", str(tmp_path / "items.csv"), "--item-columns", "item=sku,title=name",
            "--split", "temporal", "--out", str(run), "--no-export", "--quiet"]  # fmt: skip
    assert main(args) == 0
    capsys.readouterr()
    assert main(["recommend", "--model-dir", str(run), "--user-id", "u7", "--json", "-k", "3"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 3 and all(r["item_id"].startswith("i") for r in rows)
    assert main(["recommend", "--model-dir", str(run), "--user-id", "7"]) == 0  # popular items
    assert "note: user '7' is not in the training data of" in capsys.readouterr().err


def test_files_shaped_by_other_tools(tmp_path):
    # An Excel export: byte-order mark, CRLF line ends, quoted fields with commas.
    excel = tmp_path / "excel.csv"
    excel.write_bytes(
        '\ufeff"User ID","Product",Rating\r\nann,"Mug, blue",5\r\nbob,"Mug, blue",3\r\n'
        "ann,Pen,4\r\n".encode()
    )
    data = read_interactions(excel)
    assert data.extra["columns"] == {"user": "User ID", "item": "Product", "rating": "Rating"}
    assert sorted(data.item_vocab.ids) == ["Mug, blue", "Pen"]
    # A click log (Retailrocket's layout): ms times, extra columns with gaps, no rating.
    clicks = write(
        tmp_path,
        "timestamp,visitorid,event,itemid,transactionid\n1433221332117,257597,view,355908,\n"
        "1433224214164,992329,view,248676,\n1433221999827,257597,addtocart,355908,4000\n",
        "events.csv",
    )
    data = read_interactions(clicks)
    assert data.implicit and data.user_vocab is None
    assert data.extra["columns"] == {
        "user": "visitorid",
        "item": "itemid",
        "timestamp": "timestamp",
    }
    assert sorted(data.ratings["timestamp"]) == [1433221999, 1433224214]  # repeat counted
    assert data.ratings["weight"].max() == 2.0

"""What a log's columns become: rating, strength (weight) or nothing; headerless files;
the notes that say what the reader changed."""

import numpy as np
import pandas as pd
import pytest

from tfrec.data.interaction_log import read_interactions
from tfrec.errors import ConfigError, DataError


def write(tmp_path, text, name="log.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_rating_named_column_on_a_rating_scale_is_a_rating(tmp_path):
    data = read_interactions(write(tmp_path, "user,item,rating\n1,1,4.5\n1,2,3\n2,1,1\n"))
    assert not data.implicit
    assert data.extra["columns"]["rating"] == "rating"


def test_rating_named_column_of_hours_is_not_a_rating(tmp_path):
    rows = "".join(f"{u},{i},{(u * 37 + i * 11) % 500 + 0.5}\n" for u in range(5) for i in range(6))
    data = read_interactions(write(tmp_path, "user,item,score\n" + rows))
    assert data.implicit
    assert "rating" not in data.extra["columns"]
    assert any("'score' is not read as a rating" in n for n in data.extra["notes"])


def test_hours_column_becomes_weight(tmp_path):
    text = "user-id,game,value\n1,a,273\n1,b,0.5\n2,a,12.1\n"
    data = read_interactions(write(tmp_path, text), columns="user=user-id,item=game")
    assert data.implicit
    assert data.extra["columns"] == {"user": "user-id", "item": "game", "weight": "value"}
    weights = dict(
        zip(data.raw_item_ids(data.ratings["item_id"]), data.ratings["weight"], strict=True)
    )
    assert data.ratings["weight"].dtype == np.float32
    assert sorted(data.ratings["weight"]) == pytest.approx([0.5, 12.1, 273.0])
    assert set(weights) == {"a", "b"}


@pytest.mark.parametrize("name", ["count", "plays", "quantity", "duration"])
def test_count_like_names_become_weight(tmp_path, name):
    data = read_interactions(write(tmp_path, f"user,item,{name}\n1,1,3\n2,1,1\n2,2,7\n"))
    assert data.extra["columns"]["weight"] == name
    assert data.implicit


def test_rating_none_forces_implicit_data(tmp_path):
    data = read_interactions(
        write(tmp_path, "user,item,rating\n1,1,5\n2,1,3\n"), columns="rating=none"
    )
    assert data.implicit
    assert "rating" not in data.extra["columns"]
    with pytest.raises(ConfigError, match="item=none: a item column is required"):
        read_interactions(write(tmp_path, "user,item\n1,1\n"), columns="item=none")


def test_negative_weight_mapped_is_an_error_detected_is_dropped(tmp_path):
    path = write(tmp_path, "user,item,delta\n1,1,3\n2,1,-2\n")
    with pytest.raises(DataError, match="line 3: weight column 'delta' has -2"):
        read_interactions(path, columns="weight=delta")
    detected = read_interactions(write(tmp_path, "user,item,count\n1,1,3\n2,1,-2\n", "c.csv"))
    assert "weight" not in detected.ratings
    assert any("'count' is not read as a weight" in n for n in detected.extra["notes"])


def test_repeated_rows_add_up_their_weights_and_are_reported(tmp_path):
    text = "user,item,plays\n1,1,3\n1,1,4\n1,2,1\n2,1,2\n"
    data = read_interactions(write(tmp_path, text))
    row = data.ratings[(data.ratings.user_id == 1) & (data.ratings.item_id == 1)]
    assert float(row["weight"].iloc[0]) == 7.0
    assert "1 repeated (user, item) rows: kept one row each, its weight the sum" in (
        " ".join(data.extra["notes"])
    )
    last = read_interactions(write(tmp_path, text, "l.csv"), duplicates="last")
    row = last.ratings[(last.ratings.user_id == 1) & (last.ratings.item_id == 1)]
    assert float(row["weight"].iloc[0]) == 4.0
    assert "kept the last of each (--duplicates last)" in " ".join(last.extra["notes"])


def test_ids_are_kept_exactly_and_padding_is_reported(tmp_path):
    data = read_interactions(write(tmp_path, "user,item\nu1,Portal\nu1, Portal\nu2,Portal \n"))
    assert sorted(data.item_vocab.ids) == [" Portal", "Portal", "Portal "]
    assert any("2 rows (2 distinct IDs) have leading or trailing" in n for n in data.extra["notes"])


def test_headerless_file_with_and_without_names(tmp_path):
    path = write(tmp_path, "u1,i1,3\nu1,i2,1\nu2,i1,5\n")
    with pytest.raises(DataError, match="the first row looks like data.*--no-header"):
        read_interactions(path)
    numbered = read_interactions(path, header=False, columns="user=1,item=2,weight=3")
    assert len(numbered.ratings) == 3
    named = read_interactions(path, header=False, names="user,item,plays")
    assert named.extra["columns"] == {"user": "user", "item": "item", "weight": "plays"}
    assert sorted(named.ratings["weight"]) == [1.0, 3.0, 5.0]
    with pytest.raises(ConfigError, match="--names gives 2 names"):
        read_interactions(path, header=False, names="a,b")


def test_headerless_items_table(tmp_path):
    log = write(tmp_path, "user,item\n1,10\n2,11\n")
    items = write(tmp_path, "10,Alpha,rock|pop\n11,Beta,jazz\n", "items.csv")
    data = read_interactions(log, items=items, item_header=False, item_names="item,title,genres")
    titles = dict(zip(data.items["item_id"], data.items["title"], strict=True))
    assert titles == {10: "Alpha", 11: "Beta"}


def test_no_header_refused_for_parquet_and_dataframes(tmp_path):
    frame = pd.DataFrame({"user": [1], "item": [2]})
    with pytest.raises(ConfigError, match="apply to text files"):
        read_interactions(frame, header=False)


def test_item_columns_error_example_is_valid(tmp_path):
    log = write(tmp_path, "user,item\n1,10\n")
    items = write(tmp_path, "code,name\n10,Alpha\n", "items.csv")
    with pytest.raises(DataError, match=r"e\.g\. --item-columns item=sku,title=name"):
        read_interactions(log, items=items)

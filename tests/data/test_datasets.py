"""MovieLens parsers, validation errors and dataset resolution."""

import numpy as np
import pandas as pd
import pytest

from tests.movielens_files import RATINGS, write_1m, write_100k, write_latest, write_tmdb
from tfrec.data import load_dataset, synthetic
from tfrec.data.registry import dataset_names
from tfrec.data.synthetic import generate
from tfrec.errors import DataError


def test_latest_format(tmp_path):
    write_latest(tmp_path)
    data = load_dataset("ml-latest-small", tmp_path)
    assert len(data.ratings) == len(RATINGS)
    assert data.ratings.dtypes.to_dict() == {
        "user_id": np.int32,
        "item_id": np.int32,
        "rating": np.float32,
        "timestamp": np.int64,
    }
    first = data.items.set_index("item_id").loc[1]
    assert first.title == "American President, The (1995)"
    assert first.genres == ["Comedy", "Drama", "Romance"]
    assert first.tags == ["funny", "politics"]
    assert first.year == 1995
    assert data.items.set_index("item_id").loc[2].genres == []
    assert data.rating_scale == (0.5, 5.0)


def test_100k_format(tmp_path):
    write_100k(tmp_path)
    data = load_dataset("ml-100k", tmp_path)
    assert len(data.ratings) == len(RATINGS)
    items = data.items.set_index("item_id")
    assert items.loc[1].title == "Café Olé (1995)"
    assert items.loc[1].genres == ["Adventure"]
    assert items.loc[3].year == 1983
    assert list(data.users.columns) == ["user_id", "age", "gender", "occupation", "zip_code"]
    assert data.rating_scale == (1.0, 5.0)


def test_1m_format(tmp_path):
    write_1m(tmp_path)
    data = load_dataset("ml-1m", tmp_path)
    assert len(data.ratings) == len(RATINGS)
    items = data.items.set_index("item_id")
    assert items.loc[1].title == "Amélie (2001)"
    assert items.loc[1].genres == ["Comedy", "Romance"]
    assert data.users["zip_code"].iloc[0] == "48101"


def test_data_dir_may_be_the_dataset_folder(tmp_path):
    folder = write_1m(tmp_path)
    assert len(load_dataset("ml-1m", folder).ratings) == len(RATINGS)


def test_missing_files_say_where_to_put_them(tmp_path):
    with pytest.raises(DataError) as error:
        load_dataset("ml-1m", tmp_path)
    message = str(error.value)
    assert str(tmp_path / "ml-1m") in message and "ratings.dat" in message
    assert "tfrec data fetch ml-1m" in message


def test_unknown_dataset_lists_names():
    with pytest.raises(DataError, match="unknown dataset 'ml-2m'; accepted: .*ml-25m"):
        load_dataset("ml-2m")
    assert "synthetic" in dataset_names()


@pytest.mark.parametrize(
    "row, pattern",
    [
        ("1,1,4.0,5\n1,2,oops,6\n", r"line 3: column 'rating' has 'oops'"),
        ("1,1,4.0,5\n1,2,4.0,6,9\n", r"malformed file: .*line 3"),
        ("1,1,4.0,5\n1,2,,6\n", r"NaN values, first at data row 2"),
        ("1,1,4.0,5\n1,2,7.5,6\n", r"rating 7.5 at data row 2 is outside the rating scale"),
        ("1,1,4.0,5\n1,1,3.0,6\n", r"1 duplicate \(user_id, item_id\) row\(s\), first user_id=1"),
    ],
)
def test_bad_ratings_name_the_problem(tmp_path, row, pattern):
    d = write_latest(tmp_path)
    (d / "ratings.csv").write_text("userId,movieId,rating,timestamp\n" + row)
    with pytest.raises(DataError, match=pattern):
        load_dataset("ml-latest-small", tmp_path)


@pytest.mark.parametrize("subdirectory", ["", "tmdb"])
def test_tmdb_metadata_joins_through_links(tmp_path, subdirectory):
    from tfrec.features.text import item_documents

    d = write_latest(tmp_path)
    (d / subdirectory).mkdir(exist_ok=True)
    write_tmdb(d / subdirectory)
    items = load_dataset("ml-latest-small", tmp_path).items.set_index("item_id")
    first = items.loc[1]
    assert first.keywords == "white house|lobbyist"
    assert first.production_companies == "Castle Rock Entertainment|Columbia Pictures"
    assert first.overview == "A widowed U.S. president, and a lobbyist."
    assert (first.runtime, first.vote_average, first.vote_count) == (114.0, 6.5, 199.0)
    assert items.loc[3].keywords == "" and np.isnan(items.loc[3].runtime)
    assert items.loc[2].overview == ""  # tmdb id 902 is not in the metadata
    assert len(items) == 10  # the malformed row (a date as id) joined nothing
    tokens = item_documents(items.reset_index(), np.array([1]))[0]
    assert {"lobbyist", "castle", "widowed"} <= set(tokens)


def test_no_tmdb_files_means_no_tmdb_columns(tmp_path):
    write_latest(tmp_path)
    assert "keywords" not in load_dataset("ml-latest-small", tmp_path).items.columns


def test_missing_column_is_named(tmp_path):
    d = write_latest(tmp_path)
    (d / "ratings.csv").write_text("userId,movieId,score,timestamp\n1,1,4.0,5\n")
    with pytest.raises(DataError, match="missing column"):
        load_dataset("ml-latest-small", tmp_path)


def test_synthetic_is_deterministic_and_shaped():
    a = generate(n_users=50, n_items=300, n_ratings=1_500, seed=3)
    b = generate(n_users=50, n_items=300, n_ratings=1_500, seed=3)
    c = generate(n_users=50, n_items=300, n_ratings=1_500, seed=4)
    assert a.ratings.equals(b.ratings) and not a.ratings.equals(c.ratings)
    r = a.ratings
    assert 1_300 <= len(r) <= 1_600
    assert set(np.unique(r.rating * 2)) <= set(range(1, 11))
    assert not r.duplicated(["user_id", "item_id"]).any()
    assert (r.groupby("user_id")["timestamp"].diff().dropna() >= 0).all()
    assert a.items["genres"].map(len).min() >= 1
    assert set(r.item_id) <= set(a.items.item_id)


def _sorted(data, columns):
    return data.ratings[columns].sort_values(columns, ignore_index=True)


def test_sequential_synthetic_orders_each_history_by_theme():
    def neighbours_sharing_a_genre(data):
        genres = data.items.set_index("item_id")["genres"].map(set)
        r = data.ratings
        g = genres.reindex(r.item_id).to_numpy()
        same_user = r.user_id.to_numpy()[1:] == r.user_id.to_numpy()[:-1]
        shared = np.array([bool(a & b) for a, b in zip(g[:-1], g[1:], strict=True)])
        return shared[same_user].mean()

    plain = generate(n_users=300, n_items=500, n_ratings=20_000, seed=1)
    ordered = generate(n_users=300, n_items=500, n_ratings=20_000, sequential=2.0, seed=1)
    pairs = ["user_id", "item_id"]
    assert _sorted(ordered, pairs).equals(_sorted(plain, pairs))
    # Same pairs, in an order where consecutive items are alike (0.28 -> 0.34 measured).
    assert neighbours_sharing_a_genre(ordered) > neighbours_sharing_a_genre(plain) + 0.03
    assert load_dataset("synthetic-seq").extra["sequential"] > 0


def test_synthetic_preset_loads_by_name():
    data = load_dataset("synthetic-tiny")
    assert data.name == "synthetic-tiny" and len(data.ratings) > 1_000


@pytest.mark.parametrize("shape", ["music", "shop"])
def test_shapes_are_seeded_implicit_with_float32_strengths(shape):
    make = getattr(synthetic, shape)
    a, b, c = make(seed=3), make(seed=3), make(seed=4)
    assert a.ratings.equals(b.ratings) and not a.ratings.equals(c.ratings)
    r = a.ratings
    assert a.implicit and r.weight.dtype == np.float32 and r.weight.min() >= 1
    assert not r.duplicated(["user_id", "item_id"]).any()
    assert load_dataset(f"synthetic-{shape}", seed=3).ratings.equals(r)


def test_music_has_a_long_tail_and_counts_that_follow_taste():
    data = synthetic.music(n_users=400, n_items=8_000, n_pairs=20_000, seed=0)
    r = data.ratings
    listeners = r.groupby("item_id").size()
    assert not data.has_timestamps and 45 <= r.groupby("user_id").size().mean() <= 55
    assert (listeners <= 2).mean() > 0.4 and listeners.max() > 50 * listeners.median()
    assert r.weight.quantile(0.99) > 20 * r.weight.median()  # heavy-tailed plays
    # Taste recovered from the plays alone: a user's heavily played genres are
    # the genres of their other artists more often than a lightly played artist's.
    genres = data.items.set_index("item_id")["genres"].map(frozenset)
    r = r.assign(genres=genres.reindex(r.item_id).to_numpy())
    top = r.loc[r.groupby("user_id")["weight"].idxmax()].set_index("user_id")["genres"]
    low = r.loc[r.groupby("user_id")["weight"].idxmin()].set_index("user_id")["genres"]
    share = {
        name: np.mean([bool(pick[u] & g) for u, g in zip(r.user_id, r.genres, strict=True)])
        for name, pick in (("top", top), ("low", low))
    }
    assert share["top"] > share["low"] + 0.05


def test_shop_has_string_ids_short_histories_and_repeats_that_round_trip():
    data = synthetic.shop(n_users=400, n_items=200, n_pairs=2_000, seed=0)
    r = data.ratings
    assert data.raw_user_ids([0])[0] == "C-00000" and data.raw_item_ids([7])[0] == "SKU-000007"
    assert r.groupby("user_id").size().median() <= 6 and (r.weight > 1).mean() > 0.2
    log, items = synthetic.shop_log(data)
    assert len(log) == r.weight.sum() and set(items.sku) == set(data.raw_item_ids(range(200)))
    back = load_dataset(log, columns={"user": "customer", "item": "sku", "timestamp": "when"})

    def keyed(d):
        f = d.ratings.assign(
            u=d.raw_user_ids(d.ratings.user_id), i=d.raw_item_ids(d.ratings.item_id)
        )
        return f.set_index(["u", "i"])[["weight", "timestamp"]].sort_index()

    pd.testing.assert_frame_equal(keyed(back), keyed(data))


def test_music_log_reads_back_with_plays_as_weight():
    data = synthetic.music(n_users=50, n_items=400, n_pairs=2_000, seed=1)
    log, items = synthetic.music_log(data)
    assert list(log.columns) == ["user", "artist", "plays"] and len(items) == 400
    back = load_dataset(log, columns={"user": "user", "item": "artist", "weight": "plays"})
    got = back.ratings.sort_values(["user_id", "item_id"], ignore_index=True)
    want = data.ratings.sort_values(["user_id", "item_id"], ignore_index=True)
    np.testing.assert_array_equal(got[["user_id", "item_id"]], want[["user_id", "item_id"]])
    np.testing.assert_array_equal(got.weight, want.weight)

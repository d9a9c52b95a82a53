"""ml-latest-small rewritten as somebody's own files gives the native figures."""

import numpy as np
import pandas as pd
import pytest

import tfrec
from tfrec.evaluation import evaluate

pytestmark = [pytest.mark.realdata, pytest.mark.slow]


@pytest.fixture(scope="module")
def own_files(ml_root, tmp_path_factory):
    """ratings.csv as a shop log (string IDs, other names, ISO times) and movies as items."""
    folder = tmp_path_factory.mktemp("own")
    ratings = pd.read_csv(ml_root / "ml-latest-small" / "ratings.csv")
    movies = pd.read_csv(ml_root / "ml-latest-small" / "movies.csv")
    iso = np.datetime_as_string(ratings["timestamp"].to_numpy().astype("datetime64[s]"))
    log = pd.DataFrame(
        {
            "Customer ID": "c-" + ratings["userId"].astype(str),
            "SKU": "m" + ratings["movieId"].astype(str),
            "stars": ratings["rating"],
            "purchased_at": [f"{t}Z" for t in iso],
        }
    )
    log.to_csv(folder / "log.csv", index=False)
    items = movies.assign(SKU="m" + movies["movieId"].astype(str))[["SKU", "title", "genres"]]
    items.to_csv(folder / "items.tsv", sep="\t", index=False)
    log.assign(purchased_at=ratings["timestamp"] * 1000).to_parquet(folder / "log.parquet")
    return folder


@pytest.fixture(scope="module")
def own_split(own_files):
    data = tfrec.load_dataset(
        str(own_files / "log.csv"),
        columns="user=Customer ID,item=SKU,rating=stars,timestamp=purchased_at",
        items=str(own_files / "items.tsv"),
    )
    return tfrec.split(data, "temporal")


def test_same_counts_and_split(own_split):
    info = own_split.dataset.info()
    assert (info["n_users"], info["n_items"], info["n_ratings"]) == (610, 9724, 100836)
    assert info["user_ids"] == info["item_ids"] == "string"
    assert own_split.sizes() == {"train": 81_200, "validation": 9_818, "test": 9_818}
    titles = own_split.dataset.items.set_index(
        own_split.dataset.raw_item_ids(own_split.dataset.items["item_id"])
    )
    assert titles.loc["m260", "genres"] == ["Action", "Adventure", "Sci-Fi"]
    assert titles.loc["m260", "year"] == 1977


def test_svd_gives_the_native_rmse(own_split):
    m = evaluate(tfrec.get_model("svd", k=50).fit(own_split), own_split).metrics
    assert m["n_rating_pairs"] == 8_886
    assert m["rmse"] == pytest.approx(0.9628, abs=0.001)


def test_itemknn_gives_the_native_neighbours(own_split):
    parts = tfrec.split(own_split.dataset, "none")
    items, _ = tfrec.get_model("itemknn").fit(parts).similar_items(["m260"], k=10)
    expected = [1196, 1210, 1198, 2571, 1291, 1270, 2628, 1240, 858, 2028]
    assert items[0].tolist() == [f"m{i}" for i in expected]


def test_parquet_with_milliseconds_gives_the_same_split(own_files, own_split):
    data = tfrec.load_dataset(
        own_files / "log.parquet", columns={"user": "Customer ID", "timestamp": "purchased_at"}
    )
    assert data.extra["columns"]["rating"] == "stars"
    parts = tfrec.split(data, "temporal")
    np.testing.assert_array_equal(parts.test["timestamp"], own_split.test["timestamp"])


def test_implicit_log_ranks_like_the_native_popularity(own_files):
    # The same log without ratings: popularity counts the same pairs, so its figure
    # equals the native one (HR@10 0.2122, NDCG@10 0.0474 on ml-latest-small).
    log = pd.read_csv(own_files / "log.csv").drop(columns="stars")
    parts = tfrec.split(tfrec.load_dataset(log), "temporal")
    assert parts.dataset.implicit
    m = evaluate(tfrec.get_model("popularity").fit(parts), parts).metrics
    assert "rmse" not in m and m["n_users_ranked"] == 608
    assert m["hr@10"] == pytest.approx(0.2122, abs=0.002)

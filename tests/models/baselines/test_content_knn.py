"""content_knn: the shared contract plus known answers on a tiny items table."""

import numpy as np
import pandas as pd
import pytest

from tests.recommender_contract import RecommenderContract
from tfrec.data.schema import Dataset, make_items
from tfrec.errors import DataError
from tfrec.models import get_model
from tfrec.models.baselines.content_knn import item_rows
from tfrec.splits import split

# Items 1-3 are comedies, 4-6 horror films, all of the 1990s; titles share no word.
TITLES = ["Alpha (1991)", "Bravo (1992)", "Charlie (1993)", "Delta (1994)", "Echo", "Foxtrot"]
GENRES = [["Comedy"]] * 3 + [["Horror"]] * 3
# user: items; item 3 and item 6 are rated twice, so both genres are equally popular.
RATED = {1: [1, 2], 2: [4, 5], 3: [3, 6], 4: [3, 6]}


def _dataset(titles=TITLES, genres=GENRES, tags=None, years=None):
    users = [u for u, items in RATED.items() for _ in items]
    items = [i for rated in RATED.values() for i in rated]
    ratings = pd.DataFrame(
        {"user_id": users, "item_id": items, "rating": 4.0, "timestamp": np.arange(len(users))}
    ).astype({"user_id": np.int32, "item_id": np.int32, "rating": np.float32})
    n = len(titles)
    years = np.full(n, 1995.0) if years is None else years
    table = make_items(np.arange(1, n + 1), titles, genres, tags or [[]] * n, years)
    return Dataset("tiny-content", ratings, table)


@pytest.fixture(scope="module")
def tiny():
    data = _dataset()
    return get_model("content_knn").fit(split(data, "none")), data


class TestContentKNN(RecommenderContract):
    model_name = "content_knn"
    # Rating values are not used, and the checkerboard's interactions alone are
    # the same for both taste groups.
    learns_checkerboard = False


def test_a_comedy_fan_gets_the_unseen_comedy_first(tiny):
    model, _ = tiny
    items, _ = model.recommend([1, 2], k=2)
    assert items[0, 0] == 3 and items[1, 0] == 6


def test_score_is_cosine_times_the_log_genre_popularity(tiny):
    model, _ = tiny
    # Comedies have 1, 1 and 2 training ratings: pop(Comedy) = 4/3, like Horror.
    np.testing.assert_allclose(model.boosts_, np.log1p(4 / 3), rtol=1e-6)
    vectors = model.vectors_.toarray()
    profile = vectors[[0, 1]].mean(axis=0)
    cosine = vectors @ profile / np.linalg.norm(profile)
    np.testing.assert_allclose(model.score([1])[0], cosine * np.log1p(4 / 3), rtol=1e-5)


def test_tags_are_not_content():
    tags = [["funny"], ["scary"], [], [], ["funny"], []]
    with_tags = get_model("content_knn").fit(split(_dataset(tags=tags), "none"))
    plain = get_model("content_knn").fit(split(_dataset(), "none"))
    np.testing.assert_array_equal(with_tags.vectors_.toarray(), plain.vectors_.toarray())


def test_new_items_are_scored_from_their_content(tiny):
    model, _ = tiny
    new = make_items(
        [7, 8, 9],
        ["Golf (1996)", "Hotel (1997)", "India"],
        [["Horror"], ["Comedy"], ["Western"]],
        [[], [], []],
        [1996.0, 1997.0, np.nan],
    )
    scores = model.new_item_scorer(new)(np.array([0, 1]))  # rows of users 1 and 2
    assert scores.shape == (2, 3)
    assert scores[0, 1] > scores[0, 0] and scores[1, 0] > scores[1, 1]
    boosts = model.content_.boosts(new)  # an unknown genre: the mean item count, 4/3
    np.testing.assert_allclose(boosts, np.log1p(4 / 3), rtol=1e-6)


def test_decades_are_content():
    years = np.array([1995.0, 1995.0, 2005.0, 2005.0, 1995.0, 2005.0])
    data = _dataset(genres=[["Drama"]] * 6, years=years)
    model = get_model("content_knn").fit(split(data, "none"))
    items, _ = model.recommend([1], k=1)  # rated two 1990s films: the other one comes first
    assert items[0, 0] == 5


def test_items_without_content_are_a_clear_error():
    data = _dataset(titles=[""] * 6, genres=[[]] * 6, years=np.full(6, np.nan))
    with pytest.raises(DataError, match="content_knn needs item content"):
        get_model("content_knn").fit(split(data, "none"))


def test_item_rows_follow_the_given_order_and_fill_absent_items(tiny):
    _, data = tiny
    rows = item_rows(data.items, np.array([3, 99, 1]))
    assert list(rows["item_id"]) == [3, 99, 1]
    assert rows["title"].iloc[0] == "Charlie (1993)" and pd.isna(rows["title"].iloc[1])


def test_title_words_count_only_when_asked():
    titles = ["Star One", "Star Two", "Moon", "Sun", "Star Three", "Rock"]
    data = split(_dataset(titles=titles, genres=[["Drama"]] * 6), "none")
    worded = get_model("content_knn", titles=True).fit(data)
    assert worded.recommend([1], k=1)[0][0, 0] == 5  # rated two "Star" films
    plain = get_model("content_knn").fit(data).score([1])[0]
    np.testing.assert_allclose(plain, plain[0])  # same genre and decade: all alike


class TestContentPop(RecommenderContract):
    model_name = "content_pop"
    learns_checkerboard = False  # as content_knn: rating values are not used


def test_content_pop_learns_which_content_is_popular():
    # Without user 2 (who rated horror films 4 and 5) comedies have 1, 1 and 2 ratings
    # and the one horror film left, 6, has 2: a new horror film gets the larger boost.
    data = _dataset()
    data.ratings = data.ratings[data.ratings["user_id"] != 2]
    model = get_model("content_pop").fit(split(data, "none"))
    new = make_items([7, 8], ["Golf", "Hotel"], [["Comedy"], ["Horror"]], [[], []], [1995.0] * 2)
    comedy, horror = model._boosts(new)
    assert horror > comedy > 0
    with pytest.raises(Exception, match="power must be a number > 0; got -1"):
        get_model("content_pop", power=-1)

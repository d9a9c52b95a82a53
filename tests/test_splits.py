"""Split methods on hand-made data with known answers."""

import numpy as np
import pandas as pd
import pytest

from tfrec.data.schema import Dataset, make_items
from tfrec.errors import ConfigError
from tfrec.splits import split


def _dataset(rows):
    ratings = pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "timestamp"])
    ratings = ratings.astype(
        {"user_id": np.int32, "item_id": np.int32, "rating": np.float32, "timestamp": np.int64}
    )
    return Dataset("hand", ratings, make_items(sorted(ratings.item_id.unique())))


def test_temporal_takes_last_tenth_per_user_and_ties_keep_file_order():
    # user 1: 20 ratings, timestamps shuffled; the last two by time -> test,
    # the two before -> validation. user 2: 5 ratings, two tied at the end.
    rows = [
        (1, i, 3.0, t)
        for i, t in zip(range(20), np.random.default_rng(0).permutation(20), strict=True)
    ]
    rows += [
        (2, 100, 4.0, 1),
        (2, 101, 4.0, 2),
        (2, 102, 4.0, 3),
        (2, 103, 4.0, 9),
        (2, 104, 4.0, 9),
    ]
    parts = split(_dataset(rows), "temporal")
    by_time = sorted(rows[:20], key=lambda r: r[3])
    assert set(parts.test[parts.test.user_id == 1].item_id) == {r[1] for r in by_time[-2:]}
    assert set(parts.validation[parts.validation.user_id == 1].item_id) == {
        r[1] for r in by_time[-4:-2]
    }
    # n=5: max(1, int(0.5)) = 1 -> tie at t=9 keeps file order: 104 is last.
    assert list(parts.test[parts.test.user_id == 2].item_id) == [104]
    assert list(parts.validation[parts.validation.user_id == 2].item_id) == [103]
    assert parts.sizes() == {"train": 19, "validation": 3, "test": 3}


def test_leave_one_out():
    rows = [(1, i, 3.0, 10 - i) for i in range(5)] + [(2, 9, 3.0, 1), (2, 8, 3.0, 2)]
    parts = split(_dataset(rows), "leave-one-out")
    assert list(parts.test.item_id) == [0] and list(parts.validation.item_id) == [1]
    assert set(parts.train[parts.train.user_id == 2].item_id) == {8, 9}


def test_random_is_seeded_and_disjoint(small_data):
    a, b = split(small_data, "random", seed=1), split(small_data, "random", seed=1)
    c = split(small_data, "random", seed=2)
    assert a.test.equals(b.test) and not a.test.equals(c.test)
    keys = [set(zip(p.user_id, p.item_id, strict=True)) for p in (a.train, a.validation, a.test)]
    assert not (keys[0] & keys[1]) and not (keys[0] & keys[2]) and not (keys[1] & keys[2])
    assert sum(map(len, keys)) == len(small_data.ratings)


def test_global_time_cuts_by_date(small_data):
    parts = split(small_data, "global-time")
    assert parts.train.timestamp.max() <= parts.validation.timestamp.min()
    assert parts.validation.timestamp.max() <= parts.test.timestamp.min()


def test_refit_split_moves_validation_into_train(small_split):
    refit = small_split.with_validation_in_train()
    assert len(refit.train) == len(small_split.train) + len(small_split.validation)
    assert len(refit.validation) == 0 and refit.test is small_split.test


def test_unknown_method_is_named(small_data):
    with pytest.raises(ConfigError, match="split must be one of temporal, .*; got 'time'"):
        split(small_data, "time")


def test_cold_items_split(small_data):
    parts = split(small_data, "cold-items", seed=3)
    counts = small_data.ratings["item_id"].value_counts()
    eligible = np.sort(counts.index[counts >= 5].to_numpy())
    order = np.random.default_rng(3).permutation(eligible)
    n_test, n_val = int(len(eligible) * 0.2), int(len(eligible) * 0.1)
    np.testing.assert_array_equal(parts.cold_items["test"], np.sort(order[:n_test]))
    np.testing.assert_array_equal(
        parts.cold_items["validation"], np.sort(order[n_test : n_test + n_val])
    )
    assert set(parts.test["item_id"]) == set(parts.cold_items["test"])
    assert set(parts.validation["item_id"]) == set(parts.cold_items["validation"])
    cold = set(parts.cold_items["test"]) | set(parts.cold_items["validation"])
    assert not cold & set(parts.train["item_id"])
    assert sum(parts.sizes().values()) == len(small_data.ratings)
    tags = parts.dataset.items.set_index("item_id")["tags"]
    assert all(tags.loc[i] == [] for i in cold)
    assert any(len(t) for t in tags.drop(list(cold)))
    refit = parts.with_validation_in_train()
    assert set(refit.cold_items) == {"test"} and len(refit.validation) == 0
    assert not np.array_equal(split(small_data, "cold-items", seed=4).cold_items["test"],
                              parts.cold_items["test"])  # fmt: skip


def test_cold_users_split(small_data):
    parts = split(small_data, "cold-users", seed=3, history=4)
    ratings = small_data.ratings
    users = np.unique(ratings["user_id"])
    order = np.random.default_rng(3).permutation(users)
    test_users, validation_users = order[: len(users) // 5], order[len(users) // 5 :][:12]
    assert set(parts.test["user_id"]) <= set(test_users)
    assert set(parts.given["test"]["user_id"]) <= set(test_users)
    assert set(parts.validation["user_id"]) <= set(validation_users)
    assert not set(parts.train["user_id"]) & set(order[:36])  # all their interactions left
    train_items = set(parts.train["item_id"])
    for part in ("validation", "test"):
        given, relevant = parts.given[part], getattr(parts, part)
        assert set(given["item_id"]) | set(relevant["item_id"]) <= train_items
        assert given.groupby("user_id").size().max() == 4
        assert relevant.groupby("user_id").size().max() == 10
    # The first 4 of a user's train-item interactions by (time, item), then the next 10.
    user = parts.given["test"]["user_id"].iloc[0]
    mine = ratings[(ratings["user_id"] == user) & ratings["item_id"].isin(train_items)]
    mine = mine.sort_values(["timestamp", "item_id"])
    given = parts.given["test"]
    assert list(given[given["user_id"] == user]["item_id"]) == list(mine["item_id"][:4])
    assert list(parts.test[parts.test["user_id"] == user]["item_id"]) == list(mine["item_id"][4:14])
    assert split(small_data, "cold-users", seed=3, history=0).given["test"].empty


def test_cold_users_refit_keeps_validation_users(small_data):
    parts = split(small_data, "cold-users", seed=0)
    refit = parts.with_validation_in_train()
    assert len(refit.train) == len(parts.train) + len(parts.validation) + len(
        parts.given["validation"]
    )
    assert refit.given == {"test": parts.given["test"]} and refit.validation.empty


@pytest.mark.parametrize("history", [-1, 2.5, True])
def test_cold_users_history_is_checked(small_data, history):
    with pytest.raises(ConfigError, match=f"history must be a non-negative integer; got {history}"):
        split(small_data, "cold-users", history=history)


def test_history_applies_to_cold_users_only(small_data):
    with pytest.raises(ConfigError, match="history applies to split 'cold-users' only"):
        split(small_data, "temporal", history=5)


@pytest.mark.parametrize("method", ["temporal", "leave-one-out", "random", "global-time",
                                    "cold-items", "cold-users", "none"])  # fmt: skip
def test_every_split_keeps_the_context_columns(small_data, method):
    ratings = small_data.ratings.assign(
        device=lambda f: np.where(f["item_id"] % 2, "web", "tv"), hour=lambda f: f["item_id"] % 24
    )
    data = Dataset("ctx", ratings, small_data.items)
    parts = split(data, method, seed=0)
    frames = [parts.train, parts.validation, parts.test, *(parts.given or {}).values()]
    for frame in frames:
        assert list(frame.columns) == list(ratings.columns)
        assert (frame["device"] == np.where(frame["item_id"] % 2, "web", "tv")).all()
        assert (frame["hour"] == frame["item_id"] % 24).all()
    refit = parts.with_validation_in_train()
    assert list(refit.train.columns) == list(ratings.columns)

"""The synthetic-features generator: conventions, determinism and its planted effects.

The effects are measured by counting oracles on held-out data (no model):
"segment popularity" (the most popular items among users of the same country
and age band) against global popularity on held-out users, "context
popularity" (per device x hour band) against global popularity on held-out
interactions, the brand's mean popularity against new items' popularity, the
plan against the price paid, and the interests against the genres chosen.
"""

import numpy as np
import pandas as pd
import pytest

from tfrec.data import load_dataset
from tfrec.data.feature_schema import MULTI_SEP, FeatureSchema
from tfrec.data.registry import dataset_names
from tfrec.data.schema import validate_ratings
from tfrec.data.synthetic import GENRES, SHAPES
from tfrec.data.synthetic_features import FEATURES, features
from tfrec.errors import ConfigError

SMALL = {"n_users": 300, "n_items": 120, "n_interactions": 6_000}
ORACLE = {"n_users": 2_000, "n_items": 500, "n_interactions": 50_000}


@pytest.fixture(scope="module")
def small():
    return features(seed=0, **SMALL)


def test_same_seed_same_data_other_seed_other_data(small):
    again = features(seed=0, **SMALL)
    pd.testing.assert_frame_equal(small.ratings, again.ratings)
    pd.testing.assert_frame_equal(small.items, again.items)
    pd.testing.assert_frame_equal(small.users, again.users)
    other = features(seed=1, **SMALL)
    assert not small.ratings["item_id"].equals(other.ratings["item_id"])


def test_registered_as_a_shape():
    assert SHAPES["synthetic-features"] is features
    assert "synthetic-features" in dataset_names()
    loaded = load_dataset("synthetic-features", seed=2)
    assert loaded.name == "synthetic-features"
    assert loaded.features == FEATURES
    assert loaded.extra["seed"] == 2


def test_frames_follow_the_feature_conventions(small):
    assert isinstance(small.features, FeatureSchema) and small.features.context_time
    assert {f.key for f in small.features.features} == {
        "user_age",
        "user_country",
        "user_plan",
        "user_interests",
        "item_price",
        "item_brand",
        "item_description",
        "context_device",
    }
    frames = {"user": small.users, "item": small.items, "context": small.ratings}
    for f in small.features.features:
        column = frames[f.source][f.name]
        if f.type == "numeric":
            assert column.dtype == np.float32, f.name
        else:
            assert column.dtype == object, f.name
            assert column.map(type).eq(str).all(), f.name
    assert small.implicit and small.has_timestamps
    assert list(small.items.columns[:5]) == ["item_id", "title", "genres", "tags", "year"]
    validate_ratings(small.ratings, small.rating_scale, "synthetic-features")  # distinct pairs


def test_users_table_is_coded_as_the_ratings(small):
    users = small.users
    assert users["user_id"].dtype == np.int32 and users["user_id"].is_unique
    assert np.isin(small.ratings["user_id"].unique(), users["user_id"]).all()
    assert len(users) == SMALL["n_users"]
    assert np.isin(small.ratings["item_id"].unique(), small.items["item_id"]).all()


def test_some_values_are_missing_and_none_when_asked(small):
    assert small.users["age"].isna().any()
    for frame, name in [
        (small.users, "country"),
        (small.users, "interests"),
        (small.items, "brand"),
        (small.items, "description"),
        (small.ratings, "device"),
    ]:
        assert (frame[name] == "").any(), name
    assert (small.users["plan"] != "").all()
    complete = features(seed=0, missing=0.0, **SMALL)
    assert not complete.users["age"].isna().any() and not complete.items["price"].isna().any()
    assert (complete.ratings["device"] != "").all() and (complete.items["brand"] != "").all()


def test_values_are_those_documented(small):
    assert set(small.users["plan"]) == {"free", "basic", "premium"}
    assert set(small.ratings["device"]) <= {"mobile", "desktop", "tv", ""}
    ages = small.users["age"].dropna()
    assert ages.between(16, 75).all()
    interests = small.users["interests"]
    parts = interests[interests != ""].str.split(MULTI_SEP, regex=False)
    assert parts.map(len).between(1, 3).all()
    assert parts.map(lambda p: len(set(p)) == len(p)).all()  # no repeats
    assert set(parts.explode()) <= {g.lower() for g in GENRES}
    words = small.items["description"].str.split().explode().dropna()
    assert words.str.fullmatch("[a-z]+").all()
    hours = (small.ratings["timestamp"] % 86_400) // 3_600
    assert hours.nunique() == 24


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        ({"n_users": -3}, "n_users must be a positive integer; got -3"),
        ({"n_interactions": 0}, "n_interactions must be a positive integer; got 0"),
        ({"user_effect": -1.0}, r"user_effect must be a number >= 0; got -1.0"),
        ({"missing": 1.0}, r"missing must be a share in \[0, 1\); got 1.0"),
    ],
)
def test_bad_arguments_say_which(kwargs, pattern):
    with pytest.raises(ConfigError, match=pattern):
        features(**kwargs)


# -- planted effects, measured by counting oracles -------------------------------------------


def _hit_rate(train, test, by, k=10):
    """HR@10 over test interactions: the share whose item is among the k most
    frequent items of the training interactions of the same ``by`` group."""
    counts = train.groupby([by, "item_id"]).size().rename("n").reset_index()
    counts = counts.sort_values([by, "n", "item_id"], ascending=[True, False, True])
    top = counts.groupby(by).head(k)[[by, "item_id"]]
    merged = test[[by, "item_id"]].merge(top, how="left", indicator=True)
    return float((merged["_merge"] == "both").mean())


def segment_vs_popularity(data, seed=0):
    """(popularity, segment popularity) HR@10 on a quarter of the users, held out."""
    users = data.users
    age = users["age"].to_numpy()
    band = np.searchsorted((25, 40, 60), age, side="right").astype(str)
    band[np.isnan(age)] = "?"
    segment = pd.Series(users["country"].to_numpy() + "/" + band, index=users["user_id"])
    ratings = data.ratings.assign(segment=data.ratings["user_id"].map(segment), everyone=0)
    held = np.random.default_rng(seed).permutation(users["user_id"].to_numpy())[: len(users) // 4]
    test = ratings["user_id"].isin(held).to_numpy()
    train, test = ratings[~test], ratings[test]
    return _hit_rate(train, test, "everyone"), _hit_rate(train, test, "segment")


def context_vs_popularity(data, seed=0):
    """(popularity, device x hour band popularity) HR@10 on a quarter of the interactions."""
    ratings = data.ratings
    band = (ratings["timestamp"].to_numpy() % 86_400) // 21_600
    context = ratings["device"].to_numpy() + "/" + band.astype(str)
    ratings = ratings.assign(context=context, everyone=0)
    test = np.random.default_rng(seed).random(len(ratings)) < 0.25
    train, test = ratings[~test], ratings[test]
    return _hit_rate(train, test, "everyone"), _hit_rate(train, test, "context")


def brand_signal(data, seed=0):
    """Spearman correlation of held-out (new) items' popularity with the mean
    popularity of the known items of their brand."""
    counts = data.ratings["item_id"].value_counts()
    items = data.items.assign(n=data.items["item_id"].map(counts).fillna(0).to_numpy())
    new = np.random.default_rng(seed).random(len(items)) < 0.25
    known = items[~new & (items["brand"] != "")]
    guess = items.loc[new, "brand"].map(known.groupby("brand")["n"].mean())
    return guess.fillna(known["n"].mean()).corr(items.loc[new, "n"], method="spearman")


def premium_minus_free_price(data):
    """Mean standardised log price of the items premium users chose, minus free users'."""
    log_price = np.log(data.items.set_index("item_id")["price"])
    z = (log_price - log_price.mean()) / log_price.std()
    plan = data.users.set_index("user_id")["plan"]
    ratings = data.ratings
    chosen = pd.DataFrame(
        {"z": ratings["item_id"].map(z), "plan": ratings["user_id"].map(plan)}
    ).groupby("plan")["z"]
    return chosen.mean()["premium"] - chosen.mean()["free"]


def interests_lift(data, seed=0):
    """How much more often an interaction's genres meet the user's interests than
    another (random) user's."""
    interests = data.users.set_index("user_id")["interests"]
    genres = data.items.set_index("item_id")["genres"].map(lambda gs: {g.lower() for g in gs})
    theirs = data.ratings["item_id"].map(genres)

    def share(assigned):
        mine = data.ratings["user_id"].map(assigned).str.split(MULTI_SEP, regex=False)
        return np.mean([bool(set(a) & b) for a, b in zip(mine, theirs, strict=True)])

    shuffled = np.random.default_rng(seed).permutation(interests.to_numpy())
    return share(interests) / share(pd.Series(shuffled, index=interests.index))


@pytest.fixture(scope="module")
def planted():
    return {effect: features(0, **ORACLE, user_effect=effect, context_effect=effect,
                             item_effect=effect) for effect in (0.0, 1.0)}  # fmt: skip


def test_segment_popularity_beats_popularity_only_with_a_user_effect(planted):
    popularity, segment = segment_vs_popularity(planted[1.0])
    assert segment > popularity + 0.005  # measured 0.1700 vs 0.1607
    popularity, segment = segment_vs_popularity(planted[0.0])
    assert segment < popularity + 0.002  # measured 0.1553 vs 0.1584


def test_context_popularity_beats_popularity_only_with_a_context_effect(planted):
    popularity, context = context_vs_popularity(planted[1.0])
    assert context > popularity + 0.005  # measured 0.1705 vs 0.1577
    popularity, context = context_vs_popularity(planted[0.0])
    assert context < popularity + 0.002  # measured 0.1528 vs 0.1567


def test_brand_tells_a_new_items_popularity_only_with_an_item_effect(planted):
    assert brand_signal(planted[1.0]) > 0.25  # measured 0.51
    assert abs(brand_signal(planted[0.0])) < 0.15  # measured -0.10


def test_plan_sets_the_price_paid_only_with_a_user_effect(planted):
    assert premium_minus_free_price(planted[1.0]) > 0.2  # measured 0.49
    assert abs(premium_minus_free_price(planted[0.0])) < 0.05  # measured 0.01


def test_interests_tell_the_genres_only_with_a_user_effect(planted):
    assert interests_lift(planted[1.0]) > 1.3  # measured 1.66
    assert abs(interests_lift(planted[0.0]) - 1.0) < 0.05  # measured 0.98


def test_default_size_is_fast():
    import time

    start = time.perf_counter()
    data = features()
    assert time.perf_counter() - start < 5.0  # about 0.3 s; 2 s is the budget, with slack
    assert 90_000 < len(data.ratings) < 110_000

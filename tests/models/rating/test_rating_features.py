"""dnn and hybrid read user and item features: a planted user-feature effect is
learned, and the features survive save/load, the SavedModel and new items."""

import dataclasses

import numpy as np
import pandas as pd
import pytest

from tests.recommender_contract import RecommenderContract
from tfrec.data.feature_schema import Feature, FeatureSchema
from tfrec.data.schema import Dataset, make_items, validate_ratings
from tfrec.errors import ConfigError
from tfrec.models import load_model
from tfrec.splits import split

_OPTIONS = {"epochs": 20, "embedding_dim": 8, "hidden_units": (16,), "batch_size": 64}
_USER_FEATURES = (Feature("country", "user", "category"), Feature("age", "user", "numeric"))
_ITEM_FEATURES = (
    Feature("brand", "item", "category"),
    Feature("price", "item", "numeric"),
    Feature("description", "item", "text"),
    Feature("labels", "item", "multi"),
)
_CONTEXT = Feature("device", "context", "category")


def _planted(seed=0, n_users=300, n_items=30, per_user=8) -> Dataset:
    """Users from "fr" rate dramas 4.5 and comedies 1.5, users from "de" the
    reverse (noise 0.3); each user rates 8 items, so a user's own ratings say
    little and their country says it all. The users table lacks the last 10
    users and some countries and ages; the other features carry no signal."""
    rng = np.random.default_rng(seed)
    users, items = np.arange(1, n_users + 1), np.arange(1, n_items + 1)
    country = rng.choice(["fr", "de"], n_users)
    drama = items % 2 == 0
    who = np.repeat(users, per_user)
    what = np.concatenate([rng.choice(items, per_user, replace=False) for _ in users])
    sign = np.where(country[who - 1] == "fr", 1.0, -1.0) * np.where(drama[what - 1], 1.0, -1.0)
    rating = np.round((3.0 + 1.5 * sign + rng.normal(0, 0.3, len(who))) * 2) / 2
    ratings = pd.DataFrame(
        {
            "user_id": who,
            "item_id": what,
            "rating": np.clip(rating, 0.5, 5.0),
            "timestamp": 1_500_000_000 + rng.integers(0, 10**7, len(who)),
            "device": rng.choice(["phone", "tv"], len(who)),
        }
    )
    item_frame = make_items(items, genres=[["Drama"] if d else ["Comedy"] for d in drama])
    item_frame["brand"] = rng.choice(["acme", "bolt", ""], n_items)
    price = np.where(rng.random(n_items) < 0.2, np.nan, rng.uniform(1, 50, n_items))
    item_frame["price"] = price.astype(np.float32)
    item_frame["description"] = rng.choice(["a fine film", "long and slow", ""], n_items)
    item_frame["labels"] = rng.choice(["x|y", "y", ""], n_items)
    user_frame = pd.DataFrame({"user_id": users[:-10], "country": country[:-10]})
    user_frame.loc[:4, "country"] = ""
    age = np.where(rng.random(len(user_frame)) < 0.2, np.nan, rng.integers(18, 70, len(user_frame)))
    user_frame["age"] = age.astype(np.float32)
    return Dataset(
        "planted",
        validate_ratings(ratings, (0.5, 5.0), "planted"),
        item_frame,
        users=user_frame,
        features=FeatureSchema((*_USER_FEATURES, *_ITEM_FEATURES, _CONTEXT)),
    )


@pytest.fixture(scope="module")
def planted_split():
    return split(_planted(), "random")


def _rmse(model, frame) -> float:
    predicted = model.predict(frame.user_id, frame.item_id)
    return float(np.sqrt(np.mean((predicted - frame.rating.to_numpy()) ** 2)))


class FeatureTests:
    """What dnn and hybrid share; the contract's save and SavedModel checks reused."""

    model_name = ""
    options: dict = {}

    make = RecommenderContract.make

    @pytest.fixture(scope="class")
    def fitted(self, planted_split):
        return self.make().fit(planted_split)

    def test_reads_user_and_item_features(self, fitted):
        assert fitted.feature_schema_ == FeatureSchema((*_USER_FEATURES, *_ITEM_FEATURES))
        assert set(fitted.reads_features) == {"user", "item"}  # not the context (device)
        names = {layer.name for layer in fitted.model_.layers}
        assert {"user_features", "item_features"} <= names

    def test_planted_user_feature_effect_learned(self, fitted, planted_split):
        without = self.make(use_features=False).fit(planted_split)
        assert without.feature_schema_ == FeatureSchema()
        test = planted_split.test
        with_features, ids_only = _rmse(fitted, test), _rmse(without, test)
        print(f"{self.model_name} test RMSE: {with_features:.3f} with, {ids_only:.3f} without")
        assert with_features < 0.7 * ids_only and with_features < 0.7

    def test_users_missing_from_the_users_table_are_predicted(self, fitted):
        absent = fitted.user_ids[-3:]  # rows of no user in the users table: missing values
        table = fitted.feature_tables_["user"]
        assert list(table["user_country"][-3:]) == [""] * 3
        assert np.isnan(table["user_age"][-3:]).all()
        assert "" in set(table["user_country"][:5])  # and countries left empty in the table
        predicted = fitted.predict(absent, fitted.item_ids[:3])
        assert np.all(np.isfinite(predicted))

    test_save_load_gives_equal_outputs = RecommenderContract.test_save_load_gives_equal_outputs
    test_savedmodel_reload_gives_equal_outputs = (
        RecommenderContract.test_savedmodel_reload_gives_equal_outputs
    )

    def test_save_load_predictions_equal(self, fitted, tmp_path):
        fitted.save(tmp_path / "m")
        loaded = load_model(tmp_path / "m")
        assert loaded.feature_schema_ == fitted.feature_schema_
        users, items = np.repeat(fitted.user_ids[::40], 5), np.tile(fitted.item_ids[:5], 8)
        np.testing.assert_array_equal(loaded.predict(users, items), fitted.predict(users, items))

    def test_new_items_read_their_features(self, fitted, planted_split, tmp_path):
        catalogue = planted_split.dataset.items
        new = catalogue.iloc[:4].assign(item_id=[901, 902, 903, 904])
        new["brand"] = ["acme", "bolt", "zeta", ""]  # "zeta" unseen: the OOV row
        grown = fitted.with_new_items(new["item_id"], new)
        assert len(fitted.feature_tables_["item"]["item_brand"]) == len(fitted.item_ids)
        users = np.repeat(fitted.user_ids[:3], 4)
        predicted = grown.predict(users, np.tile(new["item_id"], 3))
        assert np.all(np.isfinite(predicted))
        scorer = fitted.new_item_scorer(new)
        rows = np.arange(3)
        np.testing.assert_allclose(scorer(rows).ravel(), predicted, rtol=1e-5, atol=1e-5)
        grown.save(tmp_path / "grown")
        loaded = load_model(tmp_path / "grown")
        np.testing.assert_array_equal(loaded.predict(users, np.tile(new["item_id"], 3)), predicted)


class TestDNNFeatures(FeatureTests):
    model_name = "dnn"
    options = _OPTIONS

    def test_use_features_off_is_the_model_without_features(self, planted_split):
        bare = dataclasses.replace(planted_split, dataset=_without_features(planted_split.dataset))
        off = self.make(use_features=False).fit(planted_split)
        plain = self.make().fit(bare)
        users = off.user_ids[:5]
        np.testing.assert_allclose(off.score(users), plain.score(users), rtol=1e-5, atol=1e-5)

    def test_deterministic_with_features(self, fitted, planted_split):
        again = self.make().fit(planted_split)
        users = fitted.user_ids[:10]
        np.testing.assert_allclose(again.score(users), fitted.score(users), rtol=1e-4, atol=1e-5)

    def test_users_table_absent_reads_item_features_only(self, planted_split):
        dataset = dataclasses.replace(planted_split.dataset, users=None)
        model = self.make(epochs=1).fit(dataclasses.replace(planted_split, dataset=dataset))
        assert model.feature_schema_ == FeatureSchema(_ITEM_FEATURES)

    def test_bad_use_features(self):
        with pytest.raises(ConfigError, match="use_features must be true or false; got 'yes'"):
            self.make(use_features="yes")


class TestHybridFeatures(FeatureTests):
    model_name = "hybrid"
    options = {**_OPTIONS, "text_dim": 8}


def _without_features(dataset: Dataset) -> Dataset:
    items = dataset.items.drop(columns=[f.name for f in _ITEM_FEATURES])
    return dataclasses.replace(dataset, items=items, users=None, features=FeatureSchema())

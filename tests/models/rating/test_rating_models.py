"""The content DNN, the hybrid and the blend: the shared contract, small and fast."""

import numpy as np
import pytest

import tfrec
from tests.recommender_contract import RecommenderContract
from tfrec.errors import ConfigError

_KERAS = {"epochs": 4, "embedding_dim": 8, "hidden_units": (8,), "batch_size": 128}


class TestDNN(RecommenderContract):
    model_name = "dnn"
    options = _KERAS
    learns_checkerboard = False  # 8 users x 8 items is too little for a dropout MLP

    def test_hidden_units_round_trip_as_a_list(self):
        config = self.make().config
        assert config.to_dict()["hidden_units"] == [8]

    def test_bad_dropout(self):
        with pytest.raises(ConfigError, match="dropout must be a number >= 0; got -0.1"):
            self.make(dropout=-0.1)


class TestHybrid(RecommenderContract):
    model_name = "hybrid"
    options = {**_KERAS, "text_dim": 8}
    learns_checkerboard = False

    def test_timestamps_change_predictions(self, fitted):
        users, items = fitted.user_ids[:5], fitted.item_ids[:5]
        summer = fitted.predict(users, items, np.full(5, 1_500_000_000 + 180 * 86_400))
        winter = fitted.predict(users, items, np.full(5, 1_500_000_000))
        assert not np.allclose(summer, winter)

    def test_tfidf_svd_encoder(self, small_split):
        model = self.make(text_encoder="tfidf-svd").fit(small_split)
        assert model.content_.shape[1] > 8

    def test_unknown_encoder(self):
        with pytest.raises(ConfigError, match="text_encoder must be one of word2vec"):
            self.make(text_encoder="bert")


class TestBlend(RecommenderContract):
    model_name = "blend"
    options = {"components": ("bias", "svd"), "component_options": {"svd": {"k": 4}}}
    board_options = {"component_options": {"svd": {"k": 2}}, "weights": (0.0, 0.0, 1.0)}

    def test_weights_beat_each_component_on_validation(self, fitted, small_split):
        val = small_split.validation
        errors = {}
        for model in [fitted, *fitted.components_]:
            predicted = model.predict(val.user_id, val.item_id)
            errors[model.name] = np.sqrt(np.mean((predicted - val.rating) ** 2))
        assert errors["blend"] <= min(errors["bias"], errors["svd"]) + 1e-4, errors

    def test_components_must_rate(self):
        with pytest.raises(ConfigError, match="components must be rating models; got 'popularity'"):
            tfrec.get_model("blend", components=("popularity",))

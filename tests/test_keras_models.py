"""MF, the content DNN, the hybrid and the blend: the shared contract, small and fast."""

import numpy as np
import pytest

import tfrec
from tests.recommender_contract import RecommenderContract
from tfrec.errors import ConfigError
from tfrec.evaluation import evaluate

_KERAS = {"epochs": 4, "embedding_dim": 8, "hidden_units": (8,), "batch_size": 128}


class TestMF(RecommenderContract):
    model_name = "mf"
    options = {"n_factors": 8, "epochs": 15, "batch_size": 512}
    board_options = {
        "n_factors": 2,
        "epochs": 200,
        "batch_size": 16,
        "l2": 0.01,
        "learning_rate": 0.1,
    }

    def test_early_stopping_keeps_the_best_epoch(self, fitted):
        val = [r["val_rmse"] for r in fitted.history_]
        assert fitted.best_epoch_ == int(np.argmin(val)) + 1
        assert fitted.refit_options() == {"epochs": fitted.best_epoch_, "patience": 0}

    def test_learns_better_than_the_mean(self, small_split):
        model = self.make(epochs=40).fit(small_split)
        test = small_split.test
        baseline = np.sqrt(np.mean((test.rating - small_split.train.rating.mean()) ** 2))
        assert evaluate(model, small_split).metrics["rmse"] < baseline - 0.05


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


class TestGMF(RecommenderContract):
    model_name = "gmf"
    options = {"embedding_dim": 8, "epochs": 3, "batch_size": 256}
    learns_checkerboard = False  # implicit: every checkerboard item was watched by someone

    def test_scores_are_probabilities_and_validation_is_tracked(self, fitted):
        scores = fitted.score(fitted.user_ids[:3])
        assert scores.min() >= 0.0 and scores.max() <= 1.0
        assert "val_ndcg@10" in fitted.history_[0]
        assert fitted.best_epoch_ == 1 + int(np.argmax([h["val_ndcg@10"] for h in fitted.history_]))

    def test_negatives_avoid_training_items(self, small_split):
        import tensorflow as tf

        from tfrec.models.base import Interactions
        from tfrec.pipelines import sample_unseen

        data = Interactions.from_ratings(small_split.train)
        n_items = len(data.item_ids)
        keys = tf.sort(tf.constant(data.users * n_items + data.items, tf.int64))
        draws = sample_unseen(
            tf.constant(data.users), keys, n_items, 4, tf.constant([0, 1], tf.int64)
        ).numpy()
        seen = set(zip(data.users.tolist(), data.items.tolist(), strict=True))
        hits = sum(
            (u, i) in seen
            for u, row in zip(data.users.tolist(), draws.tolist(), strict=True)
            for i in row
        )
        assert hits / draws.size < 0.001
        assert len(np.unique(draws)) > 0.9 * n_items


class TestTwoTower(RecommenderContract):
    model_name = "two_tower"
    options = {"embedding_dim": 8, "epochs": 3, "batch_size": 256}
    learns_checkerboard = False  # implicit: every checkerboard item was watched by both groups

    def test_triplet_variant_ranks_by_cosine(self, small_split):
        model = self.make(loss="triplet").fit(small_split)
        norms = np.linalg.norm(model.item_vectors_, axis=1)
        assert np.allclose(norms, 1.0, atol=1e-5)
        assert model.recommend(model.user_ids[:2], k=3)[0].shape == (2, 3)

    def test_lazy_adam_learns_as_adam_does(self, small_split, monkeypatch):
        # Measured on validation with no popularity prior: untrained 0.054,
        # adam 0.111, lazy_adam 0.115 NDCG@10.
        from tfrec.models.training.lazy_adam import LazyAdam

        gradients = []
        update_step = LazyAdam.update_step

        def recording(optimizer, gradient, variable):
            gradients.append((variable.name, type(gradient).__name__))
            return update_step(optimizer, gradient, variable)

        monkeypatch.setattr(LazyAdam, "update_step", recording)

        def ndcg(**extra):
            model = self.make(popularity_weight=0.0, **extra).fit(small_split)
            return evaluate(model, small_split, part="validation").metrics["ndcg@10"]

        lazy = ndcg(optimizer="lazy_adam")
        # Every embedding table's gradient came sparse (the row-sparse path ran).
        tables = {name for name, kind in gradients if "embedding" in name}
        assert len(tables) == 3 and {k for n, k in gradients if n in tables} == {"IndexedSlices"}
        assert lazy >= 0.85 * ndcg() and lazy >= 1.5 * ndcg(learning_rate=0.0)

    def test_unknown_loss(self):
        with pytest.raises(ConfigError, match="loss must be one of softmax, triplet; got 'bpr'"):
            self.make(loss="bpr")

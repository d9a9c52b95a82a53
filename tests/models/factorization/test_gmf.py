"""gmf: the shared contract, negatives, small and fast."""

import numpy as np

from tests.recommender_contract import RecommenderContract


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

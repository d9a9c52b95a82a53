"""Two-tower retrieval with tensorflow-recommenders (TFRS).

Query tower: a user-ID embedding. Candidate tower: an item-ID embedding plus a
learned projection of the item's genre multi-hot (a constant table inside the
model). Trained on the training interactions as implicit positives with

* ``loss="softmax"`` (default): ``tfrs.tasks.Retrieval``, in-batch sampled
  softmax, with the log-q correction for popular items (``logq``);
* ``loss="triplet"``: margin ranking loss on cosine similarity against one
  uniformly sampled unseen item per positive.

Early stopping keeps the epoch with the best validation NDCG@10 (full
ranking). Scores are dot products (cosine for triplet), so the catalogue is
scored with one matrix product, and the export's ``recommend`` is a
brute-force top-k over all candidates with the user's training items masked.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from tfrec.errors import check_choice, check_non_negative, check_positive_int
from tfrec.models.base import ModelConfig, Recommender


@dataclasses.dataclass
class TwoTowerConfig(ModelConfig):
    """Options of the two-tower model.

    Attributes:
        embedding_dim: Size of the query and candidate embeddings.
        loss: ``softmax`` (in-batch, TFRS Retrieval) or ``triplet``.
        logq: Log-q popularity correction of the in-batch softmax.
        use_genres: Add the genre multi-hot to the candidate tower.
        margin: Triplet margin.
        l2: L2 weight on the embedding tables.
        learning_rate: Adam learning rate.
        batch_size: Positives per step.
        epochs: Maximum epochs.
        patience: Epochs without validation NDCG@10 improvement before stopping.
        seed: Seed of initialisation and shuffling.
    """

    embedding_dim: int = 64
    loss: str = "softmax"
    logq: bool = True
    use_genres: bool = True
    margin: float = 0.5
    l2: float = 1e-5
    learning_rate: float = 5e-3
    batch_size: int = 1024
    epochs: int = 30
    patience: int = 3
    seed: int = 0

    def validate(self):
        check_choice("loss", self.loss, ("softmax", "triplet"))
        for name in ("embedding_dim", "batch_size", "epochs"):
            check_positive_int(name, getattr(self, name))
        for name in ("margin", "l2", "learning_rate", "patience"):
            check_non_negative(name, getattr(self, name))


class TwoTower(Recommender):
    """TFRS two-tower retrieval over user IDs and item IDs + genres (a ranking model)."""

    name = "two_tower"
    Config = TwoTowerConfig
    predicts_ratings = False

    def _fit(self, data, split) -> None:
        import tf_keras as keras

        from tfrec.features.content import genre_multi_hot
        from tfrec.models.validation import fit_with_ranking
        from tfrec.pipelines import steps_per_epoch, training_dataset

        c = self.config
        keras.utils.set_random_seed(c.seed)
        n_items = len(data.item_ids)
        genres = genre_multi_hot(split.dataset.items, data.item_ids) if c.use_genres else None
        model = _build(c, len(data.user_ids), n_items, genres, self.popularity_)
        model.compile(optimizer=keras.optimizers.Adam(c.learning_rate))
        train = training_dataset(
            {"user": data.users, "item": data.items}, c.batch_size, c.seed, c.epochs
        )
        fit_with_ranking(
            self,
            model,
            train,
            steps_per_epoch(len(data.users), c.batch_size),
            split.validation,
            lambda: self._take(model),
            self._raw_scores,
        )

    def _take(self, model):
        self.user_vectors_, self.item_vectors_ = model.export_vectors()

    def _raw_scores(self, users):
        return self.user_vectors_[users] @ self.item_vectors_.T

    def _score(self, users):
        return self._raw_scores(users).astype(np.float32)

    def _predict(self, users, items):
        return np.einsum("ij,ij->i", self.user_vectors_[users], self.item_vectors_[items])

    def _similar(self, items, k):
        from tfrec.topk import cosine_top_k

        return cosine_top_k(self.item_vectors_, items, k)

    def serving_scorer(self, seen):
        from tfrec.models.tf_scorers import FactorScorer

        n_users, n_items = len(self.user_ids_), len(self.item_ids_)
        return FactorScorer(
            np.zeros(n_users, np.float32),
            np.zeros(n_items, np.float32),
            self.user_vectors_,
            self.item_vectors_,
        )

    def _arrays(self):
        return {"user_vectors": self.user_vectors_, "item_vectors": self.item_vectors_}

    def _load_arrays(self, arrays):
        self.user_vectors_, self.item_vectors_ = arrays["user_vectors"], arrays["item_vectors"]


def _build(config, n_users, n_items, genres, popularity):
    """The tfrs.Model; defined lazily so importing tfrec does not import TFRS."""
    import tensorflow as tf
    import tensorflow_recommenders as tfrs
    import tf_keras as keras

    c = config

    def table(n, name, offset):
        # Each table gets its own initializer instance (a shared one starts them identical).
        return keras.layers.Embedding(
            n,
            c.embedding_dim,
            name=name,
            embeddings_initializer=keras.initializers.TruncatedNormal(
                0.0, 0.05, seed=c.seed + offset
            ),
            embeddings_regularizer=keras.regularizers.l2(c.l2) if c.l2 else None,
        )

    class Model(tfrs.Model):
        def __init__(self):
            super().__init__()
            self.users = table(n_users, "user_embedding", 1)
            self.items = table(n_items, "item_embedding", 2)
            self.genres = None
            if genres is not None:
                self.genre_table = tf.constant(genres)
                self.genres = keras.layers.Dense(
                    c.embedding_dim, use_bias=False, name="genre_projection"
                )
            probability = popularity / max(float(popularity.sum()), 1.0)
            self.log_probability = tf.constant(np.log(np.maximum(probability, 1e-12)), tf.float32)
            self.task = tfrs.tasks.Retrieval()

        def query(self, users):
            return self.users(users)

        def candidate(self, items):
            vectors = self.items(items)
            if self.genres is not None:
                vectors += self.genres(tf.gather(self.genre_table, items))
            return vectors

        def compute_loss(self, batch, training=False):
            queries, candidates = self.query(batch["user"]), self.candidate(batch["item"])
            if c.loss == "triplet":
                negatives = tf.random.uniform(
                    tf.shape(batch["item"]), 0, n_items, dtype=batch["item"].dtype
                )
                q = tf.math.l2_normalize(queries, -1)
                positive = tf.reduce_sum(q * tf.math.l2_normalize(candidates, -1), -1)
                negative = tf.reduce_sum(
                    q * tf.math.l2_normalize(self.candidate(negatives), -1), -1
                )
                return tf.reduce_mean(tf.nn.relu(c.margin - positive + negative))
            sampling = tf.exp(tf.gather(self.log_probability, batch["item"])) if c.logq else None
            return self.task(
                queries, candidates, candidate_sampling_probability=sampling, compute_metrics=False
            )

        def export_vectors(self):
            users = self.users.embeddings.numpy()
            items = self.candidate(tf.range(n_items, dtype=tf.int64)).numpy()
            if c.loss == "triplet":  # the model ranks by cosine similarity
                users = users / np.maximum(np.linalg.norm(users, axis=1, keepdims=True), 1e-12)
                items = items / np.maximum(np.linalg.norm(items, axis=1, keepdims=True), 1e-12)
            return users.astype(np.float32), items.astype(np.float32)

    return Model()

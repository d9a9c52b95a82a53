"""GMF, neural collaborative filtering's generalised matrix factorisation (the seed's).

    p(u interacts with i) = sigmoid(w . (p_u * q_i) + b)

Trained with binary cross-entropy on the training pairs (label 1) and
``negatives`` items per pair drawn uniformly from the items the user has not
interacted with in training (label 0), re-drawn every epoch inside the tf.data
pipeline. A training pair with a strength w_ui (play count, hours) weighs
c_ui in the loss (:mod:`tfrec.models.weighting`; ``weighting="binary"``,
the default: 1), a sampled pair 1:

    loss = - sum_(u,i) c_ui log p_ui - sum_(u,j) log(1 - p_uj)

On steam-hours (hours played; random split, validation, mean of seeds 0-2)
log weighting and binary tie (NDCG@10 0.2844 against 0.2840), so the
default stays binary.

Early stopping keeps the epoch with the best validation NDCG@10 (full
ranking over the catalogue minus the user's training items).

Since ``w . (p_u * q_i) = (w * p_u) . q_i``, the whole catalogue is scored
with one matrix product.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np

from tfrec.errors import check_non_negative, check_positive_int
from tfrec.models.base import ModelConfig, Recommender
from tfrec.models.weighting import check_weighting, confidence
from tfrec.tuning.space import Range


@dataclasses.dataclass
class GMFConfig(ModelConfig):
    """Options of GMF.

    Attributes:
        embedding_dim: Size of the user and item embeddings.
        negatives: Sampled unseen items per training pair, per epoch.
        l2: L2 weight on the embedding tables.
        learning_rate: Adam learning rate.
        batch_size: Examples (positives and negatives) per step.
        epochs: Maximum epochs.
        patience: Epochs without validation NDCG@10 improvement before stopping.
        seed: Seed of initialisation, sampling and shuffling.
        weighting: How a pair's strength becomes its loss weight: ``binary``,
            ``log`` or ``raw`` (:mod:`tfrec.models.weighting`).
        alpha: Scale of the strength in the confidence.
    """

    tuning_grid: ClassVar[dict[str, list]] = {
        "embedding_dim": [32, 64],
        "negatives": [4, 8],
        "weighting": ["binary", "log"],
    }
    tuning_ranges: ClassVar[dict] = {"l2": Range(1e-7, 1e-3, log=True)}

    embedding_dim: int = 64
    negatives: int = 4
    l2: float = 1e-6
    learning_rate: float = 1e-3
    batch_size: int = 1024
    epochs: int = 30
    patience: int = 5
    seed: int = 0
    weighting: str = "binary"
    alpha: float = 1.0

    def validate(self):
        check_weighting(self.weighting, self.alpha, 1.0)
        for name in ("embedding_dim", "negatives", "batch_size", "epochs"):
            check_positive_int(name, getattr(self, name))
        for name in ("l2", "learning_rate", "patience"):
            check_non_negative(name, getattr(self, name))


class GMF(Recommender):
    """Generalised matrix factorisation on implicit feedback (a ranking model)."""

    name = "gmf"
    Config = GMFConfig
    predicts_ratings = False
    trains_by_epochs = True
    strategies = ("mirrored", "multi-worker")
    similar_items_supported = True
    parallel_scoring = True

    def _fit(self, data, split, options) -> None:
        import tf_keras as keras

        from tfrec.data.prepare.stream import streamed
        from tfrec.models.training.ranking_stopping import fit_with_ranking
        from tfrec.pipelines import implicit_dataset, implicit_steps

        c = self.config
        keras.utils.set_random_seed(c.seed)
        n_items = len(data.item_ids)
        model = self._build(keras, len(data.user_ids), n_items)
        model.compile(keras.optimizers.Adam(c.learning_rate), loss="binary_crossentropy")
        weights = None
        if data.weights is not None and c.weighting != "binary":
            weights = confidence(data.weights, len(data.users), c.weighting, c.alpha)
        shards = None if weights is not None else streamed(self.name, split, data, options)
        steps = implicit_steps(len(data.users), c.negatives, c.batch_size, shards=shards)
        fit_with_ranking(
            self,
            options,
            model,
            lambda: implicit_dataset(
                data.users,
                data.items,
                n_items,
                c.negatives,
                c.batch_size,
                c.seed,
                c.epochs,
                weights,
                shards=shards,
            ),
            steps,
            len(data.users) * (1 + c.negatives),
            split.validation,
            lambda: self._take_weights(model),
            self._logits,
            per_worker=shards is not None and shards.per_worker,
        )

    def _build(self, keras, n_users, n_items):
        import tensorflow as tf

        c = self.config
        user = keras.Input((), dtype=tf.int64, name="user")
        item = keras.Input((), dtype=tf.int64, name="item")

        def embedding(n, name, offset):
            return keras.layers.Embedding(
                n,
                c.embedding_dim,
                name=name,
                embeddings_initializer=keras.initializers.RandomNormal(
                    0.0, 0.01, seed=c.seed + offset
                ),
                embeddings_regularizer=keras.regularizers.l2(c.l2),
            )

        product = keras.layers.Multiply()(
            [
                embedding(n_users, "user_embedding", 1)(user),
                embedding(n_items, "item_embedding", 2)(item),
            ]
        )
        output = keras.layers.Dense(1, activation="sigmoid", name="output")(product)
        return keras.Model({"user": user, "item": item}, output, name="gmf")

    def _take_weights(self, model):
        weights, bias = model.get_layer("output").get_weights()
        self.user_vectors_ = (
            model.get_layer("user_embedding").get_weights()[0] * weights[:, 0]
        ).astype(np.float32)
        self.item_vectors_ = model.get_layer("item_embedding").get_weights()[0].astype(np.float32)
        self.bias_ = np.float32(bias[0])

    def _logits(self, users):
        return self.user_vectors_[users] @ self.item_vectors_.T + self.bias_

    def _score(self, users):
        return _sigmoid(self._logits(users))

    def _predict(self, users, items):
        logits = np.einsum("ij,ij->i", self.user_vectors_[users], self.item_vectors_[items])
        return _sigmoid(logits + self.bias_)

    def item_embeddings(self):
        return self.item_vectors_

    def serving_scorer(self, seen):
        from tfrec.models.scorers import FactorScorer

        n_users, n_items = len(self.user_ids_), len(self.item_ids_)
        return FactorScorer(
            np.full(n_users, self.bias_, np.float32),
            np.zeros(n_items, np.float32),
            self.user_vectors_,
            self.item_vectors_,
            link="sigmoid",
        )

    def _arrays(self):
        return {
            "user_vectors": self.user_vectors_,
            "item_vectors": self.item_vectors_,
            "bias": np.asarray([self.bias_], np.float32),
        }

    def _load_arrays(self, arrays):
        self.user_vectors_, self.item_vectors_ = arrays["user_vectors"], arrays["item_vectors"]
        self.bias_ = np.float32(arrays["bias"][0])


def _sigmoid(x):
    return (1.0 / (1.0 + np.exp(-np.clip(x, -60, 60)))).astype(np.float32)

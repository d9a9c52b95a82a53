"""The seed's embedding DNN with genre and tag content (a rating model).

    [user emb (64) | item emb (64) | genre multi-hot | tag TF-IDF (100)]
      -> dropout -> Dense 32 (ReLU) -> dropout -> Dense 16 (ReLU) -> dropout
      -> sigmoid, scaled to the rating scale

Embeddings are he_normal with a small L2; the content vectors are a constant
table inside the model, looked up by item index, fitted on training items
only. MSE, Adam, early stopping (best weights restored) and learning-rate
halving on validation RMSE.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np

from tfrec.errors import check_non_negative, check_positive_int
from tfrec.models.base import ModelConfig
from tfrec.models.rating.keras_rating import KerasRatingModel


@dataclasses.dataclass
class DNNConfig(ModelConfig):
    """Options of the content DNN.

    Attributes:
        embedding_dim: Size of the user and item embeddings.
        hidden_units: Sizes of the hidden ReLU layers.
        dropout: Dropout rate after the concatenation and each hidden layer.
        l2: L2 weight on the embeddings.
        tag_terms: TF-IDF vocabulary size for tags.
        learning_rate: Adam learning rate.
        batch_size: Examples per step.
        epochs: Maximum epochs.
        patience: Early-stopping patience in epochs (0: no early stopping).
        seed: Seed of initialisation, dropout and shuffling.
    """

    tuning_grid: ClassVar[dict[str, list]] = {"embedding_dim": [32, 64], "dropout": [0.1, 0.3]}

    embedding_dim: int = 64
    hidden_units: tuple[int, ...] = (32, 16)
    dropout: float = 0.3
    l2: float = 3e-3
    tag_terms: int = 100
    learning_rate: float = 1e-3
    batch_size: int = 512
    epochs: int = 30
    patience: int = 3
    seed: int = 0

    def validate(self):
        self.hidden_units = tuple(self.hidden_units)
        check_positive_int("embedding_dim", self.embedding_dim)
        for units in self.hidden_units:
            check_positive_int("hidden_units", units)
        check_positive_int("tag_terms", self.tag_terms)
        check_positive_int("batch_size", self.batch_size)
        check_positive_int("epochs", self.epochs)
        for name in ("dropout", "l2", "learning_rate", "patience"):
            check_non_negative(name, getattr(self, name))

    def to_dict(self):
        values = super().to_dict()
        values["hidden_units"] = list(self.hidden_units)
        return values


class DNN(KerasRatingModel):
    """Embedding DNN over user, item and item content."""

    name = "dnn"
    similar_items_supported = True
    Config = DNNConfig

    def _prepare(self, data, split):
        from tfrec.features.content import genre_multi_hot, tag_tfidf

        items = split.dataset.items
        self.content_ = np.hstack(
            [
                genre_multi_hot(items, data.item_ids),
                tag_tfidf(items, data.item_ids, self.config.tag_terms),
            ]
        )

    def _build(self):
        from tfrec.models.rating.keras_rating import keras, tf

        c = self.config
        n_users, n_items = len(self.user_ids_), len(self.item_ids_)
        low, high = self.rating_scale_
        user = keras.Input((), dtype=tf.int32, name="user")
        item = keras.Input((), dtype=tf.int32, name="item")
        regularizer = keras.regularizers.l2(c.l2)

        def embedding(n, name):
            return keras.layers.Embedding(
                n,
                c.embedding_dim,
                embeddings_initializer="he_normal",
                embeddings_regularizer=regularizer,
                name=name,
            )

        content = keras.layers.Embedding(
            n_items,
            self.content_.shape[1],
            trainable=False,
            name="item_content",
            embeddings_initializer=keras.initializers.Constant(self.content_),
        )
        inputs, extra_features = self._extra_inputs(keras, tf)
        x = keras.layers.Concatenate()(
            [
                embedding(n_users, "user_embedding")(user),
                embedding(n_items, "item_embedding")(item),
                content(item),
                *extra_features,
            ]
        )
        x = keras.layers.Dropout(c.dropout, seed=c.seed)(x)
        for units in c.hidden_units:
            x = keras.layers.Dense(units, activation="relu")(x)
            x = keras.layers.Dropout(c.dropout, seed=c.seed)(x)
        x = keras.layers.Dense(1, activation="sigmoid")(x)
        rating = keras.layers.Rescaling(high - low, offset=low, name="rating")(x)
        return keras.Model({"user": user, "item": item, **inputs}, rating, name=self.name)

    def _extra_inputs(self, keras, tf):
        """Inputs beyond user and item, and the feature tensors they give."""
        return {}, []

    def item_embeddings(self):
        return self.model_.get_layer("item_embedding").get_weights()[0]

    def _arrays(self):
        return {"content": self.content_}

    def _load_arrays(self, arrays):
        self.content_ = arrays["content"]

"""The seed's embedding DNN with genre and tag content (a rating model).

    [user emb (64) | item emb (64) | genre multi-hot | tag TF-IDF (100)]
      -> dropout -> Dense 32 (ReLU) -> dropout -> Dense 16 (ReLU) -> dropout
      -> sigmoid, scaled to the rating scale

Embeddings are he_normal with a small L2; the content vectors are a constant
table inside the model, looked up by item index, fitted on training items
only. MSE, Adam, early stopping (best weights restored) and learning-rate
halving on validation RMSE.

New items (``serves_new_items``): an item absent from training gets the mean
of the trained item embeddings and its own content row (genres from the
items table; no tags, which are interactions), so its predicted rating
r̂(u, i) = f(p_u, mean_j q_j, c_i) comes from its content alone, and users
rank new items by it.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np

from tfrec.errors import check_non_negative, check_positive_int
from tfrec.models.base import ModelConfig
from tfrec.models.rating.keras_rating import KerasRatingModel
from tfrec.tuning.space import Range


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

    tuning_grid: ClassVar[dict[str, list]] = {"embedding_dim": [32, 64]}
    tuning_ranges: ClassVar[dict] = {"dropout": Range(0.0, 0.5), "l2": Range(1e-4, 1e-1, log=True)}

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
    serves_new_items = True  # mean item embedding + the item's genres
    Config = DNNConfig

    def _prepare(self, data, split):
        from tfrec.features.content import genre_multi_hot, genre_names, tag_tfidf

        items = split.dataset.items
        self.genre_names_ = genre_names(items, data.item_ids)
        tags = tag_tfidf(items, data.item_ids, self.config.tag_terms)
        self.n_tag_columns_ = tags.shape[1]
        self.content_ = np.hstack(
            [genre_multi_hot(items, data.item_ids, self.genre_names_), tags]
        ).astype(np.float32)

    def _new_content(self, items) -> np.ndarray:
        """Content rows of new items: their genres; no tags."""
        from tfrec.features.content import genre_multi_hot

        genres = genre_multi_hot(items, items["item_id"].to_numpy(), self.genre_names_)
        return np.hstack([genres, np.zeros((len(items), self.n_tag_columns_), np.float32)])

    def _build(self, content=None):
        from tfrec.models.rating.keras_rating import keras, tf

        c = self.config
        content = self.content_ if content is None else content
        n_users, n_items = len(self.user_ids_), len(content)
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

        content_table = keras.layers.Embedding(
            n_items,
            content.shape[1],
            trainable=False,
            name="item_content",
            embeddings_initializer=keras.initializers.Constant(content),
        )
        inputs, extra_features = self._extra_inputs(keras, tf)
        x = keras.layers.Concatenate()(
            [
                embedding(n_users, "user_embedding")(user),
                embedding(n_items, "item_embedding")(item),
                content_table(item),
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

    # ---- new items ---------------------------------------------------------------------------

    def _with_items(self, new_content: np.ndarray):
        """The Keras model over the catalogue plus items with these content rows."""
        content = np.concatenate([self.content_, new_content.astype(np.float32)])
        model = self._build(content)
        for new, old in zip(model.layers, self.model_.layers, strict=True):
            weights = old.get_weights()
            if new.name == "item_embedding":
                mean = weights[0].mean(axis=0, keepdims=True)
                weights = [np.concatenate([weights[0], np.repeat(mean, len(new_content), 0)])]
            elif new.name == "item_content":
                weights = [content]
            new.set_weights(weights)
        return model

    def new_item_scorer(self, items):
        model = self._with_items(self._new_content(items))
        n_old, n_new = len(self.content_), len(items)

        def score(rows):
            users = np.repeat(rows, n_new)
            candidates = np.tile(np.arange(n_old, n_old + n_new), len(rows))
            inputs = {"user": users, "item": candidates, **self._serving_defaults(users)}
            return self._run(inputs, model).reshape(len(rows), n_new)

        return score

    def _add_items(self, items):
        new_content = self._new_content(items)
        self.model_ = self._with_items(new_content)
        self.content_ = np.concatenate([self.content_, new_content])

    def _arrays(self):
        return {
            "content": self.content_,
            "genre_names": np.asarray(self.genre_names_, dtype=str),
            "n_tag_columns": np.int64(self.n_tag_columns_),
        }

    def _load_arrays(self, arrays):
        self.content_ = arrays["content"]
        self.genre_names_ = [str(name) for name in arrays["genre_names"]]
        self.n_tag_columns_ = int(arrays["n_tag_columns"])

"""The seed's embedding DNN: genre and tag content, user and item features (a rating model).

    x = [p_u (64) | q_i (64) | genre multi-hot_i | tag TF-IDF_i (100) | e_U(f_u) | e_I(g_i)]
    r̂(u, i) = low + (high - low) · σ(MLP(x)),
    MLP: dropout -> Dense 32 (ReLU) -> dropout -> Dense 16 (ReLU) -> dropout -> Dense 1

Embeddings are he_normal with a small L2; the content vectors are a constant
table inside the model, looked up by item index, fitted on training items
only. MSE, Adam, early stopping (best weights restored) and learning-rate
halving on validation RMSE.

Features (``use_features``, on by default): when the dataset has typed user
features (columns of ``Dataset.users``: ``f_u``) or item features (extra
columns of ``Dataset.items``: ``g_i``; :mod:`tfrec.data.feature_schema`), the
network concatenates their encodings ``e_U(f_u)`` and ``e_I(g_i)``: one
:class:`~tfrec.features.layer.FeatureEncoder` per source, adapted on the
training users' and training items' rows (category embeddings, numeric
z-score + missing flag + quantile bins, multi-hot and TF-IDF projections),
reading the raw values from tables inside the model by user and item index
(:mod:`tfrec.models.rating.features`). Without them those terms are absent
and the model is the one above; it reads no context features. A user the
users table lacks (or a missing value) gets the encoders' missing rows
(out-of-vocabulary embedding, zero z-score with the missing flag set).
``feature_schema_`` says which features a fitted model reads; the SavedModel's
``predict`` and ``recommend`` read them from the stored tables (no new
inputs).

New items (``serves_new_items``): an item absent from training gets the mean
of the trained item embeddings, its own content row (genres from the items
table; no tags, which are interactions) and its own item features, so its
predicted rating r̂(u, i) = f(p_u, mean_j q_j, c_i, e_I(g_i)) comes from its
content alone, and users rank new items by it.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np

from tfrec.errors import ConfigError, check_non_negative, check_positive_int
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
        use_features: Read the dataset's typed user and item features when it
            has them (:mod:`tfrec.models.rating.features`); False: IDs,
            genres and tags only, as without features.
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
    use_features: bool = True

    def validate(self):
        self.hidden_units = tuple(self.hidden_units)
        if not isinstance(self.use_features, bool | np.bool_):
            raise ConfigError(f"use_features must be true or false; got {self.use_features!r}")
        self.use_features = bool(self.use_features)
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
    """Embedding DNN over user, item, item content and user and item features.

    Reads: the user and item IDs (embeddings ``p_u``, ``q_i``), the item's
    genres and tags (constant table), and when the dataset has them the
    user's features ``f_u`` and the item's features ``g_i`` (raw tables
    inside the model); see the module docstring for the formula.
    """

    name = "dnn"
    similar_items_supported = True
    serves_new_items = True  # mean item embedding + the item's genres (and item features)
    reads_features = ("user", "item")  # with use_features, when the dataset has them
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
        self._prepare_features(split.dataset, data)

    def _prepare_features(self, dataset, data) -> None:
        """The user and item features the network reads (none with ``use_features`` off)."""
        from tfrec.data.feature_schema import FeatureSchema
        from tfrec.models.rating.features import read_features

        schema, tables = FeatureSchema(), {}
        if self.config.use_features:
            schema, tables = read_features(dataset, data)
        self.feature_schema_, self.feature_tables_ = schema, tables
        self.feature_rows_ = {source: len(next(iter(t.values()))) for source, t in tables.items()}

    def _new_content(self, items) -> np.ndarray:
        """Content rows of new items: their genres; no tags."""
        from tfrec.features.content import genre_multi_hot

        genres = genre_multi_hot(items, items["item_id"].to_numpy(), self.genre_names_)
        return np.hstack([genres, np.zeros((len(items), self.n_tag_columns_), np.float32)])

    def _build(self, content=None, item_table=None):
        """The network; ``content`` and ``item_table`` (item-feature rows) replace
        the catalogue's to build it over more items."""
        from tfrec.models.rating.features import feature_layers
        from tfrec.models.rating.keras_rating import keras, tf

        c = self.config
        content = self.content_ if content is None else content
        n_users, n_items = len(self.user_ids_), len(content)
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
        inputs, extra_features = self._extra_inputs(keras, tf, user, item)
        features = feature_layers(
            self.feature_schema_, self.feature_tables_, self.feature_rows_, c.seed, item_table
        )
        x = keras.layers.Concatenate()(
            [
                embedding(n_users, "user_embedding")(user),
                embedding(n_items, "item_embedding")(item),
                content_table(item),
                *extra_features,
                *([features["user"](user)] if "user" in features else []),
                *([features["item"](item)] if "item" in features else []),
            ]
        )
        output = self._head(x)
        return keras.Model({"user": user, "item": item, **inputs}, output, name=self.name)

    def _head(self, x):
        """The network above the concatenated inputs: the MLP and the rating scale."""
        from tfrec.models.rating.keras_rating import keras

        c = self.config
        low, high = self.rating_scale_
        x = keras.layers.Dropout(c.dropout, seed=c.seed)(x)
        for units in c.hidden_units:
            x = keras.layers.Dense(units, activation="relu")(x)
            x = keras.layers.Dropout(c.dropout, seed=c.seed)(x)
        x = keras.layers.Dense(1, activation="sigmoid")(x)
        return keras.layers.Rescaling(high - low, offset=low, name="rating")(x)

    def _extra_inputs(self, keras, tf, user, item):
        """Inputs beyond user and item, and the feature tensors they give (``user``,
        ``item``: the user- and item-index inputs)."""
        return {}, []

    def item_embeddings(self):
        return self.model_.get_layer("item_embedding").get_weights()[0]

    # ---- new items ---------------------------------------------------------------------------

    def _with_items(self, new_content: np.ndarray, new_features: dict | None):
        """The Keras model over the catalogue plus items with these content rows
        (and item-feature rows, when the model reads item features)."""
        content = np.concatenate([self.content_, new_content.astype(np.float32)])
        model = self._build(content, self._item_table(new_features))
        for new, old in zip(model.layers, self.model_.layers, strict=True):
            weights = old.get_weights()
            if new.name == "item_embedding":
                mean = weights[0].mean(axis=0, keepdims=True)
                weights = [np.concatenate([weights[0], np.repeat(mean, len(new_content), 0)])]
            elif new.name == "item_content":
                weights = [content]
            new.set_weights(weights)
        return model

    def _new_item_features(self, items) -> dict | None:
        """The item-feature rows of new items (None: the model reads no item features)."""
        from tfrec.models.rating.features import new_item_values

        if "item" not in self.feature_tables_:
            return None
        return new_item_values(self.feature_schema_, items)

    def _item_table(self, new_features: dict | None) -> dict | None:
        """The item-feature table with ``new_features`` appended (None without them)."""
        if new_features is None:
            return None
        table = self.feature_tables_["item"]
        return {key: np.concatenate([table[key], new_features[key]]) for key in table}

    def new_item_scorer(self, items):
        model = self._with_items(self._new_content(items), self._new_item_features(items))
        n_old, n_new = len(self.content_), len(items)

        def score(rows):
            users = np.repeat(rows, n_new)
            candidates = np.tile(np.arange(n_old, n_old + n_new), len(rows))
            inputs = {"user": users, "item": candidates, **self._serving_defaults(users)}
            return self._run(inputs, model).reshape(len(rows), n_new)

        return score

    def _add_items(self, items):
        new_content = self._new_content(items)
        new_features = self._new_item_features(items)
        self.model_ = self._with_items(new_content, new_features)
        self.content_ = np.concatenate([self.content_, new_content])
        if new_features is not None:  # a new dict: with_new_items' copy shares the old one
            self.feature_tables_ = {**self.feature_tables_, "item": self._item_table(new_features)}

    def _arrays(self):
        from tfrec.models.rating.features import feature_arrays

        return {
            "content": self.content_,
            "genre_names": np.asarray(self.genre_names_, dtype=str),
            "n_tag_columns": np.int64(self.n_tag_columns_),
            **feature_arrays(self.feature_schema_, self.feature_tables_, self.feature_rows_),
        }

    def _load_arrays(self, arrays):
        from tfrec.models.rating.features import load_feature_arrays

        self.content_ = arrays["content"]
        self.genre_names_ = [str(name) for name in arrays["genre_names"]]
        self.n_tag_columns_ = int(arrays["n_tag_columns"])
        self.feature_schema_, self.feature_tables_, self.feature_rows_ = load_feature_arrays(arrays)

"""The seed's hybrid: the content DNN plus text vectors, cyclic time and features.

    x = [p_u | q_i | genres_i | tag TF-IDF_i | text_i | time(t) | e_U(f_u) | e_I(g_i)]
    r̂(u, i, t) = low + (high - low) · σ(MLP(x))

Inputs are the user, the item and the rating's ``timestamp`` ``t``. The item
content table holds genres, tag TF-IDF and a text vector ``text_i`` of the
item's title, genres, tags and any extra text the dataset has (overview,
director, cast), from a pluggable encoder (gensim Word2Vec by default, or
TF-IDF + SVD). The timestamp becomes day and year sin/cos features
``time(t)`` inside the model.

User and item features (``use_features``, on by default) enter as in
:class:`~tfrec.models.rating.dnn.DNN`: the encodings ``e_U(f_u)`` of the
user's typed features and ``e_I(g_i)`` of the item's, from raw tables inside
the model (:mod:`tfrec.models.rating.features`); absent when the dataset has
none. The dataset's context features are not read (``t`` is the only
per-rating input).

Without a timestamp (``recommend``, or ``predict`` called without one) the
user's last training timestamp is used. New items get their text vector from
the fitted encoder (title, genres and any extra text; no tags), besides what
:class:`~tfrec.models.rating.dnn.DNN` gives them (mean item embedding,
genres, item features).
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np

from tfrec.errors import check_choice, check_positive_int
from tfrec.models.rating.dnn import DNN, DNNConfig


@dataclasses.dataclass
class HybridConfig(DNNConfig):
    """Options of the hybrid: those of the DNN plus the text encoder.

    Attributes:
        text_encoder: ``word2vec`` (default) or ``tfidf-svd``.
        text_dim: Size of the text vectors.
        time_features: Feed cyclic time features of the timestamp.
    """

    tuning_grid: ClassVar[dict[str, list]] = {"text_encoder": ["word2vec", "tfidf-svd"]}

    text_encoder: str = "word2vec"
    text_dim: int = 32
    time_features: bool = True

    def validate(self):
        super().validate()
        from tfrec.features.text import ENCODERS

        check_choice("text_encoder", self.text_encoder, tuple(ENCODERS))
        check_positive_int("text_dim", self.text_dim)


class Hybrid(DNN):
    """User/item embeddings + genre, tag and text content + cyclic time + features.

    Reads: the user and item IDs, the item's genres, tags and text, the
    rating's timestamp, and when the dataset has them the user's and the
    item's typed features; see the module docstring for the formula.
    """

    name = "hybrid"
    Config = HybridConfig
    uses_timestamps = True
    row_columns = ("timestamp",)

    def _prepare(self, data, split):
        from tfrec.features.text import ENCODERS, item_documents

        super()._prepare(data, split)
        c = self.config
        self.encoder_ = ENCODERS[c.text_encoder](dim=c.text_dim, seed=c.seed)
        text = self.encoder_.fit_transform(item_documents(split.dataset.items, data.item_ids))
        self.content_ = np.hstack([self.content_, text]).astype(np.float32)
        last = np.zeros(len(data.user_ids), np.int64)
        np.maximum.at(last, data.users, data.timestamps.astype(np.int64))
        self.last_timestamp_ = last

    def _new_content(self, items):
        from tfrec.features.text import item_documents

        items = items.assign(tags=[[] for _ in range(len(items))])
        text = self.encoder_.transform(item_documents(items, items["item_id"].to_numpy()))
        return np.hstack([super()._new_content(items), text])

    def _extra_inputs(self, keras, tf, user, item):
        timestamp = keras.Input((), dtype=tf.int64, name="timestamp")
        if not self.config.time_features:
            return {"timestamp": timestamp}, []
        from tfrec.features.time import cyclic_time

        features = keras.layers.Lambda(cyclic_time, name="cyclic_time")(timestamp)
        return {"timestamp": timestamp}, [features]

    def _extra_columns(self, frame_or_data):
        if hasattr(frame_or_data, "timestamps"):
            return {"timestamp": frame_or_data.timestamps.astype(np.int64, copy=False)}
        return {"timestamp": frame_or_data["timestamp"].to_numpy(np.int64)}

    def _serving_defaults(self, users):
        return {"timestamp": self.last_timestamp_[users]}

    def _serving_default_tables(self):
        return {"timestamp": self.last_timestamp_}

    def _predict_at(self, users, items, timestamps):
        return self._run(
            {
                "user": users,
                "item": items,
                "timestamp": np.asarray(timestamps, np.int64),
            }
        )

    def _arrays(self):
        text = {f"text_{k}": v for k, v in self.encoder_.state().items()}
        return {**super()._arrays(), "last_timestamp": self.last_timestamp_, **text}

    def _load_arrays(self, arrays):
        from tfrec.features.text import ENCODERS

        super()._load_arrays(arrays)
        self.last_timestamp_ = arrays["last_timestamp"]
        c = self.config
        self.encoder_ = ENCODERS[c.text_encoder](dim=c.text_dim, seed=c.seed)
        self.encoder_.set_state({k[5:]: v for k, v in arrays.items() if k.startswith("text_")})

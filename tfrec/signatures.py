"""The ``tf.Module`` an export holds: raw-ID signatures around a model's scorer.

Signatures and fallbacks are described in :mod:`tfrec.export`. A model takes
part by implementing ``serving_scorer(seen)``, returning a ``tf.Module`` with
``score(users) -> [batch, n_items]`` and ``predict(users, items) -> [batch]``
over internal row indices.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf


class SeenItems(tf.Module):
    """Each user's training items and ratings, as a ragged table."""

    def __init__(self, matrix):
        super().__init__(name="seen_items")
        self.n_items = matrix.shape[1]
        self.items = tf.Variable(matrix.indices.astype(np.int64), trainable=False)
        self.ratings = tf.Variable(matrix.data.astype(np.float32), trainable=False)
        self.splits = tf.Variable(matrix.indptr.astype(np.int64), trainable=False)

    def index(self, users):
        """[n, 2] (batch row, item) pairs of the users' seen items, and their ratings."""
        items = tf.gather(tf.RaggedTensor.from_row_splits(self.items, self.splits), users)
        ratings = tf.gather(tf.RaggedTensor.from_row_splits(self.ratings, self.splits), users)
        rows = tf.cast(items.value_rowids(), tf.int64)
        return tf.stack([rows, items.flat_values], axis=1), ratings.flat_values

    def dense(self, users):
        """[batch, n_items] ratings of the users (0 where unrated)."""
        index, ratings = self.index(users)
        shape = tf.stack([tf.shape(users, out_type=tf.int64)[0], self.n_items])
        return tf.scatter_nd(index, ratings, shape)


def id_dtype(vocabulary) -> tf.DType:
    """The signature dtype of a vocabulary's raw IDs: tf.string or tf.int64."""
    return tf.string if vocabulary.is_string else tf.int64


def _lookup(vocabulary):
    """Raw ID -> row (-1 when unknown), from the model's vocabulary."""
    dtype = id_dtype(vocabulary)
    init = tf.lookup.KeyValueTensorInitializer(
        tf.constant(vocabulary.ids, dtype), tf.range(len(vocabulary), dtype=tf.int64)
    )
    return tf.lookup.StaticHashTable(init, default_value=-1)


class ServingModule(tf.Module):
    """ID lookup, fallbacks, seen-item exclusion and top-k around a scorer."""

    def __init__(self, model):
        super().__init__(name="tfrec_serving")
        self.predicts_ratings = model.predicts_ratings
        user_dtype, self.item_dtype = id_dtype(model.users_), id_dtype(model.items_)
        self.user_table = _lookup(model.users_)
        self.item_table = _lookup(model.items_)
        self.item_ids = tf.Variable(tf.constant(model.item_ids, self.item_dtype), trainable=False)
        self.item_pad = tf.constant(model.items_.pad, self.item_dtype)
        popularity = model.popularity_.astype(np.float32)
        self.popularity = tf.Variable(popularity, trainable=False)
        fallback = popularity / max(popularity.max(), 1.0)
        self.fallback_scores = tf.Variable(fallback, trainable=False)
        # Best first, ties by column as top_k breaks them: no sort per request.
        self.fallback_order = tf.Variable(np.argsort(-fallback, kind="stable"), trainable=False)
        self.global_mean = tf.constant(model.global_mean_, tf.float32)
        self.low, self.high = (float(x) for x in model.rating_scale_)
        self.seen = SeenItems(model.seen_)
        self.scorer = model.serving_scorer(self.seen)
        self.scorer_reads_context = bool(getattr(self.scorer, "context_specs", None))
        self.history_scorer = model.serving_history_scorer()
        self.stage_weight = float(getattr(model, "stage_weight_", 0.0))
        if self.stage_weight:
            self.stage_prior = tf.Variable(model.stage_prior_, trainable=False)
        specs = [
            tf.TensorSpec([None], user_dtype, name="user_id"),
            tf.TensorSpec([None], self.item_dtype, name="item_id"),
        ]
        if model.uses_timestamps:
            specs.append(tf.TensorSpec([None], tf.int64, name="timestamp"))
        self.predict = tf.function(self._predict, input_signature=specs)
        self.rank = tf.function(
            self._rank,
            input_signature=[
                tf.TensorSpec([None], user_dtype, name="user_id"),
                tf.TensorSpec([None, None], self.item_dtype, name="item_ids"),
            ],
        )
        self.recommend = tf.function(
            self._recommend,
            input_signature=[
                tf.TensorSpec([None], user_dtype, name="user_id"),
                tf.TensorSpec([None], tf.int32, name="k"),
            ],
        )

    def _users(self, user_id, k):
        """The users' rows (0 where unknown), which are known, their seen (row,
        item) pairs, and k capped at the catalogue."""
        rows = self.user_table.lookup(user_id)
        known = rows >= 0
        safe = tf.maximum(rows, 0)
        seen, _ = self.seen.index(safe)
        seen = tf.boolean_mask(seen, tf.gather(known, seen[:, 0]))
        return safe, known, seen, tf.minimum(tf.reduce_max(k), tf.shape(self.item_ids)[0])

    def _recommend(self, user_id, k):
        safe, known, seen, k = self._users(user_id, k)
        top_k = self._retrieve if hasattr(self.scorer, "retrieve") else self._score_all
        values, columns = top_k(safe, known, seen, k)
        return self._answer(values, columns)

    def _recommend_context(self, inputs):
        """``recommend`` with the request's context added to known users' queries."""
        user_id, k = inputs["user_id"], inputs["k"]
        context = {key: value for key, value in inputs.items() if key not in ("user_id", "k")}
        safe, known, seen, k = self._users(user_id, k)
        if self.scorer_reads_context:  # the network reads it (dcn)
            scores = self.scorer.score(safe, context)
        else:  # a term of its own (the two towers)
            scores = self.scorer.score(safe) + self.history_scorer.context_scores(context)
        values, columns = self._score_all(safe, known, seen, k, scores)
        return self._answer(values, columns)

    def _rank_context(self, inputs):
        """``rank`` in each request's context (one value per user row)."""
        context = {k: v for k, v in inputs.items() if k not in ("user_id", "item_ids")}
        return self._ranked(inputs["user_id"], inputs["item_ids"], context)

    def _answer(self, values, columns):
        """Raw item IDs and scores; the pad (-1, or "") / NaN where no item was left (-inf)."""
        empty = tf.math.is_inf(values)
        item_ids = tf.gather(self.item_ids, columns)
        return {
            "item_ids": tf.where(empty, self.item_pad, item_ids),
            "scores": tf.where(empty, tf.constant(np.nan, tf.float32), values),
        }

    def _recommend_history(self, inputs):
        """Top k after each row of raw item IDs (oldest first; unknown IDs and
        the pad value, -1 or "", are ignored), excluding the row's own items;
        ``inputs``: ``history``, ``k`` and the raw user features and context
        of models that read them."""
        history, k = inputs["history"], inputs["k"]
        features = {key: value for key, value in inputs.items() if key not in ("history", "k")}
        columns = self.item_table.lookup(history)
        items = tf.ragged.boolean_mask(columns, columns >= 0)
        seen = tf.stack([tf.cast(items.value_rowids(), tf.int64), items.flat_values], axis=1)
        empty = items.row_lengths() == 0
        if hasattr(self.history_scorer, "max_len"):  # a query tower: recent items + features
            windows = self._windows(items, self.history_scorer.max_len)
            scores = self.history_scorer.score_windows(windows, features)
            if self.history_scorer.reads_user_features:
                empty = tf.zeros_like(empty)  # scored from the features alone
        elif self.history_scorer is not None:
            shape = tf.stack(
                [tf.shape(history, out_type=tf.int64)[0], tf.size(self.item_ids, tf.int64)]
            )
            ones = tf.ones(tf.shape(seen)[:1], tf.float32)
            x = tf.minimum(tf.scatter_nd(seen, ones, shape), 1.0)  # multi-hot
            scores = self.history_scorer.score(x)
        else:
            scores = self.scorer.score_history(self._windows(items, self.scorer.max_len))
        if self.stage_weight:  # the fold-in scaled, plus the stage prior (models/stage_prior.py)
            scores = tf.where(empty[:, None], 0.0, scores)
            scale = tf.maximum(tf.reduce_max(tf.abs(scores), axis=1, keepdims=True), 1e-12)
            n_stages = tf.shape(self.stage_prior, out_type=tf.int64)[0]
            stages = tf.minimum(items.row_lengths(), n_stages - 1)
            scores = scores / scale + self.stage_weight * tf.gather(self.stage_prior, stages)
        else:
            scores = tf.where(empty[:, None], self.fallback_scores[None, :], scores)
        minus_inf = tf.fill(tf.shape(seen)[:1], tf.constant(-np.inf, tf.float32))
        k = tf.minimum(tf.reduce_max(k), tf.shape(self.item_ids)[0])
        top = tf.math.top_k(tf.tensor_scatter_nd_update(scores, seen, minus_inf), k)
        return self._answer(top.values, top.indices)

    def _windows(self, items, length):
        """A sequence scorer's input: each row's last ``length`` columns + 1,
        left-padded with 0."""
        recent = items[:, -length:]
        right_padded = recent.to_tensor(default_value=-1, shape=[None, length])
        shift = length - recent.row_lengths()
        source = tf.range(length, dtype=tf.int64)[None, :] - shift[:, None]
        shifted = tf.gather(right_padded, tf.maximum(source, 0), batch_dims=1)
        return tf.where(source >= 0, shifted + 1, 0)  # column + 1, 0 pads on the left

    def _score_all(self, users, known, seen, k, scores=None):
        """Top k of the scores of every item (the scorer's, or ``scores``), seen items masked."""
        scores = self.scorer.score(users) if scores is None else scores
        scores = tf.where(known[:, None], scores, self.fallback_scores[None, :])
        minus_inf = tf.fill(tf.shape(seen)[:1], tf.constant(-np.inf, tf.float32))
        top = tf.math.top_k(tf.tensor_scatter_nd_update(scores, seen, minus_inf), k)
        return top.values, top.indices

    def _retrieve(self, users, known, seen, k):
        """Top k from the scorer's index: fetch k + the most seen items of any
        row, drop each row's seen items, keep the best k (a scorer that
        ``takes_seen`` drops them itself); unknown users get the fallback order."""
        if getattr(self.scorer, "takes_seen", False):
            values, columns = self.scorer.retrieve(users, k, seen)
            fallback = self.fallback_order[:k]
            fallback_values = tf.gather(self.fallback_scores, fallback)
            values = tf.where(known[:, None], values, fallback_values[None, :])
            return values, tf.where(known[:, None], columns, fallback[None, :])
        n_items = tf.shape(self.item_ids, out_type=tf.int64)[0]
        batch = tf.shape(users)[0]
        counts = tf.math.bincount(tf.cast(seen[:, 0], tf.int32), minlength=batch)
        most_seen = tf.reduce_max(tf.concat([counts, [0]], 0))
        depth = tf.minimum(k + most_seen, tf.cast(n_items, tf.int32))
        values, columns = self.scorer.retrieve(users, depth)
        fallback = self.fallback_order[:depth]
        fallback_values = tf.gather(self.fallback_scores, fallback)
        values = tf.where(known[:, None], values, fallback_values[None, :])
        columns = tf.where(known[:, None], columns, fallback[None, :])
        # (row, item) keys of the seen pairs are sorted: rows ascend, items ascend within a row.
        seen_keys = tf.concat([seen[:, 0] * n_items + seen[:, 1], [np.iinfo(np.int64).max]], 0)
        keys = tf.range(tf.cast(batch, tf.int64))[:, None] * n_items + columns
        position = tf.searchsorted(seen_keys, tf.reshape(keys, [-1]))
        hit = tf.reshape(tf.gather(seen_keys, position), tf.shape(keys)) == keys
        values = tf.where(hit, tf.constant(-np.inf, tf.float32), values)
        top = tf.math.top_k(values, k)
        return top.values, tf.gather(columns, top.indices, batch_dims=1)

    def _predict(self, user_id, item_id, timestamp=None, context=None):
        users, items = self.user_table.lookup(user_id), self.item_table.lookup(item_id)
        known = (users >= 0) & (items >= 0)
        safe_users, safe_items = tf.maximum(users, 0), tf.maximum(items, 0)
        # The scorer's extra inputs: hybrid's timestamp, or a request's context.
        extra = context if timestamp is None else {"timestamp": timestamp}
        value = self.scorer.predict(safe_users, safe_items, extra)
        if self.predicts_ratings:
            value = tf.where(known, value, self.global_mean)
            return {"rating": tf.clip_by_value(value, self.low, self.high)}
        fallback = tf.where(items >= 0, tf.gather(self.popularity, tf.maximum(items, 0)), 0.0)
        return {"score": tf.where(known, value, fallback)}

    def _rank(self, user_id, item_ids):
        """``predict`` of each user's row of candidate items: [batch, n] scores (or ratings)."""
        return self._ranked(user_id, item_ids)

    def _ranked(self, user_id, item_ids, context=None):
        """``rank``, each row's ``context`` (one value per user row) given to its pairs."""
        n = tf.shape(item_ids)[1]
        if context is not None:
            context = {key: tf.repeat(value, n) for key, value in context.items()}
        out = self._predict(tf.repeat(user_id, n), tf.reshape(item_ids, [-1]), context=context)
        value = out["rating" if self.predicts_ratings else "score"]
        return {"scores": tf.reshape(value, tf.shape(item_ids))}

    def signatures(self) -> dict:
        """The named signatures to save."""
        recommend = self.recommend.get_concrete_function()
        predict = self.predict.get_concrete_function()
        default = predict if self.predicts_ratings else recommend
        rank = self.rank.get_concrete_function()
        out = {"recommend": recommend, "predict": predict, "rank": rank, "serving_default": default}
        if self.history_scorer is not None or hasattr(self.scorer, "score_history"):
            specs = {
                "history": tf.TensorSpec([None, None], self.item_dtype, name="history"),
                "k": tf.TensorSpec([None], tf.int32, name="k"),
                **getattr(self.history_scorer, "feature_specs", {}),
            }
            out["recommend_history"] = tf.function(
                self._recommend_history, input_signature=[specs]
            ).get_concrete_function()
        context_specs = (
            self.scorer.context_specs
            if self.scorer_reads_context
            else getattr(self.history_scorer, "context_specs", None)
        )
        if context_specs:
            user_id = self.recommend.input_signature[0]
            specs = {"user_id": user_id, "k": tf.TensorSpec([None], tf.int32, name="k")}
            out["recommend_context"] = tf.function(
                self._recommend_context, input_signature=[{**specs, **context_specs}]
            ).get_concrete_function()
        if self.scorer_reads_context:
            specs = {"user_id": user_id, "item_ids": self.rank.input_signature[1]}
            out["rank_context"] = tf.function(
                self._rank_context, input_signature=[{**specs, **context_specs}]
            ).get_concrete_function()
        return out

"""New users' scores in the export's ``recommend_history``, from the query tower.

    q = Σ_j d^j h_{i(-1-j)} / Σ_j d^j + U φ(f_u) + X ψ(x)        (j < history)
    score(i) = q · c(i) + prior(i)

the recency-weighted mean of the history items' embeddings (``d`` = 1 for a
bag; an lstm / gru encoder's last state instead), plus the user features'
and the context's terms from the raw values a request sends
(:mod:`tfrec.features.projection`), as :meth:`TwoTower._score_history`
computes them.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from tfrec.features.layer import input_specs


class QueryScorer(tf.Module):
    """``score_windows(windows, features) -> [batch, n_items]`` for ``recommend_history``.

    Args:
        history_vectors: (n_items, dim) history-item embeddings, or None (no history).
        item_vectors: (n_items, dim) candidate vectors.
        prior: (n_items,) the score's item prior (popularity weight x log popularity).
        history: Items the query reads (``max_len``).
        decay: The history decay ``d``.
        module: The model's query module (a ``tf.Module`` with one function
            of raw inputs per feature source, and ``history(windows)`` for a
            recurrent encoder), or None.
        schema: The model's :class:`~tfrec.data.feature_schema.FeatureSchema`.
        normalize: Scale queries to unit length (the triplet loss's cosine).
    """

    def __init__(self, history_vectors, item_vectors, prior, *, history, decay, module,
                 schema, normalize):  # fmt: skip
        super().__init__(name="query_scorer")
        dim = item_vectors.shape[1]
        self.max_len, self.decay, self.normalize = max(history, 1), float(decay), normalize
        self.module = module
        self.encodes = module is not None and hasattr(module, "history")
        self.uses_history = history_vectors is not None and not self.encodes
        vectors = history_vectors if self.uses_history else np.zeros((1, dim), np.float32)
        self.history_vectors = tf.Variable(vectors, trainable=False)
        # Transposed, [dim, n_items], as FactorScorer's: the faster CPU product.
        self.item_columns = tf.Variable(np.ascontiguousarray(item_vectors.T), trainable=False)
        self.prior = tf.Variable(np.asarray(prior, np.float32), trainable=False)
        self.sources, self.feature_specs, self.context_specs = [], {}, {}
        for source in ("user", "context"):
            time = source == "context" and schema.context_time
            if module is not None and (schema.of(source) or time):
                specs = input_specs(schema.of(source), time)
                self.sources.append((source, tuple(specs)))
                self.feature_specs.update(specs)
                if source == "context" and not normalize:
                    self.context_specs = specs
        self.context_keys = tuple(self.context_specs)
        self.reads_user_features = bool(module is not None and schema.of("user"))

    def context_scores(self, features: dict):
        """[batch, n_items] the context term ``X ψ(x) · c(i)`` of known users' scores."""
        term = self.module.context({key: features[key] for key in self.context_keys})
        return tf.matmul(term, self.item_columns)

    def score_windows(self, windows, features: dict):
        """Scores of each row of ``windows`` (item column + 1, 0 pads on the left)."""
        batch = tf.shape(windows)[0]
        queries = tf.zeros([batch, tf.shape(self.item_columns)[0]], tf.float32)
        if self.encodes:
            queries += self.module.history(windows)
        if self.uses_history:
            age = tf.range(self.max_len - 1, -1, -1, dtype=tf.float32)
            weights = tf.cast(windows > 0, tf.float32) * tf.pow(self.decay, age)[None, :]
            embedded = tf.gather(self.history_vectors, tf.maximum(windows - 1, 0))
            total = tf.reduce_sum(embedded * weights[:, :, None], axis=1)
            queries += total / tf.maximum(tf.reduce_sum(weights, 1, keepdims=True), 1.0)
        for source, keys in self.sources:
            queries += getattr(self.module, source)({key: features[key] for key in keys})
        if self.normalize:
            queries = tf.math.l2_normalize(queries, axis=1)
        return tf.matmul(queries, self.item_columns) + self.prior[None, :]

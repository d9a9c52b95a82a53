"""New users and request context for the two-tower models: queries from what a request brings.

A user absent from training is served from the items they bring and, when
the model read them, their features and the request's context:

    q = Σ_j d^j h_{i(-1-j)} / Σ_j d^j + U φ(f_u) + X ψ(x)        (j < history)

(an lstm / gru encoder's last state instead of the mean), scored against
the candidate vectors as known users are. A known user's query plus the
context term ``X ψ(x)`` answers ``recommend(..., context=...)``. What the
query needs besides numpy arrays (the feature projections, a recurrent
encoder) is a ``tf.Module`` saved with the model (``QUERY_DIR``) and
reused by the export (:class:`~tfrec.models.retrieval.query_scorer.QueryScorer`).
"""

from __future__ import annotations

import numpy as np

from tfrec.features.raw import missing_values

QUERY_DIR = "query"  # new users' query parts beside the arrays (a SavedModel)


class NewUserQueries:
    """The new-user and context half of :class:`~tfrec.models.retrieval.two_tower.TwoTower`.

    Reads the fitted model's ``config``, ``item_vectors_``,
    ``history_vectors_``, ``feature_schema_``, ``query_module_`` and
    ``_item_prior()``.
    """

    def _query_module(self, tower, terms):
        """What new users' queries need besides numpy arrays, as a ``tf.Module`` saved
        with the model (``QUERY_DIR``): the feature projections (functions of raw
        values) and, with an lstm / gru encoder, ``history(windows)``; None: nothing."""
        import tensorflow as tf

        from tfrec.features.projection import projection_module

        if not terms and tower.encoder is None:
            return None
        module = projection_module(terms)
        if tower.encoder is not None:
            module.history_layers = [tower.history_items, tower.encoder]
            module.history = tf.function(
                tower.encode_windows,
                input_signature=[tf.TensorSpec([None, self.config.history], tf.int64)],
            )
        return module

    def _project(self, source: str, values: dict) -> np.ndarray:
        """The ``source`` features' term (user, context or item) of raw ``values``."""
        from tfrec.features.layer import input_specs
        from tfrec.features.projection import project
        from tfrec.features.raw import TIME_KEY

        features = self.feature_schema_.of(source)
        time = source == "context" and self.feature_schema_.context_time
        specs = input_specs(features, time)
        n = len(next(iter(values.values()))) if values else 0
        missing = missing_values(features, n, time)
        filled = {key: values.get(key, missing[key]) for key in specs}
        if time and TIME_KEY not in values:
            filled[TIME_KEY] = missing[TIME_KEY]
        return project(getattr(self.query_module_, source), filled, specs)

    def _context_scores(self, context):
        from tfrec.errors import NotSupportedError

        schema = self.feature_schema_
        if not (schema.of("context") or schema.context_time):
            raise NotSupportedError(f"{self.name} was trained without request context")
        if self.config.loss == "triplet":
            raise NotSupportedError(f"{self.name} with loss=triplet cannot add a context term")
        return self._project("context", context) @ self.item_vectors_.T

    def _reads_features(self, histories) -> bool:
        return histories.features is not None and bool(self.feature_schema_.of("user"))

    def _score_history(self, histories):
        from tfrec.models.factors import biased_dot

        c = self.config
        queries = np.zeros((len(histories), self.item_vectors_.shape[1]), np.float32)
        if c.history and c.history_encoder != "mean":
            queries += self.query_module_.history(histories.windows(c.history)).numpy()
        elif self.history_vectors_ is not None:
            window = histories.windows(c.history)  # column + 1, left-padded with 0
            decay = 1.0 if c.history_order == "bag" else c.history_decay
            weights = (window > 0) * decay ** np.arange(c.history - 1, -1, -1, dtype=np.float32)
            embedded = self.history_vectors_[np.maximum(window - 1, 0)]
            total = np.einsum("nl,nld->nd", weights, embedded)
            queries += total / np.maximum(weights.sum(axis=1, keepdims=True), 1.0)
        given = histories.features or {}
        for source in ("user", "context"):
            keys = {f.key for f in self.feature_schema_.of(source)}
            if source == "context" and self.feature_schema_.context_time:
                keys.add("timestamp")
            if keys & set(given):
                queries += self._project(source, {k: v for k, v in given.items() if k in keys})
        if c.loss == "triplet":
            queries /= np.maximum(np.linalg.norm(queries, axis=1, keepdims=True), 1e-12)
        return biased_dot(queries, None, self.item_vectors_, self._item_prior())

    def serving_history_scorer(self):
        from tfrec.models.retrieval.query_scorer import QueryScorer

        c = self.config
        return QueryScorer(
            self.history_vectors_,
            self.item_vectors_,
            self._item_prior(),
            history=c.history,
            decay=1.0 if c.history_order == "bag" else c.history_decay,
            module=self.query_module_,
            schema=self.feature_schema_,
            normalize=c.loss == "triplet",
        )

    def _save_extra(self, directory):
        import tensorflow as tf

        if self.query_module_ is not None:
            tf.saved_model.save(self.query_module_, str(directory / QUERY_DIR))

    def _load_extra(self, directory):
        from tfrec.features.projection import load_module

        self.query_module_ = None
        if (directory / QUERY_DIR).exists():
            self.query_module_ = load_module(directory / QUERY_DIR)

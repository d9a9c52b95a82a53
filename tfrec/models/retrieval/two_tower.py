"""Two-tower retrieval with tensorflow-recommenders (TFRS): score(u, i) = q(u) · c(i).

The towers are Keras layers in :mod:`~tfrec.models.retrieval.towers`, the
losses objects in :mod:`~tfrec.models.retrieval.losses`, composed into a
``tfrs.Model`` by :mod:`~tfrec.models.retrieval.model`; this module is the
Recommender: config, fit, scores and export.

Query tower: a user-ID embedding plus the recency-weighted mean embedding of
the user's last ``history`` items (before each training interaction; at
serving time the user's last training items). On a log without timestamps
the order of a user's items means nothing: the query is then the plain mean
of the user's training items (a bag, the training positive left out; FISM,
Kabbur et al. 2013), without the user embedding (``history_order``).
Candidate tower: an item-ID embedding plus a learned projection of the
item's genre multi-hot (a constant table inside the model).

Features (``use_features``): when the dataset has typed features
(``--user-features``, ``--item-features``, ``--context-features``,
``--context-time``; :mod:`tfrec.data.feature_schema`), the query adds a
projection of the user's features and of each interaction's context, the
candidate one of the item's features (:mod:`tfrec.features.layer`). New
users are served from their items and features, ``c(i)`` unchanged, the query

    q = Σ_j d^j h_{i(-1-j)} / Σ_j d^j + U φ(f_u) [+ X ψ(x)]     (j < history)

the known users' ``e_u`` being unknown for them. Trained on the training interactions as
implicit positives (an ``lstm`` / ``gru`` history encoder reads them in
windows: ``stride``) with

* ``loss="softmax"`` (default): ``tfrs.tasks.Retrieval``, in-batch sampled
  softmax, with the log-q correction for popular items (``logq``);
* ``loss="triplet"``: margin ranking loss on cosine similarity against one
  uniformly sampled unseen item per positive.

Each positive's term of the loss is weighted by the interaction's confidence
(Hu, Koren & Volinsky 2008; :mod:`tfrec.models.weighting`) when the log has
strengths (play counts, hours):

    L = Σ_b c_b ℓ_b,    c_b = 1 + alpha * log(1 + w_b)    (weighting="log")

with ``c_b = 1`` under ``weighting="binary"``, the default.

Early stopping keeps the epoch with the best validation NDCG@10 (full
ranking, the user's training items excluded); ``tfrs.metrics.FactorizedTopK``
on the validation pairs is logged beside it. The log-q correction takes the
popularity prior out of training, so scores add it back with a weight
(``popularity_weight``) chosen on validation NDCG@10. The export's
``recommend`` takes the top k of every item's score (``index="scann"``:
queries TFRS's ScaNN index) and drops the user's training items.
"""

from __future__ import annotations

import json

import numpy as np

from tfrec.data.feature_schema import FeatureSchema
from tfrec.models.base import Recommender
from tfrec.models.retrieval.config import LARGE_TABLES, TwoTowerConfig
from tfrec.models.retrieval.new_users import NewUserQueries
from tfrec.models.weighting import confidence_matrix

POPULARITY_WEIGHTS = (0.0, 0.1, 0.2, 0.3, 0.5, 1.0)


def _describe(term) -> str:
    """``"user_features: age (numeric), country (category)"``."""
    encoder = term.encoder
    names = [f"{f.name} ({f.type})" for f in encoder.features]
    if encoder.time:
        names.append("hour and weekday")
    return f"{encoder.name}: {', '.join(names)}"


TFRS_METRIC_PAIRS = 20_000  # validation pairs of the logged FactorizedTopK metrics


def smallest_within(scores: dict[float, float], tolerance: float) -> float:
    """The smallest key whose score is at least ``(1 - tolerance)`` times the best score.

    Args:
        scores: Score (validation NDCG@10) of each candidate weight.
        tolerance: Relative shortfall from the best that still counts as a tie
            (0: the best weight; among equal bests, the smallest).
    """
    best = max(scores.values())
    return min(key for key, score in scores.items() if score >= (1 - tolerance) * best)


class TwoTower(NewUserQueries, Recommender):
    """TFRS two-tower retrieval: user ID + recent items -> item ID + genres (a ranking model)."""

    name = "two_tower"
    Config = TwoTowerConfig
    predicts_ratings = False
    trains_by_epochs = True
    chosen_on_validation = ("popularity_weight",)
    strategies = ("mirrored", "multi-worker", "parameter-server")
    similar_items_supported = True
    parallel_scoring = True
    serves_new_items = True  # candidate vectors from genres alone (G g_i)
    serves_new_users = True  # queries from the items (and features) a user brings
    reads_features = ("user", "item", "context")

    def _fit(self, data, split, options) -> None:
        import tf_keras as keras

        from tfrec.data.prepare.stream import sequence_input
        from tfrec.distribute import is_parameter_server, print_shards
        from tfrec.features.content import genre_multi_hot, genre_names
        from tfrec.models.retrieval.feature_terms import feature_terms
        from tfrec.models.retrieval.model import retrieval_model
        from tfrec.models.training.ranking_stopping import fit_with_ranking
        from tfrec.sequences import UserSequences

        n_items = len(data.item_ids)
        rows = len(data.user_ids) + n_items * (2 if self.config.history else 1)
        new_users = getattr(split, "given", None) is not None
        self.config = c = self.config.for_interactions(len(data.users), rows).for_dataset(
            split.dataset, new_users
        )
        if options.verbose:
            print(
                f"{self.name}: history {c.history} ({c.history_order} order, user embedding "
                f"{'on' if c.user_embedding else 'off'}), embedding_dim {c.embedding_dim}, "
                f"stride {c.stride if c.windowed else 1}, "
                f"batch_size {c.batch_size}, negatives "
                f"{c.negatives or 'in-batch'}, optimizer {c.optimizer} "
                f"({len(data.users):,} interactions, {rows:,} table rows)"
            )
        if c.index != "brute_force":
            from tfrec.models.retrieval.index import make_index

            make_index(c.index)  # fails now, not after training, when it cannot be built
        keras.utils.set_random_seed(c.seed)
        items = split.dataset.items
        self.genre_names_ = genre_names(items, data.item_ids) if c.use_genres else []
        genres = genre_multi_hot(items, data.item_ids, self.genre_names_) if c.use_genres else None
        sequences = UserSequences.from_interactions(data)
        terms = {}
        if c.use_features:
            terms = feature_terms(
                split.dataset,
                split.train,
                data,
                sequences,
                dim=c.embedding_dim,
                dropout=c.feature_dropout,
                seed=c.seed,
            )
        if terms and options.verbose:
            print(f"{self.name}: features " + "; ".join(_describe(t) for t in terms.values()))
        model = retrieval_model(
            c,
            len(data.user_ids),
            n_items,
            genres,
            self.popularity_,
            sequences,
            self._sequence_confidence(data, sequences),
            terms,
            validation_metrics=options.strategy is None,
        )
        self.feature_schema_ = split.dataset.features if terms else FeatureSchema()
        model.build_variables()
        if options.verbose and is_parameter_server(options.strategy):
            towers = {
                "users": model.query_tower.users,
                "history_items": model.query_tower.history_items,
                "items": model.candidate_tower.items,
            }
            tables = {n: t.embeddings for n, t in towers.items() if t is not None and t.built}
            print_shards(self.name, tables)
        self.query_module_ = self._query_module(model.query_tower, terms)
        if c.optimizer == "lazy_adam":
            from tfrec.models.training.lazy_adam import LazyAdam

            optimizer = LazyAdam(c.learning_rate)
        else:
            optimizer = keras.optimizers.Adam(c.learning_rate)
            if rows > LARGE_TABLES and options.verbose:
                print(
                    f"note: {self.name}'s tables have {rows:,} rows and adam updates all of "
                    "them at every step; --set optimizer=lazy_adam updates only the rows "
                    "in the batch (much faster on large catalogues)"
                )
        model.compile(optimizer=optimizer)
        # Early stopping on cold validation users scores them with the prior off.
        self.log_popularity_ = self._log_popularity(self.popularity_)
        self.popularity_weight_ = 0.0
        if c.windowed:
            batch_size = max(c.batch_size // c.window_stride, 1)

            def examples(s):  # every interaction a positive, a user's first too
                return s.windows(c.window_stride, first_targets=True)

            per_user = sequences.window_counts(c.window_stride, first_targets=True)
        else:
            batch_size, per_user = c.batch_size, sequences.ends - sequences.starts

            def examples(s):
                return {**s.columns(), "end": s.ends[s.users]}

        make_train, steps, per_worker = sequence_input(
            self.name,
            split,
            data,
            options,
            sequences,
            examples,
            per_user,
            batch_size,
            c.seed,
            c.epochs,
        )
        fit_with_ranking(
            self,
            options,
            model,
            make_train,
            steps,
            len(data.users),
            split.validation,
            lambda: self._take(model, sequences),
            self._raw_scores,
            self._validation_batches(split.validation, sequences),
            given=(getattr(split, "given", None) or {}).get("validation"),
            dataset=split.dataset,
            per_worker=per_worker,
        )
        self.popularity_weight_ = self._choose_popularity_weight(split, options.verbose)

    def _sequence_confidence(self, data, sequences) -> np.ndarray | None:
        """Each sequence position's confidence (the loss's example weight), or
        None when every interaction weighs 1."""
        c = self.config
        if data.weights is None or c.weighting == "binary":
            return None
        by_pair = confidence_matrix(data, c.weighting, c.alpha)
        return np.asarray(by_pair[sequences.users, sequences.items]).ravel()

    def _validation_batches(self, validation, sequences):
        """Validation pairs for the TFRS metrics: the query reads the user's
        last training items, as at serving time. These metrics are logged,
        not used for stopping, and each batch streams the whole catalogue
        through the candidate tower, so at most ``TFRS_METRIC_PAIRS`` pairs
        (a seeded sample) are used."""
        import tensorflow as tf

        if validation is None or len(validation) == 0:
            return None
        users, items, ok = self.known_pairs(validation)
        users, items = users[ok], items[ok]
        if len(users) == 0:
            return None
        if len(users) > TFRS_METRIC_PAIRS:
            rng = np.random.default_rng(self.config.seed)
            keep = np.sort(rng.choice(len(users), TFRS_METRIC_PAIRS, replace=False))
            users, items = users[keep], items[keep]
        columns = {
            "user": users,
            "item": items,
            "position": sequences.ends[users],
            "start": sequences.starts[users],
        }
        return tf.data.Dataset.from_tensor_slices(columns).batch(self.config.batch_size)

    def _choose_popularity_weight(self, split, verbose: bool) -> float:
        """The popularity weight with the best validation NDCG@10 (see
        ``popularity_tolerance``), on the validation users, or the validation
        cold users from what they bring (split ``cold-users``)."""
        from tfrec.models.training.ranking_stopping import ValidationRanking

        if self.config.popularity_weight is not None:
            return float(self.config.popularity_weight)
        given = (getattr(split, "given", None) or {}).get("validation")
        ranking = ValidationRanking(self, split.validation, None, None, given, split.dataset)
        if not ranking.active:
            return 0.0
        raw = self._raw_scores
        if ranking.histories is not None:
            self.popularity_weight_ = 0.0  # _score_history adds the prior

            def raw(rows):
                return self._score_history(ranking.histories[rows])

        ndcg = {
            weight: ranking.measure(lambda rows, w=weight: raw(rows) + w * self.log_popularity_)[
                "val_ndcg@10"
            ]
            for weight in POPULARITY_WEIGHTS
        }
        chosen = smallest_within(ndcg, self.config.popularity_tolerance)
        if verbose:
            print(
                f"popularity_weight {chosen} chosen on validation (NDCG@10 {ndcg[chosen]:.4f}, "
                f"best {max(ndcg.values()):.4f})"
            )
        return chosen

    def refit_options(self) -> dict:
        sized = {key: getattr(self.config, key) for key in self.config.SIZE_CHOSEN}
        return {**super().refit_options(), **sized, "popularity_weight": self.popularity_weight_}

    def _take(self, model, sequences):
        normalize = self.config.loss == "triplet"  # the model ranks by cosine similarity
        self.user_vectors_, self.item_vectors_ = model.export_vectors(sequences, normalize)
        history = model.query_tower.history_items
        self.history_vectors_ = None if history is None else history.embeddings.numpy()
        projection = model.candidate_tower.genres
        self.genre_projection_ = None if projection is None else projection.kernel.numpy()

    # ---- new items: c(i) = G g_i -------------------------------------------------------------

    def _content_vectors(self, items) -> np.ndarray:
        """Candidate vectors of items from their content alone: ``G g_i`` plus the
        item features' term."""
        from tfrec.errors import NotSupportedError
        from tfrec.features.content import genre_multi_hot
        from tfrec.features.raw import raw_values

        item_features = self.feature_schema_.of("item")
        if self.genre_projection_ is None and not item_features:
            raise NotSupportedError(
                f"{self.name} with use_genres=false has no content to embed a new item from"
            )
        vectors = np.zeros((len(items), self.item_vectors_.shape[1]), np.float32)
        if self.genre_projection_ is not None:
            genres = genre_multi_hot(items, items["item_id"].to_numpy(), self.genre_names_)
            vectors += genres @ self.genre_projection_
        if item_features:
            vectors += self._project("item", raw_values(item_features, items))
        if self.config.loss == "triplet":
            vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return vectors.astype(np.float32)

    def _log_popularity(self, counts: np.ndarray) -> np.ndarray:
        """log(count / training total), a count below 1 taken as 1 (new items: 0)."""
        total = max(float(self.popularity_.sum()), 1.0)
        return np.log(np.maximum(counts, 1.0) / total).astype(np.float32)

    def new_item_scorer(self, items):
        vectors = self._content_vectors(items)
        prior = self.popularity_weight_ * self._log_popularity(np.zeros(len(items)))
        return lambda rows: self.user_vectors_[rows] @ vectors.T + prior

    def _add_items(self, items):
        self.item_vectors_ = np.concatenate([self.item_vectors_, self._content_vectors(items)])
        self.log_popularity_ = np.concatenate(
            [self.log_popularity_, self._log_popularity(np.zeros(len(items)))]
        )

    def _raw_scores(self, users):
        return self.user_vectors_[users] @ self.item_vectors_.T

    def _item_prior(self):
        return self.popularity_weight_ * self.log_popularity_

    def _score(self, users):
        from tfrec.models.factors import biased_dot

        return biased_dot(self.user_vectors_[users], None, self.item_vectors_, self._item_prior())

    def _predict(self, users, items):
        dot = np.einsum("ij,ij->i", self.user_vectors_[users], self.item_vectors_[items])
        return dot + self._item_prior()[items]

    def item_embeddings(self):
        return self.item_vectors_

    def serving_scorer(self, seen):
        from tfrec.models.retrieval.index import IndexScorer

        return IndexScorer(
            self.user_vectors_, self.item_vectors_, self._item_prior(), self.config.index
        )

    def _arrays(self):
        arrays = {
            "user_vectors": self.user_vectors_,
            "item_vectors": self.item_vectors_,
            "log_popularity": self.log_popularity_,
            "popularity_weight": np.float64(self.popularity_weight_),  # exact, for refit
            "genre_names": np.asarray(self.genre_names_, dtype=str),
        }
        if self.genre_projection_ is not None:
            arrays["genre_projection"] = self.genre_projection_
        if self.history_vectors_ is not None:
            arrays["history_vectors"] = self.history_vectors_
        arrays["feature_schema"] = np.asarray(json.dumps(self.feature_schema_.to_dict()))
        return arrays

    def _load_arrays(self, arrays):
        self.user_vectors_, self.item_vectors_ = arrays["user_vectors"], arrays["item_vectors"]
        self.log_popularity_ = arrays["log_popularity"]
        self.popularity_weight_ = float(arrays["popularity_weight"])
        self.genre_names_ = [str(name) for name in arrays["genre_names"]]
        self.genre_projection_ = arrays.get("genre_projection")
        self.history_vectors_ = arrays.get("history_vectors")
        self.feature_schema_ = FeatureSchema.from_dict(json.loads(str(arrays["feature_schema"])))

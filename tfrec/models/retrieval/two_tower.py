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
``recommend`` queries a ``tfrs.layers.factorized_top_k.BruteForce`` index
(``index="scann"`` for ScaNN) and drops the user's training items.
"""

from __future__ import annotations

import dataclasses
import json
from typing import ClassVar

import numpy as np

from tfrec.data.feature_schema import FeatureSchema
from tfrec.errors import ConfigError, check_choice, check_non_negative, check_positive_int
from tfrec.features.raw import missing_values
from tfrec.models.base import ModelConfig, Recommender
from tfrec.models.weighting import check_weighting, confidence_matrix

INDEXES = ("brute_force", "scann")
HISTORY_ORDERS = ("time", "bag")
OPTIMIZERS = ("adam", "lazy_adam")
# Embedding rows above which dense Adam's per-step full-table update costs more than
# lazy_adam's row updates (and is worth a warning when asked for).
LARGE_TABLES = 100_000
# Training interactions from which the config's LARGE_DATA settings apply.
LARGE_DATA_INTERACTIONS = 10_000_000


@dataclasses.dataclass
class TwoTowerConfig(ModelConfig):
    """Options of the two-tower model.

    The options that decide what an epoch costs (``embedding_dim``,
    ``stride``, ``batch_size``, ``negatives``, ``optimizer``) default to
    ``None``: :meth:`for_interactions` sets them at fit time from the number
    of training interactions, to ``SMALL_DATA`` below
    ``LARGE_DATA_INTERACTIONS`` of them and to ``LARGE_DATA`` from there on.
    Below that size ``SMALL_DATA`` scored higher on validation NDCG@10; at
    25M ratings ``LARGE_DATA`` (64-d) scored 0.0655 against 0.0693 for
    ``SMALL_DATA``, with an epoch a quarter as long (docs/scaling.md). The
    fitted model's config holds the values it used.

    ``history_order`` and ``user_embedding`` default to ``None`` too:
    :meth:`for_dataset` sets them from ``dataset.has_timestamps``. With
    timestamps the history is the items before each positive (``time``) and
    the user embedding is on; without, a position says nothing about what
    came before (a file's order may even be sorted by item or by hours), so
    the query is the mean of the user's other training items (``bag``),
    without a user embedding. Validation NDCG@10, random split, seed 0
    (docs/results.md, "Defaults across domains"): steam-hours bag 0.3055,
    bag + user embedding 0.2746, time + user embedding (before) 0.2868,
    no history 0.2974; synthetic-music 0.1845, 0.1749 with time + user
    embedding. ``weighting`` stays ``binary``: on steam-hours ``log``
    scored 0.3024 against 0.3055.

    Attributes:
        embedding_dim: Size of the query and candidate embeddings. ``None``:
            by data size.
        loss: ``softmax`` (in-batch, TFRS Retrieval) or ``triplet``.
        logq: Log-q popularity correction of the in-batch softmax.
        use_genres: Add the genre multi-hot to the candidate tower.
        history: Add to the query the mean embedding of the user's last
            ``history`` items before each training interaction (0: user-ID
            embedding only). Served users read their last ``history``
            training items.
        history_decay: Weight of the j-th most recent history item is
            ``history_decay ** j`` (1: a plain mean).
        history_encoder: How the history becomes a vector: ``mean`` (the
            weighted mean above), or an ``lstm`` / ``gru`` over the history
            embeddings, oldest first, then a dense layer.
        stride: Training targets per window of a user's consecutive
            positives (:mod:`tfrec.sequences`; 1: one query per
            interaction). The ``mean`` encoder reads a window's ``history +
            stride - 1`` items once and gives each target its exact query,
            so the queries are those of stride 1 at a fraction of the
            embedding reads; batches then hold ``stride`` positives of
            each user they draw. An ``lstm`` / ``gru`` encoder reads windows
            of ``history`` items ``stride`` positions apart, and its state at
            each of a window's last ``stride`` positions is the query of the
            next item (above ``history`` it acts as ``history``). A window's
            other targets are left out of each of its queries' in-batch
            negatives. ``None``: by data size (``SMALL_DATA`` /
            ``LARGE_DATA``).
        history_order: ``time`` (the items before each positive, the newest
            weighted most) or ``bag`` (every query reads the user's last
            ``history`` training items as stored, unweighted; a training
            positive leaves itself out; no windows, so ``stride`` is
            unused). ``None``: ``time`` when the dataset has timestamps,
            else ``bag``.
        user_embedding: Include the user-ID embedding in the query.
            ``None``: with the ``time`` order (or without a history), not
            with ``bag``.
        popularity_weight: Weight of the log training popularity added to
            every score (the prior that the log-q correction takes out of
            training). ``None``: chosen on validation NDCG@10 from
            ``POPULARITY_WEIGHTS`` (0 without validation data; see
            ``popularity_tolerance``).
        popularity_tolerance: How the popularity weight is chosen: the
            smallest weight whose validation NDCG@10 is at least ``(1 -
            popularity_tolerance)`` times the best weight's. A larger weight
            narrows the recommendations to popular items, so a tolerance
            trades a little validation NDCG@10 for catalogue coverage.
            Default 0, the best weight: 0.005, seeds 0-2, picked weights 0,
            0.1, 0.1 on steam-hours (was 0.2, 0.3, 0.2; test coverage@10
            0.140 -> 0.161, NDCG@10 0.3080 -> 0.3090) but 0 on
            ml-latest-small seed 0, where validation ties 0 with 0.5 and
            test does not (mean test NDCG@10 0.0774 -> 0.0750, HR@10
            0.3481 -> 0.3366).
        weighting: How an interaction's strength (``data.weights``: play
            counts, hours) weighs its positive in the loss:
            ``binary`` (all 1), ``log`` or ``raw``
            (:func:`tfrec.models.weighting.confidence`).
        alpha: Scale of the strength in the confidence.
        index: Top-k index of the export's ``recommend``: ``brute_force``
            (``tfrs.layers.factorized_top_k.BruteForce``, exact) or ``scann``
            (approximate; needs the ``scann`` package built for this
            TensorFlow).
        negatives: Softmax negatives shared by a batch: its first
            ``negatives`` positives (0: all, the in-batch softmax; fewer cost
            less per step: ``batch x negatives`` instead of ``batch²``).
            ``None``: by data size.
        uniform_negatives: Items drawn uniformly from the catalogue per batch
            as extra softmax negatives (mixed negative sampling).
        margin: Triplet margin.
        use_features: Read the dataset's user, item and context features
            when it has them (:mod:`tfrec.models.retrieval.feature_terms`).
        feature_dropout: Probability that a training query drops its user
            features' term, and (separately) its context's term, so that a
            request without them is a query training has seen.
        id_dropout: Probability that a training positive's candidate drops its
            item-ID embedding (content only), so that the genre path learns
            to embed items alone; new items (``--split cold-items``,
            ``tfrec export --items``) are always embedded from their genres.
        l2: L2 weight on the embedding tables: on the whole tables with
            ``adam`` (logged as ``regularization_loss``); with ``lazy_adam``
            on the user, history and positive-item rows each batch reads
            (summed over the batch; part of the logged ``loss``).
        optimizer: ``adam`` (tf_keras Adam: every step updates every row of
            every table) or ``lazy_adam`` (:mod:`tfrec.models.training.lazy_adam`:
            only the rows in the batch; for large catalogues, where ``adam``
            takes hours per epoch). ``None``: ``lazy_adam`` when the tables
            hold more than ``LARGE_TABLES`` rows, else ``adam``.
        learning_rate: Adam learning rate.
        batch_size: Positives per step (``batch_size // stride`` windows with
            an ``lstm`` / ``gru`` encoder). ``None``: by data size.
        epochs: Maximum epochs.
        patience: Epochs without validation NDCG@10 improvement before stopping.
        seed: Seed of initialisation and shuffling.
    """

    tuning_grid: ClassVar[dict[str, list]] = {
        "embedding_dim": [64, None],  # None: by data size (128 below LARGE_DATA_INTERACTIONS)
        "history_decay": [0.8, 0.9],
    }
    # The size-chosen options below and from LARGE_DATA_INTERACTIONS training interactions.
    SMALL_DATA: ClassVar[dict] = {
        "embedding_dim": 128, "stride": 8, "batch_size": 1024, "negatives": 0
    }  # fmt: skip
    LARGE_DATA: ClassVar[dict] = {
        "embedding_dim": 64, "stride": 32, "batch_size": 4096, "negatives": 256
    }  # fmt: skip
    SIZE_CHOSEN: ClassVar[tuple[str, ...]] = (
        "embedding_dim", "stride", "batch_size", "negatives", "optimizer"
    )  # fmt: skip

    embedding_dim: int | None = None
    loss: str = "softmax"
    logq: bool = True
    use_genres: bool = True
    history: int = 50
    history_decay: float = 0.9
    history_encoder: str = "mean"
    history_order: str | None = None
    stride: int | None = None
    user_embedding: bool | None = None
    popularity_weight: float | None = None
    popularity_tolerance: float = 0.0
    weighting: str = "binary"
    alpha: float = 1.0
    index: str = "brute_force"
    negatives: int | None = None
    uniform_negatives: int = 0
    margin: float = 0.5
    use_features: bool = True
    feature_dropout: float = 0.2
    id_dropout: float = 0.0
    l2: float = 1e-5
    optimizer: str | None = None
    learning_rate: float = 5e-3
    batch_size: int | None = None
    epochs: int = 30
    patience: int = 3
    seed: int = 0

    def for_interactions(self, n_interactions: int, n_rows: int) -> TwoTowerConfig:
        """This config with the size-chosen options that are ``None`` set.

        Args:
            n_interactions: Training interactions.
            n_rows: Rows of the embedding tables (users + items, twice the
                items with a history).
        """
        chosen = self.LARGE_DATA if n_interactions >= LARGE_DATA_INTERACTIONS else self.SMALL_DATA
        chosen = {**chosen, "optimizer": "lazy_adam" if n_rows > LARGE_TABLES else "adam"}
        return dataclasses.replace(
            self, **{key: value for key, value in chosen.items() if getattr(self, key) is None}
        )

    def for_dataset(self, dataset, new_users: bool = False) -> TwoTowerConfig:
        """This config with ``history_order`` and ``user_embedding`` set, where ``None``,
        from ``dataset.has_timestamps``: ``time`` and a user embedding with
        timestamps, ``bag`` and none without. With ``new_users`` (split
        ``cold-users``: the model is judged on users it has no embedding for)
        the query is trained as it will serve them, without a user embedding."""
        order = self.history_order or ("time" if dataset.has_timestamps else "bag")
        user_embedding = self.user_embedding
        if user_embedding is None:
            user_embedding = (order == "time" and not new_users) or not self.history
        return dataclasses.replace(self, history_order=order, user_embedding=user_embedding)

    @property
    def windowed(self) -> bool:
        """Whether training reads history windows (an lstm / gru query tower, or a stride)."""
        if not self.history or self.history_order == "bag":
            return False
        return self.history_encoder != "mean" or self.stride > 1

    @property
    def window_stride(self) -> int:
        """The stride training windows are read at (an lstm / gru's at most ``history``)."""
        return self.stride if self.history_encoder == "mean" else min(self.stride, self.history)

    def validate(self):
        check_choice("loss", self.loss, ("softmax", "triplet"))
        check_weighting(self.weighting, self.alpha, 1.0)
        check_choice("index", self.index, INDEXES)
        if self.optimizer is not None:
            check_choice("optimizer", self.optimizer, OPTIMIZERS)
        check_choice("history_encoder", self.history_encoder, ("mean", "lstm", "gru"))
        if self.history_order is not None:
            check_choice("history_order", self.history_order, HISTORY_ORDERS)
        if not self.history and self.user_embedding is False:
            raise ConfigError("the query tower needs user_embedding=true or history > 0")
        for name in ("embedding_dim", "batch_size", "epochs", "stride"):
            if getattr(self, name) is not None:
                check_positive_int(name, getattr(self, name))
        for name in ("history", "history_decay", "margin", "l2", "learning_rate", "patience",
                     "negatives", "uniform_negatives"):  # fmt: skip
            if getattr(self, name) is not None:
                check_non_negative(name, getattr(self, name))
        if self.popularity_weight is not None:
            check_non_negative("popularity_weight", self.popularity_weight)
        if not 0 <= self.popularity_tolerance < 1:
            raise ConfigError(
                f"popularity_tolerance must be in [0, 1); got {self.popularity_tolerance}"
            )
        for name in ("id_dropout", "feature_dropout"):
            if not 0 <= getattr(self, name) < 1:
                raise ConfigError(f"{name} must be in [0, 1); got {getattr(self, name)}")


QUERY_DIR = "query"  # new users' query parts beside the arrays (a SavedModel)
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


class TwoTower(Recommender):
    """TFRS two-tower retrieval: user ID + recent items -> item ID + genres (a ranking model)."""

    name = "two_tower"
    Config = TwoTowerConfig
    predicts_ratings = False
    trains_by_epochs = True
    chosen_on_validation = ("popularity_weight",)
    strategies = ("mirrored", "multi-worker")
    similar_items_supported = True
    parallel_scoring = True
    serves_new_items = True  # candidate vectors from genres alone (G g_i)
    serves_new_users = True  # queries from the items (and features) a user brings
    reads_features = ("user", "item", "context")

    def _fit(self, data, split, options) -> None:
        import tf_keras as keras

        from tfrec.features.content import genre_multi_hot, genre_names
        from tfrec.models.retrieval.feature_terms import feature_terms
        from tfrec.models.retrieval.model import retrieval_model
        from tfrec.models.training.ranking_stopping import fit_with_ranking
        from tfrec.pipelines import steps_per_epoch, training_dataset
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
        )
        self.feature_schema_ = split.dataset.features if terms else FeatureSchema()
        model.build_variables()
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
            # Every interaction is a positive, a user's first after an empty history.
            columns = sequences.windows(c.window_stride, first_targets=True)
        else:
            batch_size, columns = c.batch_size, sequences.columns()
            columns["end"] = sequences.ends[sequences.users]
        fit_with_ranking(
            self,
            options,
            model,
            lambda: training_dataset(columns, batch_size, c.seed, c.epochs),
            steps_per_epoch(len(columns["user"]), batch_size),
            len(data.users),
            split.validation,
            lambda: self._take(model, sequences),
            self._raw_scores,
            self._validation_batches(split.validation, sequences),
            given=(getattr(split, "given", None) or {}).get("validation"),
            dataset=split.dataset,
        )
        self.popularity_weight_ = self._choose_popularity_weight(split, options.verbose)

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

    # ---- new users: q = recent items' mean + U φ(f_u) [+ X ψ(x)] -------------------------------

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

    def _arrays(self):
        arrays = {
            "user_vectors": self.user_vectors_,
            "item_vectors": self.item_vectors_,
            "log_popularity": self.log_popularity_,
            "popularity_weight": np.float32(self.popularity_weight_),
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

    def _save_extra(self, directory):
        import tensorflow as tf

        if self.query_module_ is not None:
            tf.saved_model.save(self.query_module_, str(directory / QUERY_DIR))

    def _load_extra(self, directory):
        from tfrec.features.projection import load_module

        self.query_module_ = None
        if (directory / QUERY_DIR).exists():
            self.query_module_ = load_module(directory / QUERY_DIR)

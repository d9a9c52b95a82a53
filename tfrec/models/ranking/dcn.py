"""DCN-v2, the Deep & Cross Network (Wang et al., WWW 2021): a feature-crossing ranker.

The input vector concatenates everything the content DNN reads
(:mod:`tfrec.models.rating.dnn`): user and item ID embeddings p_u, q_i, the
item's genre multi-hot and tag TF-IDF, and the encoded user and item
features e_U(f_u), e_I(g_i) when the dataset has them:

    x_0 = [p_u | q_i | c_i | e_U(f_u) | e_I(g_i) | h_u (| τ_i(t)) (| e_X(x))]

and the user's behaviour, h_u = the mean of a second embedding table over
the user's last ``history`` items *before* the example (the training pair's
own time; at serving, after all the user's training items), so that the
crosses relate the candidate to what the user did lately (as the history
features of YouTube's and DIN's rankers; never the target itself). With
``trend_windows`` W_1..W_K (days), x_0 also holds the candidate's popularity
trend at the example's time t (the pair's own; at serving, just after the
user's last training interaction; :class:`~tfrec.models.ranking.trend.ItemTrend`):

    τ_i(t) = [log1p n_i(t - W_k, t) for each k | log1p n_i(-∞, t) | log1p age_i(t) in days] / 5

with n_i(a, b) the training interactions with i in [a, b) (strictly before
the pair: never the target's own), so that the ranker knows what was rising
when the user acted, which ID embeddings fitted on all of train do not.
When the log has context features (device, ``context_time``...: what each
interaction came with), x_0 also holds their encoding e_X(x) =
[k_x · enc(x) | 1 - k_x], k_x = 0 for a request without context
(:mod:`~tfrec.models.ranking.context`): training pairs read their own
interaction's context (a share ``context_dropout`` of them none), and
``recommend(..., context=...)`` and the SavedModel's ``recommend_context``
and ``rank_context`` the request's.

Cross layers learn explicit, bounded-degree feature interactions
(:mod:`tfrec.models.ranking.cross`):

    x_{l+1} = x_0 ⊙ (W_l x_l + b_l) + x_l,     W_l full rank or V_l U_l^T

and a deep ReLU MLP the implicit ones, stacked (MLP on x_L) or parallel
(MLP on x_0 beside the cross network). The output z = w · h + b is read by
the task:

* ``rating`` (explicit data): r̂ = low + (high - low) σ(z), trained with the
  squared error; early stopping and learning-rate halving on validation RMSE.
* ``ranking`` (implicit data, and the ranking stage of a cascade on any
  data): p(u interacts with i) = σ(z), trained with binary cross-entropy on
  the training pairs (label 1) and ``negatives`` unseen items per pair
  (label 0) (``loss="softmax"``: z itself, with the listwise softmax
  cross-entropy -log(e^{z_ui} / (e^{z_ui} + Σ_j e^{z_uj})) of each positive
  against its own negatives j), re-drawn every epoch with probability ∝ popularity ^
  ``negative_power`` (0: uniform); a pair's strength (plays, hours) weighs
  c_ui in the loss (:mod:`tfrec.models.weighting`), and with
  ``recent_half_life`` h a pair p places before its user's last of n
  weighs 2^(-p / (h n)) more (scaled to mean 1), the recent items counting more. Early stopping on
  validation NDCG@10 (of at most 20M / n_items validation users, at least
  500: the network scores every item of each). In a cascade, a share of the negatives may come from
  the retrieval model's candidates (:meth:`DCN.with_hard_negatives`).

``recommend`` scores the whole catalogue (fine at MovieLens sizes); as the
second stage of a ``cascade`` it scores only the retrieval model's
candidates. New items get the mean item embedding and their own content and
features, as in the DNN.

Reference: R. Wang, R. Shivanna, D. Cheng, S. Jain, D. Lin, L. Hong and
E. Chi, "DCN V2: Improved Deep & Cross Network and Practical Lessons for
Web-scale Learning to Rank Systems", WWW 2021.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np

from tfrec.errors import (
    ConfigError,
    NotSupportedError,
    check_choice,
    check_non_negative,
    check_positive_int,
)
from tfrec.models.ranking.context import RequestContext
from tfrec.models.ranking.cross import STRUCTURES
from tfrec.models.rating.dnn import DNN, DNNConfig
from tfrec.models.weighting import check_weighting, confidence
from tfrec.tuning.space import Range

TASKS = ("auto", "rating", "ranking")
LOSSES = ("bce", "softmax")
# (user, item) pairs the network scores per validation (all items of each user
# ranked): at 100k items, 500 users (the floor); on ml-latest-small, every user.
_VALIDATION_PAIRS = 20_000_000


@dataclasses.dataclass
class DCNConfig(DNNConfig):
    """Options of DCN-v2 (those of the DNN, plus the cross network and the task).

    Attributes:
        cross_layers: Cross layers (0: the deep part alone, an MLP).
        projection_dim: Rank of the low-rank cross matrices; None: full rank.
        structure: ``stacked`` (cross, then deep) or ``parallel``.
        task: ``rating``, ``ranking``, or ``auto``: rating on explicit data,
            ranking on implicit data.
        negatives: Sampled unseen items per training pair (ranking).
        negative_power: Negatives are drawn ∝ popularity ** this (ranking;
            0: uniform, 1: as popular as they are).
        loss: Ranking loss: ``bce`` (each pair apart, scores are p(u, i)) or
            ``softmax`` (listwise: each positive against its own negatives,
            softmax cross-entropy over the 1 + ``negatives`` logits; scores
            are logits; no ``weighting``).
        history: The user's most recent items before each example whose mean
            embedding h_u joins x_0 (0: none).
        trend_windows: Window lengths in days of the item-trend features
            (:class:`~tfrec.models.ranking.trend.ItemTrend`: the candidate's
            training interactions in each window before the example's time,
            in all, and its age) that join x_0; empty: none. Needs
            timestamps (a dataset without them is refused).
        context_dropout: Probability that a training pair is read without its
            context (with ``use_features``, on a log with context features),
            so that requests without context are ones training has seen.
        recent_half_life: Recency weighting of the positives (ranking, bce):
            a training pair p places from its user's last of n weighs
            2 ** (-p / (recent_half_life * n)) (scaled to mean 1), so the
            recent items count more; 0: all alike.
        weighting: How a pair's strength becomes its loss weight (ranking):
            ``binary``, ``log`` or ``raw`` (:mod:`tfrec.models.weighting`).
        alpha: Scale of the strength in the confidence.
        (the rest: see :class:`~tfrec.models.rating.dnn.DNNConfig`)
    """

    tuning_grid: ClassVar[dict[str, list]] = {
        "embedding_dim": [32, 64],
        "cross_layers": [1, 2, 3],
        "structure": ["stacked", "parallel"],
    }
    tuning_ranges: ClassVar[dict] = {"dropout": Range(0.0, 0.5), "l2": Range(1e-4, 1e-1, log=True)}

    hidden_units: tuple[int, ...] = (64, 32)
    cross_layers: int = 2
    projection_dim: int | None = 32
    structure: str = "stacked"
    task: str = "auto"
    negatives: int = 4
    negative_power: float = 0.0
    history: int = 50
    trend_windows: tuple[float, ...] = ()
    recent_half_life: float = 0.0
    context_dropout: float = 0.2
    loss: str = "bce"
    weighting: str = "binary"
    alpha: float = 1.0

    def validate(self):
        super().validate()
        check_choice("structure", self.structure, STRUCTURES)
        check_choice("task", self.task, TASKS)
        check_non_negative("cross_layers", self.cross_layers)
        if isinstance(self.cross_layers, float) and not self.cross_layers.is_integer():
            raise ConfigError(f"cross_layers must be an integer >= 0; got {self.cross_layers}")
        self.cross_layers = int(self.cross_layers)
        if self.projection_dim is not None:
            check_positive_int("projection_dim", self.projection_dim)
        check_positive_int("negatives", self.negatives)
        check_non_negative("negative_power", self.negative_power)
        check_non_negative("history", self.history)
        check_non_negative("recent_half_life", self.recent_half_life)
        if not 0 <= self.context_dropout < 1:
            raise ConfigError(f"context_dropout must be in [0, 1); got {self.context_dropout}")
        self.history = int(self.history)
        self.trend_windows = tuple(float(w) for w in self.trend_windows)
        for window in self.trend_windows:
            if not window > 0:
                raise ConfigError(f"trend_windows must be positive days; got {window}")
        check_weighting(self.weighting, self.alpha, 1.0)
        check_choice("loss", self.loss, LOSSES)
        if self.loss == "softmax" and self.weighting != "binary":
            raise ConfigError(
                f"weighting {self.weighting!r} needs loss 'bce'; the softmax loss weighs "
                "every positive alike"
            )
        if self.loss == "softmax" and self.recent_half_life:
            raise ConfigError(
                "recent_half_life needs loss 'bce'; the softmax loss weighs every positive alike"
            )


class DCN(DNN):
    """Deep & Cross Network v2 over IDs, content and user and item features.

    A rating model on explicit data and a ranking model on implicit data
    (``task``); the ranking stage of ``cascade``. See the module docstring
    for the formula.
    """

    name = "dcn"
    Config = DCNConfig
    fits_implicit = True
    reads_features = ("user", "item", "context")  # with use_features, when the log has them
    context_: RequestContext | None = None  # the context features read (none: None)
    hard_candidates_: np.ndarray | None = None  # set by with_hard_negatives
    hard_share_: float = 0.0

    def _task(self, implicit: bool) -> str:
        task = self.config.task
        return ("ranking" if implicit else "rating") if task == "auto" else task

    def with_hard_negatives(self, candidates: np.ndarray, share: float) -> DCN:
        """Draws ``share`` of the ranking task's negatives from ``candidates``.

        Args:
            candidates: (n_users, N) item rows per training user row, e.g. a
                retrieval model's top N unseen items (a cascade's first stage).
            share: Probability in [0, 1] that a negative is a uniform draw from
                its user's row instead of the popularity sampler.

        Returns:
            self, to fit next.
        """
        if not 0 <= share <= 1:
            raise ConfigError(f"share must be in [0, 1]; got {share}")
        self.hard_candidates_, self.hard_share_ = np.asarray(candidates, np.int64), float(share)
        return self

    def _fit(self, data, split, options) -> None:
        if self.config.trend_windows and not split.dataset.has_timestamps:
            # Every time would be 0: no interaction before a training pair, all
            # of them at serving; the features would differ between the two.
            raise ConfigError(
                f"trend_windows needs timestamps; dataset {split.dataset.name!r} has none"
            )
        self.task_ = self._task(split.dataset.implicit)
        if self.task_ == "rating":
            super()._fit(data, split, options)
            return
        self.predicts_ratings = False
        self._fit_ranking(data, split, options)

    def _fit_ranking(self, data, split, options) -> None:
        import tf_keras as keras

        from tfrec.data.prepare.stream import streamed
        from tfrec.models.training.ranking_stopping import VALIDATION_USERS, fit_with_ranking
        from tfrec.pipelines import implicit_dataset, implicit_steps

        c = self.config
        keras.utils.set_random_seed(c.seed)
        self._prepare(data, split)
        self.model_ = self._build()
        loss = "binary_crossentropy" if c.loss == "bce" else listwise_loss(1 + c.negatives)
        self.model_.compile(keras.optimizers.Adam(c.learning_rate), loss=loss)
        n_items = len(data.item_ids)
        weights = None
        if data.weights is not None and c.weighting != "binary":
            weights = confidence(data.weights, len(data.users), c.weighting, c.alpha)
        if c.recent_half_life:
            recency = recency_weights(
                self.train_positions_, self.history_starts_, self.history_ends_, data.users
            )
            recency = recency ** (1.0 / c.recent_half_life)
            recency /= recency.mean()
            weights = recency if weights is None else weights * recency
        item_weights = None
        extra = self._extra_columns(data)
        if c.negative_power:
            item_weights = np.bincount(data.items, minlength=n_items) ** c.negative_power
        examples = len(data.users) * (1 + c.negatives)
        streams = weights is None and set(extra) <= set(self.row_columns)
        shards = streamed(self.name, split, data, options) if streams else None
        grouped = c.loss == "softmax"
        steps = implicit_steps(len(data.users), c.negatives, c.batch_size, grouped, shards)

        def make_train():
            dataset = implicit_dataset(
                data.users,
                data.items,
                n_items,
                c.negatives,
                c.batch_size,
                c.seed,
                c.epochs,
                weights,
                item_weights,
                self.hard_candidates_,
                self.hard_share_,
                extra,
                grouped=grouped,
                shards=shards,
            )
            return dataset.map(_int32_indices)

        fit_with_ranking(
            self,
            options,
            self.model_,
            make_train,
            steps,
            examples,
            split.validation,
            lambda: None,
            self._score,
            max_users=min(VALIDATION_USERS, max(500, _VALIDATION_PAIRS // n_items)),
            per_worker=shards is not None and shards.per_worker,
        )

    # ---- the user's history h_u -------------------------------------------------------------

    def _prepare(self, data, split):
        from tfrec.sequences import UserSequences

        super()._prepare(data, split)
        sequences = UserSequences.from_interactions(data)
        self.history_items_ = sequences.items.astype(np.int64)
        self.history_starts_ = sequences.starts.astype(np.int64)
        self.history_ends_ = sequences.ends.astype(np.int64)
        self.history_times_ = sequences.by_position(data.timestamps).astype(np.int64)
        self.train_positions_ = sequences.positions()
        # Rows used as they are (a prepared train part): a row's position is
        # its index, which the shards stream as their ``position`` column.
        self.row_columns = ("position",) if sequences.order is None else ()
        self._prepare_context(split)

    def _prepare_context(self, split) -> None:
        """The log's context features, read with ``use_features`` (None without)."""
        from tfrec.data.feature_schema import FeatureSchema

        c = self.config
        self.context_ = RequestContext.from_split(split, c.seed) if c.use_features else None
        self.context_train_ = None
        if self.context_ is not None:
            self.context_train_ = self.context_.values(split.train)
            features = (*self.feature_schema_.features, *self.context_.features)
            self.feature_schema_ = FeatureSchema(features, self.context_.time)

    def _reads_positions(self) -> bool:
        return bool(self.config.history or self.config.trend_windows)

    def _extra_inputs(self, keras, tf, user, item):
        inputs, features = self._position_inputs(keras, tf, user, item)
        if self.context_ is not None:
            c = self.config
            # The listwise loss compares a positive with its negatives: one draw per group.
            group = 1 + c.negatives if self.task_ == "ranking" and c.loss == "softmax" else 1
            context, term = self.context_.term(c.context_dropout, c.seed, group)
            inputs, features = {**inputs, **context}, [*features, term]
        return inputs, features

    def _position_inputs(self, keras, tf, user, item):
        """The inputs read at the example's position: history h_u and trend τ_i(t)."""
        if not self._reads_positions():
            return {}, []
        from tfrec.models.ranking.history import HistoryMean
        from tfrec.models.ranking.trend import ItemTrend

        position = keras.Input((), dtype=tf.int64, name="position")
        features = []
        if self.config.trend_windows:
            trend = ItemTrend(
                self.history_items_,
                self.history_times_,
                self.history_ends_,
                self.config.trend_windows,
            )
            features.append(trend(user, item, position))
        if not self.config.history:
            return {"position": position}, features
        history = HistoryMean(
            self.history_items_,
            self.history_starts_,
            self.config.history,
            int(self.history_items_.max(initial=0)) + 1,
            self.config.embedding_dim,
            self.config.l2,
        )
        return {"position": position}, [*features, history(user, position)]

    def _extra_columns(self, frame_or_data):
        """Each example's position in its user's history: a training pair's own
        (its earlier items are read), after the user's training items otherwise."""
        columns = {}
        training = hasattr(frame_or_data, "timestamps")
        if self._reads_positions() and training:
            columns["position"] = self.train_positions_
        elif self._reads_positions():
            users, _, _ = self.known_pairs(frame_or_data)
            columns["position"] = self.history_ends_[np.maximum(users, 0)]
        if self.context_ is not None and training:  # each pair's own interaction's
            columns.update(self.context_train_)
        elif self.context_ is not None:  # validation: none, as the evaluation protocol sends
            columns.update(self.context_.missing(len(frame_or_data)))
        return columns

    def _serving_defaults(self, users):
        defaults = {"position": self.history_ends_[users]} if self._reads_positions() else {}
        if self.context_ is not None:  # no request context
            defaults.update(self.context_.missing(len(users)))
        return defaults

    def _serving_default_tables(self):
        return {"position": self.history_ends_} if self._reads_positions() else {}

    def _serving_constants(self):
        return self.context_.missing(1) if self.context_ is not None else {}

    def _context_specs(self):
        return self.context_.specs() if self.context_ is not None else {}

    def _score_in_context(self, users, context):
        if self.context_ is None:
            raise NotSupportedError(
                f"{self.name} was trained without request context (the log has no context "
                "features, or use_features was off)"
            )
        return self._score(users, self.context_.filled(context, len(users)))

    def _predict_in_context(self, users, items, context: dict) -> np.ndarray:
        """:meth:`_predict` of known pairs, each in its request's ``context``
        (a model trained with context: ``context_``)."""
        inputs = {"user": users, "item": items, **self._serving_defaults(users)}
        return self._run({**inputs, **self.context_.filled(context, len(users))})

    def _head(self, x):
        from tfrec.models.ranking.cross import cross_network
        from tfrec.models.rating.keras_rating import keras

        c = self.config
        h = cross_network(
            x, c.cross_layers, c.hidden_units, c.dropout, c.structure, c.projection_dim, c.seed
        )
        if self.task_ == "ranking":
            activation = "sigmoid" if c.loss == "bce" else None  # softmax: logits
            return keras.layers.Dense(1, activation=activation, name="score")(h)
        z = keras.layers.Dense(1, activation="sigmoid", name="output")(h)
        low, high = self.rating_scale_
        return keras.layers.Rescaling(high - low, offset=low, name="rating")(z)

    def _arrays(self):
        return {
            **super()._arrays(),
            "task": np.asarray(self.task_),
            "history_items": self.history_items_,
            "history_starts": self.history_starts_,
            "history_ends": self.history_ends_,
            "history_times": self.history_times_,
            **(self.context_.arrays() if self.context_ is not None else {}),
        }

    def _load_arrays(self, arrays):
        super()._load_arrays(arrays)
        self.context_ = RequestContext.from_arrays(self.feature_schema_, arrays)
        self.task_ = str(arrays["task"])
        self.history_items_ = arrays["history_items"]
        self.history_starts_ = arrays["history_starts"]
        self.history_ends_ = arrays["history_ends"]
        self.history_times_ = arrays.get("history_times", np.zeros_like(self.history_items_))


def recency_weights(positions, starts, ends, users) -> np.ndarray:
    """2 ** (-p / n) of each training pair: p its places from its user's last
    (0: the last), n the user's training pairs (float32)."""
    n = (ends - starts)[users]
    behind = ends[users] - 1 - positions
    return np.exp2(-behind / np.maximum(n, 1)).astype(np.float32)


def _int32_indices(features, *rest):
    """The network's index inputs as int32 (the pipeline's are int64)."""
    import tensorflow as tf

    cast = {key: tf.cast(features[key], tf.int32) for key in ("user", "item")}
    return ({**features, **cast}, *rest)


def listwise_loss(group: int):
    """Softmax cross-entropy of each positive against its negatives: the batch's
    scores come in groups of ``group`` rows, the positive first."""
    import tensorflow as tf

    def loss(y_true, y_pred):
        logits = tf.reshape(y_pred, [-1, group])
        first = tf.zeros(tf.shape(logits)[:1], tf.int32)
        return tf.nn.sparse_softmax_cross_entropy_with_logits(first, logits)

    return loss

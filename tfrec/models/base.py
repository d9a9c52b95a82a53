"""The one interface every tfrec model implements.

A :class:`Recommender` takes raw dataset IDs (integers or strings) and
returns raw IDs; the mapping to row indices is done once in
:meth:`Recommender.fit` and kept inside the model as two
:class:`~tfrec.data.vocabulary.Vocabulary` objects (``users_``, ``items_``),
from which the SavedModel's lookup tables are built too. Subclasses implement
``_fit`` and ``_score`` (and may override ``_predict``, ``_similar``,
``_arrays``/``_load_arrays`` for their state).

Two ID spaces meet here. Frames (``split.train``, ...) hold *frame IDs*:
the raw integers, or rows of the dataset's vocabulary for string IDs;
``user_ids_``/``item_ids_`` are the model's rows in that space, and
:meth:`known_pairs`, :meth:`score_rows` and :meth:`predict_rows` serve code
that works on frames (training, evaluation). Everything else takes and
returns raw IDs.

Fallbacks for IDs not seen in training (documented, never a KeyError):

* ``predict``: the training mean rating (rating models) or the item's
  popularity (ranking models) when the user or the item is unknown.
* ``score`` / ``recommend``: an unknown user gets the most popular items.
* ``similar_items``: an unknown item gets the most popular items.

Models with ``serves_new_users`` also score users they never trained on
from the items such a user brings at request time
(:meth:`Recommender.recommend_history`, ``_score_history``): fold-in for
the neighbourhood models, the query tower for the retrieval models.
"""

from __future__ import annotations

import abc
import copy
import dataclasses
import json
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
import scipy.sparse as sp

from tfrec.data.feature_schema import FeatureSchema
from tfrec.data.vocabulary import Vocabulary, as_int64, encode_sorted
from tfrec.errors import ConfigError, NotSupportedError, TfrecError, check_positive_int
from tfrec.features.raw import TIME_KEY, raw_values
from tfrec.io import atomic_dir, write_json
from tfrec.models.history import Histories
from tfrec.models.options import TrainingOptions
from tfrec.models.stage_prior import with_prior
from tfrec.topk import cosine_top_k, exclude, top_k
from tfrec.version import __version__

_SCORE_BATCH = 1024


@dataclasses.dataclass
class ModelConfig:
    """Base of the typed per-model configs; round-trips through JSON.

    ``tuning_grid`` (option -> values, each list holding the default) and
    ``tuning_ranges`` (option -> :class:`tfrec.tuning.space.Range`, an
    interval holding the default) make up :meth:`search_space`, what
    ``--tune``, ``--model auto`` and ``tfrec benchmark --tune`` search on
    validation; both empty: the defaults are kept.
    """

    tuning_grid: ClassVar[dict[str, list]] = {}
    tuning_ranges: ClassVar[dict] = {}

    @classmethod
    def search_space(cls) -> dict:
        """Option -> choices (a list, from ``tuning_grid``) or a ``Range``
        (from ``tuning_ranges``, which wins for an option in both)."""
        return {**{k: list(v) for k, v in cls.tuning_grid.items()}, **cls.tuning_ranges}

    def __post_init__(self):
        self.validate()

    def validate(self) -> None:
        """Raises ConfigError for invalid values (subclasses extend)."""

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> ModelConfig:
        """Builds a config, naming any unknown field and the accepted ones."""
        fields = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(values) - set(fields))
        if unknown:
            raise ConfigError(
                f"unknown option(s) {', '.join(unknown)} for {cls.__name__}; "
                f"accepted: {', '.join(fields) or 'none'}"
            )
        return cls(**values)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ModelConfig:
        return cls.from_dict(json.loads(text))


def encode(known_ids: np.ndarray, ids) -> np.ndarray:
    """Row index of each frame ID in the sorted int64 array ``known_ids``; -1 if unknown."""
    return encode_sorted(known_ids, as_int64(np.asarray(ids).reshape(-1)))


@dataclasses.dataclass
class Interactions:
    """Training ratings encoded to row indices (built once per fit).

    Attributes:
        user_ids: Sorted unique raw user IDs; row ``u`` is ``user_ids[u]``.
        item_ids: Sorted unique raw item IDs; column ``i`` is ``item_ids[i]``.
        users, items: Per-rating row indices.
        ratings: Per-rating values (float32).
        timestamps: Per-rating timestamps.
        matrix: (n_users, n_items) CSR matrix of the ratings.
        weights: Per-rating strengths (float32; play counts, hours, the
            number of repeats) from the frame's ``weight`` column, or None
            when it has none; :func:`tfrec.models.weighting.confidence` turns
            them into confidences.
    """

    user_ids: np.ndarray
    item_ids: np.ndarray
    users: np.ndarray
    items: np.ndarray
    ratings: np.ndarray
    timestamps: np.ndarray
    matrix: sp.csr_matrix
    weights: np.ndarray | None = None

    @classmethod
    def from_ratings(cls, ratings: pd.DataFrame) -> Interactions:
        user_ids, users = _unique_inverse(ratings["user_id"].to_numpy())
        item_ids, items = _unique_inverse(ratings["item_id"].to_numpy())
        values = ratings["rating"].to_numpy(dtype=np.float32)
        matrix = sp.csr_matrix((values, (users, items)), shape=(len(user_ids), len(item_ids)))
        matrix.sort_indices()
        return cls(  # no copy of a row column that is int64 already
            user_ids.astype(np.int64),
            item_ids.astype(np.int64),
            users.astype(np.int64, copy=False),
            items.astype(np.int64, copy=False),
            values,
            ratings["timestamp"].to_numpy(),
            matrix,
            ratings["weight"].to_numpy(np.float32) if "weight" in ratings else None,
        )


def _unique_inverse(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(ids, return_inverse=True)``; for dense non-negative IDs (frame
    codes) by counting instead of sorting: linear time, no sorted copy."""
    if len(ids) == 0 or ids.min() < 0 or ids.max() > max(4 * len(ids), 1 << 20):
        return np.unique(ids, return_inverse=True)
    present = np.bincount(ids) > 0
    row = np.cumsum(present) - 1
    return np.flatnonzero(present).astype(ids.dtype), row[ids]


class Recommender(abc.ABC):
    """The interface of every tfrec model.

    Args:
        config: The model's config; defaults to ``Config()``.
        **options: Config fields to set, e.g. ``SVD(k=64)``.
    """

    name: ClassVar[str]
    Config: ClassVar[type[ModelConfig]] = ModelConfig
    # Capabilities, declared by each class (the shared tests and the CLI read them):
    predicts_ratings: ClassVar[bool] = True  # False on a fitted model of implicit data
    fits_implicit: ClassVar[bool] = False  # a rating model that ranks implicit data too
    scores_are_predictions: ClassVar[bool] = True  # score(u)[i] == predict(u, i), unclipped
    serves_new_items: ClassVar[bool] = False  # scores items from content: new_item_scorer
    serves_new_users: ClassVar[bool] = False  # scores a given history: _score_history
    similar_items_supported: ClassVar[bool] = False  # similar_items works
    exportable: ClassVar[bool] = True  # export writes a SavedModel (serving_scorer)
    trains_by_epochs: ClassVar[bool] = False  # TensorBoard logs, per-epoch checkpoints, resume
    chosen_on_validation: ClassVar[tuple[str, ...]] = ()  # options fit chooses when None
    strategies: ClassVar[tuple[str, ...]] = ()  # tf.distribute strategies it trains under
    parallel_scoring: ClassVar[bool] = False  # _score is numpy only: evaluation may use threads
    uses_timestamps: ClassVar[bool] = False
    reads_features: ClassVar[tuple[str, ...]] = ()  # feature sources it reads (user, item, context)
    feature_schema_: FeatureSchema = FeatureSchema()  # the typed features a fitted model reads

    def __init__(self, config: ModelConfig | None = None, **options):
        if config is None:
            config = self.Config.from_dict(options)
        elif options:
            config = dataclasses.replace(config, **options)
        self.config = config
        self._fitted = False

    @classmethod
    def needs_ratings(cls) -> bool:
        """True for the models that refuse implicit feedback (no rating column)."""
        return cls.predicts_ratings and not cls.fits_implicit

    # ---- fitting ---------------------------------------------------------------------------

    def fit(self, split, options: TrainingOptions | None = None, **option_fields) -> Recommender:
        """Fits on ``split.train`` (validation may be used for early stopping).

        Args:
            split: A :class:`tfrec.splits.Split`.
            options: How the fit runs (progress, logs, checkpoints, strategy);
                see :class:`~tfrec.models.options.TrainingOptions`.
            **option_fields: Fields of ``options`` to set, e.g. ``verbose=True``.

        Returns:
            self.
        """
        options = dataclasses.replace(options or TrainingOptions(), **option_fields)
        if options.strategy is not None and not self.strategies:
            raise ConfigError(
                f"model {self.name!r} trains in one process; no tf.distribute strategy applies "
                "(`tfrec models` shows the strategies each model takes)"
            )
        if len(split.train) == 0:
            raise TfrecError("cannot fit on an empty training set")
        dataset = split.dataset
        if dataset.implicit and self.needs_ratings():
            raise NotSupportedError(
                f"model {self.name!r} predicts ratings, and {dataset.name!r} has none "
                "(implicit feedback); use a ranking model (`tfrec models` lists them)"
            )
        # Set on every fit, so that a refit on explicit data predicts ratings again.
        self.predicts_ratings = type(self).predicts_ratings and not dataset.implicit
        if split.cold_items is not None and not self.serves_new_items:
            raise NotSupportedError(
                f"model {self.name!r} cannot score items absent from training, as split "
                "'cold-items' asks; use a model that serves new items (`tfrec models`)"
            )
        if getattr(split, "given", None) is not None and not self.serves_new_users:
            raise NotSupportedError(
                f"model {self.name!r} cannot score users absent from training, as split "
                "'cold-users' asks; use a model that serves new users (`tfrec models`)"
            )
        data = Interactions.from_ratings(split.train)
        self.user_ids_, self.item_ids_ = data.user_ids, data.item_ids
        self.users_ = _raw_vocabulary(dataset.user_vocab, data.user_ids)
        self.items_ = _raw_vocabulary(dataset.item_vocab, data.item_ids)
        self.seen_ = data.matrix
        self.global_mean_ = float(np.mean(data.ratings, dtype=np.float64))
        self.popularity_ = np.bincount(data.items, minlength=len(data.item_ids)).astype(np.float32)
        self.rating_scale_ = tuple(float(x) for x in split.dataset.rating_scale)
        with options.scope():
            self._fit(data, split, options)
        self.stage_prior_, self.stage_weight_ = None, 0.0
        if self.serves_new_users:
            self._choose_stage_prior(split, options.verbose)
        self._fitted = True
        return self

    def _choose_stage_prior(self, split, verbose: bool) -> None:
        """Fits the new users' stage prior and chooses its weight on the validation
        cold users (:mod:`tfrec.models.stage_prior`); kept off without them or
        without timestamps."""
        from tfrec.models import stage_prior
        from tfrec.models.training.ranking_stopping import ValidationRanking

        given = (getattr(split, "given", None) or {}).get("validation")
        if given is None or not split.dataset.has_timestamps:
            return
        ranking = ValidationRanking(self, split.validation, None, None, given, split.dataset)
        if not ranking.active:
            return
        table = stage_prior.stage_prior(split.train, self.item_ids_)
        histories = ranking.histories
        plain = self.score_histories(histories)  # stage_weight_ is 0 here
        plain[histories.lengths == 0] = 0.0
        ndcg = {}
        for beta in stage_prior.WEIGHTS:
            scores = stage_prior.with_prior(plain, table, histories.lengths, beta)
            ndcg[beta] = ranking.measure(lambda rows, s=scores: s[rows])["val_ndcg@10"]
        best = max(ndcg, key=ndcg.get)
        if verbose:
            tried = ", ".join(f"{beta:g}: {value:.4f}" for beta, value in ndcg.items())
            print(f"new users' stage prior weight {best:g} chosen on validation ({tried})")
        if best > 0:
            self.stage_prior_, self.stage_weight_ = table, float(best)

    @abc.abstractmethod
    def _fit(self, data: Interactions, split, options: TrainingOptions) -> None:
        """Learns the model's parameters from encoded training data."""

    @abc.abstractmethod
    def _score(self, users: np.ndarray) -> np.ndarray:
        """(len(users), n_items) float32 scores for known user rows."""

    def _score_history(self, histories: Histories) -> np.ndarray:
        """(len(histories), n_items) float32 scores of new users from their items
        (each history holds at least one item; models with ``serves_new_users``)."""
        raise _no_new_users(self.name)

    def _reads_features(self, histories: Histories) -> bool:
        """Whether ``_score_history`` scores these histories from their features,
        also the empty ones (a new user with features but no items yet)."""
        return False

    def _predict(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Scores of known (user row, item column) pairs; override when cheaper."""
        out = np.empty(len(users), dtype=np.float32)
        unique, inverse = np.unique(users, return_inverse=True)
        for start in range(0, len(unique), _SCORE_BATCH):
            block = unique[start : start + _SCORE_BATCH]
            rows = self._score(block)
            mask = (inverse >= start) & (inverse < start + len(block))
            out[mask] = rows[inverse[mask] - start, items[mask]]
        return out

    def refit_options(self) -> dict:
        """Config overrides for refitting on train + validation after a fit on
        train: models that train by epochs rerun the epoch count early stopping
        chose (``best_epoch_``) without early stopping; others need none."""
        best_epoch = getattr(self, "best_epoch_", None)
        if best_epoch is None:
            return {}
        return {"epochs": max(1, best_epoch), "patience": 0}

    def _predict_at(self, users, items, timestamps) -> np.ndarray:
        """Like ``_predict`` at given times (models with ``uses_timestamps``)."""
        return self._predict(users, items)

    def item_embeddings(self) -> np.ndarray | None:
        """The learned item embeddings, one row per item of ``item_ids`` (None: none).

        ``similar_items`` ranks them by cosine similarity, and ``tfrec train``
        writes them, labelled with titles, for TensorBoard's projector.
        """
        return None

    def _similar(self, items: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        return cosine_top_k(self.item_embeddings(), items, k)

    # ---- public API ------------------------------------------------------------------------

    @property
    def user_ids(self) -> np.ndarray:
        """Raw IDs of the users seen in training (sorted), integers or strings."""
        self._check_fitted()
        return self.users_.ids

    @property
    def item_ids(self) -> np.ndarray:
        """Raw IDs of the catalogue: the items seen in training (sorted)."""
        self._check_fitted()
        return self.items_.ids

    def known_pairs(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Row indices of a ratings frame's users and items, and the mask of the
        rows whose user and item are both known (-1 marks unknown IDs).

        Usable inside ``_fit``: the ID maps exist once ``fit`` has encoded the
        training data."""
        if not hasattr(self, "user_ids_"):
            self._check_fitted()
        users = encode(self.user_ids_, frame["user_id"])
        items = encode(self.item_ids_, frame["item_id"])
        return users, items, (users >= 0) & (items >= 0)

    def rated_items(self, user_id) -> tuple[np.ndarray, np.ndarray]:
        """The (item_ids, ratings) a user had in training; empty if unknown."""
        self._check_fitted()
        row = self.users_.encode([user_id])[0]
        if row < 0:
            return self.item_ids[:0], np.empty(0, dtype=np.float32)
        start, end = self.seen_.indptr[row], self.seen_.indptr[row + 1]
        return self.item_ids[self.seen_.indices[start:end]], self.seen_.data[start:end]

    def score(self, user_ids) -> np.ndarray:
        """Scores of every catalogue item for each user.

        Args:
            user_ids: Raw user IDs; unknown ones get popularity scores.

        Returns:
            (len(user_ids), len(item_ids)) float32 array, columns in the order
            of :attr:`item_ids`.
        """
        self._check_fitted()
        return self.score_rows(self.users_.encode(user_ids))

    def score_rows(self, users: np.ndarray, context: dict | None = None) -> np.ndarray:
        """:meth:`score` for user rows (-1: unknown), as code working on frames has
        them; with ``context`` (raw values by feature key, one per row) known
        users are scored in their request's context."""
        out = np.empty((len(users), len(self.item_ids_)), dtype=np.float32)
        known = users >= 0
        if known.any() and context is not None:
            out[known] = self._score_in_context(
                users[known], {key: value[known] for key, value in context.items()}
            )
        elif known.any():
            out[known] = self._score(users[known])
        if not known.all():
            out[~known] = self.popularity_ / max(float(self.popularity_.max()), 1.0)
        return out

    def score_histories(self, histories: Histories) -> np.ndarray:
        """:meth:`score` for new users given by their items: the fold-in, plus the
        stage prior where one was chosen (:mod:`tfrec.models.stage_prior`);
        without a prior, an empty history gets popularity scores, as an unknown
        user does."""
        out = np.zeros((len(histories), len(self.item_ids_)), dtype=np.float32)
        known = (histories.lengths > 0) | self._reads_features(histories)
        if known.any():
            out[known] = self._score_history(histories[np.flatnonzero(known)])
        if self.stage_weight_:
            return with_prior(out, self.stage_prior_, histories.lengths, self.stage_weight_)
        out[~known] = self.popularity_ / max(float(self.popularity_.max()), 1.0)
        return out

    def recommend_history(self, histories, k: int = 10, exclude_given: bool = True, features=None):
        """The top-``k`` items for users known only by the items they bring.

        Serves users who arrived after training without retraining (models
        with ``serves_new_users``): fold-in for EASE and item KNN, the query
        tower for the retrieval models.

        Args:
            histories: One sequence of raw item IDs per user, oldest first.
                Unknown items are ignored; an empty history gets the most
                popular items.
            k: Number of items per user.
            exclude_given: Leave out the items of each history.
            features: What the users bring besides items, for models that read
                user features or context (``feature_schema_``): a DataFrame or
                ``{name: values}`` with one row per history (``{"age": [31],
                "country": ["fr"]}``; ``timestamp`` for ``context_time``);
                missing or unseen values are fine.

        Returns:
            (item_ids, scores) as :meth:`recommend` returns them.
        """
        k = check_positive_int("k", k)
        self._check_fitted()
        if not self.serves_new_users:
            raise _no_new_users(self.name)
        if isinstance(histories, (str, bytes)) or not hasattr(histories, "__len__"):
            raise TfrecError(
                f"histories must be a list of item-ID lists, one per user; got {histories!r}"
            )
        columns = [self.items_.encode(np.asarray(list(h))) for h in histories]
        given = Histories.from_lists(columns, len(self.item_ids_))
        given.features = self._request_features(features, len(given))
        scores = self.score_histories(given)
        if exclude_given:
            scores[given.matrix().nonzero()] = -np.inf
        return self._top_items(scores, k)

    def _score_in_context(self, users: np.ndarray, context: dict) -> np.ndarray:
        """:meth:`_score` of known user rows in their requests' ``context``: by
        default plus the context's own term (:meth:`_context_scores`)."""
        return self._score(users) + self._context_scores(context)

    def _context_scores(self, context: dict) -> np.ndarray:
        """(n, n_items) what the request ``context`` adds to known users' scores."""
        raise NotSupportedError(f"model {self.name!r} reads no request context")

    def _request_features(self, features, n: int, sources=("user", "context")) -> dict | None:
        """``features`` as :attr:`Histories.features` (raw values by feature key), of
        the model's features of ``sources``."""
        if features is None:
            return None
        frame = features if isinstance(features, pd.DataFrame) else pd.DataFrame(features)
        if len(frame) != n:
            raise TfrecError(f"features must have one row per history ({n}); got {len(frame)}")
        wanted = [f for source in sources for f in self.feature_schema_.of(source)]
        by_name = {f.name: f for f in wanted} | {f.key: f for f in wanted}
        unknown = sorted(set(map(str, frame.columns)) - set(by_name) - {TIME_KEY})
        if unknown:
            reads = ", ".join(f.name for f in wanted) or "none"
            raise TfrecError(
                f"model {self.name!r} reads no feature {', '.join(unknown)}; it reads: {reads}"
            )
        values = {}
        for column in frame.columns:
            if column == TIME_KEY:
                times = pd.to_numeric(frame[column], errors="coerce")
                if times.isna().any():
                    raise TfrecError(
                        f"timestamp must be seconds since the epoch; got {frame[column].tolist()}"
                    )
                values[TIME_KEY] = times.to_numpy(np.int64)
            else:
                feature = by_name[column]
                renamed = frame[[column]].rename(columns={column: feature.name})
                values.update(raw_values([feature], renamed))
        return values

    def _top_items(self, scores: np.ndarray, k: int):
        """Raw IDs and scores of each row's top k (k capped at the catalogue);
        the pad ID and NaN where only excluded (-inf) items were left."""
        index, values = top_k(scores, k)
        empty = np.isneginf(values)
        index[empty], values[empty] = -1, np.nan
        return self.items_.decode(index), values

    def predict(self, user_ids, item_ids, timestamps=None) -> np.ndarray:
        """Predicted rating (rating models) or score of each (user, item) pair.

        Ratings are clipped to the rating scale. Pairs with an unknown user or
        item get the training mean rating, or the item's popularity for
        ranking models. ``timestamps`` (Unix seconds, one per pair) are used
        by models with ``uses_timestamps``; others ignore them.
        """
        self._check_fitted()
        users, items = self.users_.encode(user_ids), self.items_.encode(item_ids)
        if len(users) != len(items):
            raise TfrecError(
                f"user_ids and item_ids must have the same length; got "
                f"{len(users)} and {len(items)}"
            )
        return self.predict_rows(users, items, timestamps)

    def predict_rows(self, users: np.ndarray, items: np.ndarray, timestamps=None) -> np.ndarray:
        """:meth:`predict` for (user row, item row) pairs (-1: unknown)."""
        known = (users >= 0) & (items >= 0)
        if self.predicts_ratings:
            out = np.full(len(users), self.global_mean_, dtype=np.float32)
        else:
            out = np.where(items >= 0, self.popularity_[np.maximum(items, 0)], 0.0)
            out = out.astype(np.float32)
        if known.any() and timestamps is not None and self.uses_timestamps:
            times = np.asarray(timestamps).reshape(-1)[known]
            out[known] = self._predict_at(users[known], items[known], times)
        elif known.any():
            out[known] = self._predict(users[known], items[known])
        if self.predicts_ratings:
            np.clip(out, *self.rating_scale_, out=out)
        return out

    def recommend(self, user_ids, k: int = 10, exclude_seen: bool = True, context=None):
        """The top-``k`` items for each user.

        Args:
            user_ids: Raw user IDs; unknown users get the most popular items.
            k: Number of items per user.
            exclude_seen: Leave out the items each user rated in training.
            context: The request's context, for models that read it
                (``reads_features`` has ``context``): a DataFrame or ``{name:
                values}`` with one row per user (``{"device": ["tv"],
                "timestamp": [1700000000]}``); missing or unseen values are fine.

        Returns:
            (item_ids, scores), each of shape (len(user_ids), k'), best first,
            with k' = min(k, catalogue size). Where a user has fewer than k
            unseen items, the rest is padded with item_id -1 and score NaN.
        """
        k = check_positive_int("k", k)
        self._check_fitted()
        users = self.users_.encode(user_ids)
        if context is not None:
            context = self._request_features(context, len(users), ("context",))
        all_items, all_scores = [], []
        for start in range(0, len(users), _SCORE_BATCH):
            block = users[start : start + _SCORE_BATCH]
            rows = slice(start, start + len(block))
            in_context = None if context is None else {k: v[rows] for k, v in context.items()}
            scores = self.score_rows(block, in_context)
            if exclude_seen:
                exclude(scores, self.seen_, block)
            items, values = self._top_items(scores, k)
            all_items.append(items)
            all_scores.append(values)
        if not all_items:
            return np.empty((0, k), self.item_ids.dtype), np.empty((0, k), dtype=np.float32)
        return np.concatenate(all_items), np.concatenate(all_scores)

    def similar_items(self, item_ids, k: int = 10):
        """The ``k`` items most similar to each item (itself excluded).

        Returns:
            (item_ids, scores), each (len(item_ids), k'); an unknown item gets
            the most popular items with score NaN.
        """
        k = check_positive_int("k", k)
        self._check_fitted()
        if not self.similar_items_supported:
            raise NotSupportedError(
                f"model {self.name!r} has no item similarity; use itemknn or svd "
                "(`tfrec models` shows which models have one)"
            )
        items = self.items_.encode(item_ids)
        k = min(k, len(self.item_ids_) - 1)
        out_rows = np.empty((len(items), k), dtype=np.int64)
        out_scores = np.full((len(items), k), np.nan, dtype=np.float32)
        known = items >= 0
        if known.any():
            out_rows[known], out_scores[known] = self._similar(items[known], k)
        if not known.all():
            out_rows[~known] = np.argsort(-self.popularity_, kind="stable")[:k]
        return self.items_.decode(out_rows), out_scores

    def new_item_scorer(self, items: pd.DataFrame):
        """Scores of items from their content alone, for items absent from training.

        Args:
            items: Rows of an items table (``item_id``, ``title``, ``genres``,
                ``year``, ...; tags are left empty for such items).

        Returns:
            ``score(user_rows) -> (len(user_rows), len(items))`` float32, for
            rows of known users.
        """
        raise NotSupportedError(f"model {self.name!r} cannot score items absent from training")

    def with_new_items(self, item_ids, items: pd.DataFrame) -> Recommender:
        """A copy whose catalogue also holds new items, scored from their content
        (for models with ``serves_new_items``; e.g. to export them without
        retraining). Items already in the catalogue keep what was learned.

        Args:
            item_ids: Raw IDs of the items, one per row of ``items``.
            items: Their rows of an items table (title, genres, year, ...).
        """
        self._check_fitted()
        if not self.serves_new_items:
            raise NotSupportedError(
                f"model {self.name!r} cannot score items absent from training; "
                "train a model that serves new items (`tfrec models`)"
            )
        known = self.items_.encode(item_ids) >= 0
        if known.all():
            return self
        model = copy.copy(self)
        n_old = len(self.item_ids_)
        model.items_ = self.items_.append(np.asarray(item_ids)[~known])
        n_new = len(model.items_) - n_old
        model.item_ids_ = np.concatenate([self.item_ids_, np.full(n_new, -1, np.int64)])
        model.popularity_ = np.concatenate([self.popularity_, np.zeros(n_new, np.float32)])
        if self.stage_prior_ is not None:
            pad = np.zeros((len(self.stage_prior_), n_new), np.float32)
            model.stage_prior_ = np.hstack([self.stage_prior_, pad])
        seen = self.seen_
        model.seen_ = sp.csr_matrix(
            (seen.data, seen.indices, seen.indptr), shape=(seen.shape[0], n_old + n_new)
        )
        model._add_items(items[~known].reset_index(drop=True))
        return model

    def _add_items(self, items: pd.DataFrame) -> None:
        """Extends the model's item state by these new items (``with_new_items``)."""
        raise NotSupportedError(f"model {self.name!r} cannot add items")

    def serving_scorer(self, seen):
        """A ``tf.Module`` computing this model's scores in TensorFlow, for export.

        Args:
            seen: The export's table of training items per user
                (``seen.dense(users)`` gives [batch, n_items] ratings).
        """
        raise NotSupportedError(f"model {self.name!r} cannot be exported as a SavedModel")

    def serving_history_scorer(self):
        """A ``tf.Module`` with ``score(x) -> [batch, n_items]`` scores of new users
        from their multi-hot item rows x (float32 [batch, n_items]), for the
        export's ``recommend_history``; None: the model has none (the default).
        """
        return None

    def export(self, export_root="saved_models", name=None, version=None, metadata=None) -> Path:
        """Exports a SavedModel for TF Serving; see :func:`tfrec.export.export`."""
        from tfrec.export import export

        self._check_fitted()
        if not self.exportable:
            raise NotSupportedError(f"model {self.name!r} cannot be exported as a SavedModel")
        return export(self, export_root, name=name, version=version, metadata=metadata)

    # ---- persistence -----------------------------------------------------------------------

    def save(self, path) -> Path:
        """Saves the fitted model to directory ``path`` (atomically)."""
        self._check_fitted()
        path = Path(path)
        with atomic_dir(path) as tmp:
            write_json(
                tmp / "model.json",
                {
                    "model": self.name,
                    "tfrec_version": __version__,
                    "config": self.config.to_dict(),
                    "global_mean": self.global_mean_,
                    "predicts_ratings": self.predicts_ratings,
                    "rating_scale": list(self.rating_scale_),
                    "stage_weight": self.stage_weight_,
                    # for refit_options after a load (the epochs early stopping chose)
                    "best_epoch": getattr(self, "best_epoch_", None),
                },
            )
            arrays = {
                "user_ids": self.user_ids_,
                "item_ids": self.item_ids_,
                "user_raw_ids": self.users_.ids,
                "item_raw_ids": self.items_.ids,
                "popularity": self.popularity_,
                "seen_indptr": self.seen_.indptr,
                "seen_indices": self.seen_.indices,
                "seen_data": self.seen_.data,
            }
            if self.stage_prior_ is not None:
                arrays["stage_prior"] = self.stage_prior_
            arrays.update({f"model_{k}": v for k, v in self._arrays().items()})
            np.savez(tmp / "arrays.npz", **arrays)
            self._save_extra(tmp)
        return path

    @classmethod
    def _restore(cls, path: Path, meta: dict) -> Recommender:
        model = cls(cls.Config.from_dict(meta["config"]))
        with np.load(path / "arrays.npz") as arrays:
            model.user_ids_, model.item_ids_ = arrays["user_ids"], arrays["item_ids"]
            model.users_ = Vocabulary(arrays["user_raw_ids"])
            model.items_ = Vocabulary(arrays["item_raw_ids"])
            model.popularity_ = arrays["popularity"]
            model.seen_ = sp.csr_matrix(
                (arrays["seen_data"], arrays["seen_indices"], arrays["seen_indptr"]),
                shape=(len(model.user_ids_), len(model.item_ids_)),
            )
            model._load_arrays({k[6:]: arrays[k] for k in arrays.files if k.startswith("model_")})
            model.stage_prior_ = arrays.get("stage_prior")
        model.global_mean_ = float(meta["global_mean"])
        model.predicts_ratings = bool(meta.get("predicts_ratings", cls.predicts_ratings))
        model.rating_scale_ = tuple(meta["rating_scale"])
        model.stage_weight_ = float(meta.get("stage_weight", 0.0))
        if meta.get("best_epoch") is not None:
            model.best_epoch_ = int(meta["best_epoch"])
        model._load_extra(path)
        model._fitted = True
        return model

    def _arrays(self) -> dict[str, np.ndarray]:
        """The model's learned arrays, for ``save``."""
        return {}

    def _load_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        """Restores what ``_arrays`` returned."""

    def _save_extra(self, directory: Path) -> None:
        """Writes state that is not numpy arrays (e.g. Keras weights)."""

    def _load_extra(self, directory: Path) -> None:
        """Reads what ``_save_extra`` wrote."""

    def _check_fitted(self):
        if not self._fitted:
            raise TfrecError(f"model {self.name!r} is not fitted yet; call fit(split) first")

    def __repr__(self):
        return f"{type(self).__name__}({self.config})"


def _no_new_users(name: str) -> NotSupportedError:
    return NotSupportedError(
        f"model {name!r} cannot score users absent from training from their items; use a "
        "model that serves new users (`tfrec models`)"
    )


def _raw_vocabulary(dataset_vocab: Vocabulary | None, frame_ids: np.ndarray) -> Vocabulary:
    """The raw IDs of a model's rows: the frame IDs, or their dataset vocabulary's.

    Frame IDs of string datasets are assigned in the raw IDs' sorted order, so
    the subset stays sorted and its rows are the model's rows."""
    if dataset_vocab is None:
        return Vocabulary(frame_ids)
    return dataset_vocab.subset(frame_ids)

"""The options of the retrieval models (``two_tower``, ``lstm_retrieval``).

:class:`TwoTowerConfig` is the typed config the Recommender in
:mod:`~tfrec.models.retrieval.two_tower` fits with; it round-trips through
JSON and sets its size- and data-dependent options at fit time.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from tfrec.errors import ConfigError, check_choice, check_non_negative, check_positive_int
from tfrec.models.base import ModelConfig
from tfrec.models.weighting import check_weighting

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
            ``None``: by the history order (``BAG_ORDER`` / ``TIME_ORDER``),
            0.01 with ``bag``, 0 (the best weight) with ``time``; see
            ``uniform_negatives``. With ``time`` a tolerance does not pay:
            0.005 picked weight 0 on ml-latest-small seed 0, where
            validation ties 0 with 0.5 and test does not (mean test NDCG@10
            0.0774 -> 0.0750, HR@10 0.3481 -> 0.3366); 0.01 picks 0, 0.2, 0.2
            instead of 0.5, 0.3, 0.5 (validation 0.1361 / 0.5025 / 0.196
            against 0.1365 / 0.5003 / 0.168, NDCG@10 / HR@10 / coverage@10,
            seeds 0-2). With ``bag`` alone it only ties EASE's coverage on
            steam-hours (validation 0.3006 / 0.5521 / 0.166 against 0.3015 /
            0.5549 / 0.139 at 0 and EASE's 0.3066 / 0.5548 / 0.167).
        weighting: How an interaction's strength (``data.weights``: play
            counts, hours) weighs its positive in the loss:
            ``binary`` (all 1), ``log`` or ``raw``
            (:func:`tfrec.models.weighting.confidence`).
        alpha: Scale of the strength in the confidence.
        index: Top-k index of the export's ``recommend``: ``brute_force``
            (exact: the top k of every item's score) or ``scann`` (TFRS's
            ScaNN layer, approximate; needs the ``scann`` package built for
            this TensorFlow).
        negatives: Softmax negatives shared by a batch: its first
            ``negatives`` positives (0: all, the in-batch softmax; fewer cost
            less per step: ``batch x negatives`` instead of ``batch²``).
            ``None``: by data size.
        uniform_negatives: Items drawn uniformly from the catalogue per batch
            as extra softmax negatives (mixed negative sampling). ``None``:
            by the history order, 512 with ``bag``, 0 with ``time``. The
            in-batch negatives are drawn by popularity, so the tail is
            rarely pushed down or up and the raw scores stay narrow; the
            uniform draws widen them. With the ``bag`` query (logs without
            timestamps) that is what lifts coverage above EASE's: steam-hours
            validation, seeds 0-2, NDCG@10 / HR@10 / coverage@10 means
            (docs/results.md, "Coverage"), 512 with tolerance 0.01 0.2979 /
            0.5494 / 0.207 (an earlier run 0.2974 / 0.5489 / 0.215) against
            0.3015 / 0.5549 / 0.139 for 0 with tolerance 0 (the defaults
            before) and EASE's 0.3066 / 0.5548 / 0.167 (NDCG@10 -2.8%, HR@10
            -1.0%); test 0.3040 / 0.5555 / 0.208 against EASE's 0.3145 /
            0.5639 / 0.168 (-3.3%, -1.5%; before 0.3081 / 0.5636 / 0.143),
            2026-12-04. With ``time`` (ml-latest-small) it costs validation
            NDCG@10 on every seed (0.1313 against 0.1365 at tolerance 0), so
            it stays 0 there. No
            other option tried widened the scores (steam-hours, validation
            coverage@10 at weight 0, seeds 0-2, against 0.183 / 0.157 /
            0.159): ``l2`` 0, 0.185 / 0.156 / 0.160; ``history`` 200, 0.181
            / 0.122 / 0.156; ``embedding_dim`` 256, 0.135 / 0.099 / 0.186;
            ``learning_rate`` 2e-3, 0.166 / 0.135 / 0.179.
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
    # The options that follow the history order (for_dataset), where None.
    BAG_ORDER: ClassVar[dict] = {"uniform_negatives": 512, "popularity_tolerance": 0.01}
    TIME_ORDER: ClassVar[dict] = {"uniform_negatives": 0, "popularity_tolerance": 0.0}
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
    popularity_tolerance: float | None = None
    weighting: str = "binary"
    alpha: float = 1.0
    index: str = "brute_force"
    negatives: int | None = None
    uniform_negatives: int | None = None
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
        timestamps, ``bag`` and none without; ``uniform_negatives`` and
        ``popularity_tolerance``, where ``None``, from that order
        (``BAG_ORDER`` / ``TIME_ORDER``). With ``new_users`` (split
        ``cold-users``: the model is judged on users it has no embedding for)
        the query is trained as it will serve them, without a user embedding."""
        order = self.history_order or ("time" if dataset.has_timestamps else "bag")
        user_embedding = self.user_embedding
        if user_embedding is None:
            user_embedding = (order == "time" and not new_users) or not self.history
        by_order = self.BAG_ORDER if order == "bag" else self.TIME_ORDER
        return dataclasses.replace(
            self,
            history_order=order,
            user_embedding=user_embedding,
            **{key: value for key, value in by_order.items() if getattr(self, key) is None},
        )

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
        if self.popularity_tolerance is not None and not 0 <= self.popularity_tolerance < 1:
            raise ConfigError(
                f"popularity_tolerance must be in [0, 1); got {self.popularity_tolerance}"
            )
        for name in ("id_dropout", "feature_dropout"):
            if not 0 <= getattr(self, name) < 1:
                raise ConfigError(f"{name} must be in [0, 1); got {getattr(self, name)}")

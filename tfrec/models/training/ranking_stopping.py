"""Early stopping on validation ranking quality, for the implicit-feedback models."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import tf_keras as keras

from tfrec.metrics import RANKING_THREADS, full_ranking
from tfrec.models.training.keras_fit import (
    Throughput,
    keras_verbosity,
    record_history,
    training_callbacks,
    training_input,
)
from tfrec.tf_logging import FIT_WARNINGS, without_warnings

VALIDATION_K = 10
# Validation users ranked at most (a seeded sample beyond): enough to pick an
# epoch or a weight (NDCG@10's standard error is then well under 0.002), while
# ranking all of ML-25M's 160k users after every epoch takes minutes.
VALIDATION_USERS = 20_000


class ValidationRanking(keras.callbacks.Callback):
    """Adds ``val_ndcg@10`` and ``val_hr@10`` to the Keras epoch logs.

    Full ranking over the catalogue minus each user's training items; relevant
    are the user's validation items. Put it before ``BestEpoch`` in the
    callback list.

    Args:
        recommender: The model being fitted (its ID maps and ``seen_`` exist).
        validation: The validation ratings frame (may be empty).
        refresh: Called before scoring, to copy the Keras weights out.
        score_rows: ``score_rows(user_rows) -> (n, n_items)`` scores; called
            from threads when the recommender sets ``parallel_scoring``.

    ``measure`` scores any other ``score_rows`` the same way, e.g. to choose a
    post-training setting on validation. With more than ``VALIDATION_USERS``
    validation users, a seeded sample of that many (the same for every model
    and seed) is ranked.

    ``max_users`` (None: ``VALIDATION_USERS``) lowers that cap, for a model
    whose scoring is costly.

    With ``given`` (split ``cold-users``: the items the validation users
    bring), the validation users are new: ``rows`` index ``histories``, their
    given items are the excluded ones, and ``score_rows`` must score
    ``histories[rows]`` (see :meth:`Recommender.score_histories`).
    """

    def __init__(
        self,
        recommender,
        validation,
        refresh,
        score_rows,
        given=None,
        dataset=None,
        max_users: int | None = None,
    ):
        super().__init__()
        self.refresh, self.score_rows = refresh, score_rows
        self.active = False
        self.histories = None
        if validation is None or len(validation) == 0:
            return
        max_users = VALIDATION_USERS if max_users is None else max_users
        if given is not None:
            self._new_users(recommender, validation, given, dataset, max_users)
            return
        users, items, ok = recommender.known_pairs(validation)
        users, items = users[ok], items[ok]
        rows = np.unique(users)
        if len(rows) == 0:
            return
        if len(rows) > max_users:
            rows = np.sort(np.random.default_rng(0).choice(rows, max_users, replace=False))
            keep = np.isin(users, rows)
            users, items = users[keep], items[keep]
        inverse = np.searchsorted(rows, users)
        self.rows = rows
        self.relevant = sp.csr_matrix(
            (np.ones(len(inverse), np.float32), (inverse, items)),
            shape=(len(rows), len(recommender.item_ids_)),
        )
        self.excluded = recommender.seen_[rows]
        self.threads = RANKING_THREADS if recommender.parallel_scoring else 1
        self.active = True

    def _new_users(self, recommender, validation, given, dataset, max_users):
        from tfrec.evaluation import user_features
        from tfrec.models.base import encode
        from tfrec.models.history import Histories

        items = encode(recommender.item_ids_, validation["item_id"])
        validation = validation[items >= 0]
        user_ids = np.unique(validation["user_id"].to_numpy()).astype(np.int64)
        if len(user_ids) == 0:
            return
        if len(user_ids) > max_users:
            user_ids = np.sort(np.random.default_rng(0).choice(user_ids, max_users, replace=False))
        self.histories = Histories.from_frame(given, user_ids, recommender.item_ids_)
        if dataset is not None:
            self.histories.features = user_features(dataset, user_ids)
        target = Histories.from_frame(validation, user_ids, recommender.item_ids_)
        self.rows = np.arange(len(user_ids))
        self.relevant = target.matrix()
        self.excluded = self.histories.matrix()
        self.threads = RANKING_THREADS if recommender.parallel_scoring else 1
        self.active = True

    def inputs(self, matrix: sp.csr_matrix) -> sp.csr_matrix:
        """The validation users' rows of a (user x item) training matrix, or,
        for new users, their given items (1 each)."""
        return matrix[self.rows] if self.histories is None else self.histories.matrix()

    def measure(self, score_rows) -> dict[str, float]:
        """``val_ndcg@10`` and ``val_hr@10`` of ``score_rows`` (call when ``active``)."""
        columns, _ = full_ranking(
            lambda block: score_rows(self.rows[block]),
            self.relevant,
            self.excluded,
            VALIDATION_K,
            threads=self.threads,
        )
        return {
            "val_ndcg@10": float(columns["ndcg"].mean()),
            "val_hr@10": float(columns["hr"].mean()),
        }

    def on_epoch_end(self, epoch, logs=None):
        if not self.active:
            return
        self.refresh()
        logs.update(self.measure(self.score_rows))


def fit_with_ranking(
    recommender,
    options,
    model,
    make_train,
    steps_per_epoch: int,
    examples_per_epoch: int,
    validation,
    refresh,
    score_rows,
    validation_data=None,
    given=None,
    dataset=None,
    max_users: int | None = None,
    per_worker: bool = False,
) -> None:
    """``model.fit`` with early stopping on validation NDCG@10 (best weights kept).

    ``options`` is the fit's :class:`~tfrec.models.options.TrainingOptions`.
    ``make_train()`` returns the training dataset (called where the
    strategy needs it, e.g. once per parameter-server worker), of
    ``examples_per_epoch`` positives in ``steps_per_epoch`` batches.
    ``validation_data``, when given, is passed on to ``model.fit`` for the
    model's own validation loss and metrics (logged, not used for stopping;
    skipped under a tf.distribute strategy). ``given`` (split ``cold-users``:
    the items the validation users bring) makes them new users, scored by
    ``recommender._score_history``, with their user features from
    ``dataset`` when given. ``max_users`` caps the validation users ranked.
    With ``per_worker``, each worker's ``make_train()`` streams its own
    shards (:func:`~tfrec.models.training.keras_fit.training_input`).

    Sets ``recommender.history_`` (one dict per epoch) and ``best_epoch_``, and
    calls ``refresh`` at the end so the recommender holds the best weights.
    """
    c = recommender.config
    ranking = ValidationRanking(
        recommender, validation, refresh, score_rows, given, dataset, max_users
    )
    if ranking.histories is not None:
        ranking.score_rows = lambda rows: recommender._score_history(ranking.histories[rows])
    callbacks = [Throughput(examples_per_epoch, steps_per_epoch), ranking]
    monitor = "val_ndcg@10" if ranking.active else None
    callbacks += training_callbacks(options, c.patience, monitor, "max")
    with without_warnings(*FIT_WARNINGS):
        history = model.fit(
            training_input(options, make_train, steps_per_epoch, per_worker),
            epochs=c.epochs,
            steps_per_epoch=steps_per_epoch,
            validation_data=validation_data if options.strategy is None else None,
            callbacks=callbacks,
            verbose=keras_verbosity(options),
        )
    record_history(recommender, history, model, options.verbose)
    refresh()

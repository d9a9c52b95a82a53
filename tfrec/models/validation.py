"""Early stopping on validation ranking quality, for the implicit-feedback models."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import tf_keras as keras

from tfrec.metrics import full_ranking

VALIDATION_K = 10


class ValidationRanking(keras.callbacks.Callback):
    """Adds ``val_ndcg@10`` and ``val_hr@10`` to the Keras epoch logs.

    Full ranking over the catalogue minus each user's training items; relevant
    are the user's validation items. Put it before ``EarlyStopping`` in the
    callback list.

    Args:
        recommender: The model being fitted (its ID maps and ``seen_`` exist).
        validation: The validation ratings frame (may be empty).
        refresh: Called before scoring, to copy the Keras weights out.
        score_rows: ``score_rows(user_rows) -> (n, n_items)`` scores.
    """

    def __init__(self, recommender, validation, refresh, score_rows):
        super().__init__()
        self.refresh, self.score_rows = refresh, score_rows
        self.active = False
        if validation is None or len(validation) == 0:
            return
        users, items, ok = recommender.known_pairs(validation)
        rows, inverse = np.unique(users[ok], return_inverse=True)
        if len(rows) == 0:
            return
        self.rows = rows
        self.relevant = sp.csr_matrix(
            (np.ones(len(inverse), np.float32), (inverse, items[ok])),
            shape=(len(rows), len(recommender.item_ids_)),
        )
        self.excluded = recommender.seen_[rows]
        self.active = True

    def on_epoch_end(self, epoch, logs=None):
        if not self.active:
            return
        self.refresh()
        columns, _ = full_ranking(
            lambda block: self.score_rows(self.rows[block]),
            self.relevant,
            self.excluded,
            VALIDATION_K,
        )
        logs["val_ndcg@10"] = float(columns["ndcg"].mean())
        logs["val_hr@10"] = float(columns["hr"].mean())

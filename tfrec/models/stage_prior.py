"""What users take at each stage of their history: a prior for new users.

A user who just signed up is at the start of their history, and what people
take early (the items a sign-up page shows, the ones everybody starts with)
differs from what they take later. Over the training users' interactions in
time order, the stage prior counts the items at positions [n, n + window):

    prior(n, j) = log(1 + #{(u, p) : u's p-th item is j, n <= p < n + window})

A new user who brings n items is scored by the model's fold-in, each row
scaled to a largest absolute value of 1, plus ``beta * prior(min(n, N), j)``
(N = ``n_stages - 1``). ``beta`` is chosen on the validation cold users of
the ``cold-users`` split (from 0, the plain fold-in, up); data without
timestamps has no stages and keeps beta 0.

On ml-latest-small's cold users (H = 5, seed 0), EASE's validation NDCG@10
rose from 0.137 to 0.153 with beta 0.2.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tfrec.data.vocabulary import as_int64, encode_sorted

N_STAGES = 50  # stages 0..49; a longer history reads stage 49
WINDOW = 10  # the next items a stage counts (the cold-users split scores 10)
WEIGHTS = (0.0, 0.05, 0.1, 0.2, 0.5, 1.0)  # beta's grid


def stage_prior(train: pd.DataFrame, item_ids: np.ndarray) -> np.ndarray:
    """(N_STAGES, n_items) float32 table of ``prior(n, j)`` from training interactions.

    Args:
        train: Interactions with ``user_id``, ``item_id`` and ``timestamp``.
        item_ids: The catalogue's sorted frame item IDs (the table's columns).
    """
    frame = train.sort_values(["user_id", "timestamp", "item_id"], kind="stable")
    position = frame.groupby("user_id", sort=False).cumcount().to_numpy()
    columns = encode_sorted(item_ids, as_int64(frame["item_id"].to_numpy()))
    depth = N_STAGES + WINDOW - 1
    keep = (position < depth) & (columns >= 0)
    at = np.zeros((depth + 1, len(item_ids)), dtype=np.float64)  # row p: items at position p
    np.add.at(at, (position[keep], columns[keep]), 1.0)
    cumulative = np.cumsum(np.vstack([np.zeros((1, len(item_ids))), at]), axis=0)
    counts = cumulative[WINDOW : WINDOW + N_STAGES] - cumulative[:N_STAGES]
    return np.log1p(counts).astype(np.float32)


def with_prior(scores: np.ndarray, table: np.ndarray, lengths: np.ndarray, beta: float):
    """Fold-in ``scores`` scaled per row to a largest absolute value of 1, plus
    ``beta`` times each row's stage prior."""
    scale = np.maximum(np.abs(scores).max(axis=1, keepdims=True), 1e-12)
    stages = np.minimum(lengths, len(table) - 1)
    return (scores / scale + np.float32(beta) * table[stages]).astype(np.float32)

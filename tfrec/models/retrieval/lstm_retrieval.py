"""``lstm_retrieval``: the seed's triplet LSTM as a configuration of the two towers.

The query tower is an LSTM over the user's last 20 items (no user-ID
embedding); the candidate tower, the loss and the training are
:class:`~tfrec.models.retrieval.two_tower.TwoTower`'s, and so is what it
reads: the user features and each interaction's context in the query, the
item features in the candidate. New users are served from the LSTM over the
items they bring (and their features), in Python and in the SavedModel's
``recommend_history``.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from tfrec.models.retrieval.config import TwoTowerConfig
from tfrec.models.retrieval.two_tower import TwoTower


@dataclasses.dataclass
class LSTMRetrievalConfig(TwoTowerConfig):
    """:class:`TwoTowerConfig` with an LSTM over the last 20 items as the query tower
    and a patience of 2 epochs. Below ``LARGE_DATA_INTERACTIONS`` 128-d
    embeddings and a window per target (``stride`` 1); from there on 64-d
    embeddings and windows of 20 targets, with 4,096 positives per batch
    sharing 256 negatives (at 25M ratings, validation NDCG@10 after one epoch
    0.0672 at 64-d against 0.0671 at 128-d, in about half the time). On a
    log without timestamps the LSTM reads the user's training items as
    stored, the training target left out (``history_order`` ``bag``)."""

    tuning_grid: ClassVar[dict[str, list]] = {"history": [10, 20]}
    SMALL_DATA: ClassVar[dict] = {
        "embedding_dim": 128, "stride": 1, "batch_size": 1024, "negatives": 0
    }  # fmt: skip
    LARGE_DATA: ClassVar[dict] = {
        "embedding_dim": 64, "stride": 20, "batch_size": 4096, "negatives": 256
    }  # fmt: skip

    history: int = 20
    history_encoder: str = "lstm"
    user_embedding: bool = False
    patience: int = 2


class LSTMRetrieval(TwoTower):
    """The seed's triplet LSTM as a TFRS query tower: LSTM over the user's last
    items -> candidate tower of item ID + genres (``--set loss=triplet`` for
    the seed's margin loss)."""

    name = "lstm_retrieval"
    Config = LSTMRetrievalConfig

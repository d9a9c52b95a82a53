"""``lstm_retrieval``: the seed's triplet LSTM as a configuration of the two towers.

The query tower is an LSTM over the user's last 20 items (no user-ID
embedding); the candidate tower, the loss and the training are
:class:`~tfrec.models.retrieval.two_tower.TwoTower`'s.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from tfrec.models.retrieval.two_tower import TwoTower, TwoTowerConfig


@dataclasses.dataclass
class LSTMRetrievalConfig(TwoTowerConfig):
    """:class:`TwoTowerConfig` with an LSTM over the last 20 items as the query tower
    (``stride`` as in :class:`TwoTowerConfig`, default 1: a window per
    target) and a patience of 2 epochs."""

    tuning_grid: ClassVar[dict[str, list]] = {"history": [10, 20]}

    history: int = 20
    history_encoder: str = "lstm"
    user_embedding: bool = False
    stride: int = 1
    patience: int = 2


class LSTMRetrieval(TwoTower):
    """The seed's triplet LSTM as a TFRS query tower: LSTM over the user's last
    items -> candidate tower of item ID + genres (``--set loss=triplet`` for
    the seed's margin loss)."""

    name = "lstm_retrieval"
    Config = LSTMRetrievalConfig

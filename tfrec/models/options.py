"""How a fit runs, as opposed to what it learns: passed to ``fit``, never stored on the model."""

from __future__ import annotations

import contextlib
import dataclasses
from pathlib import Path
from typing import Any


@dataclasses.dataclass(frozen=True)
class TrainingOptions:
    """The context of one fit (after LensKit's ``TrainingOptions``).

    Attributes:
        verbose: Print progress: Keras' progress line per epoch, the chosen
            options, the best epoch.
        log_dir: Directory for TensorBoard scalars per epoch (models whose
            class sets ``trains_by_epochs``).
        checkpoint_dir: Where the models that train by epochs checkpoint
            after every epoch; a fit finding a checkpoint there continues
            from it.
        strategy: A ``tf.distribute.Strategy`` (see :mod:`tfrec.distribute`)
            for the models whose class lists strategies in ``strategies``;
            None trains in this process.
    """

    verbose: bool = False
    log_dir: str | Path | None = None
    checkpoint_dir: str | Path | None = None
    strategy: Any = None

    def scope(self):
        """The strategy's variable scope, or a no-op without a strategy."""
        return self.strategy.scope() if self.strategy is not None else contextlib.nullcontext()

"""Biased matrix factorisation (the seed's MFModel), trained fast on CPU.

    r_hat(u, i) = mu + b_u + b_i + p_u . q_i

Loss per example: (r_hat - r)^2 / 2 + l2 / 2 (|p_u|^2 + |q_i|^2) + l2_bias / 2
(b_u^2 + b_i^2) — the L2 penalty is on the vectors each example looks up, as
in Surprise's SVD; strong ``l2`` (0.1-0.15) is what makes MF generalise on
MovieLens.

Training is one XLA-compiled TensorFlow loop per epoch over batches of a
seeded shuffle (:mod:`tfrec.models.factorization.mf_trainer`), with a row-wise Adagrad that
touches only the rows in the batch:

* each user row holds ``[p_u, b_u, 1, a_factors, a_bias]`` and each item row
  ``[q_i, 1, b_i, a_factors, a_bias]``, so ``row_u[:d+2] . row_i[:d+2]`` is
  ``p_u . q_i + b_u + b_i`` and the Adagrad accumulators ``a`` travel with
  the row: one gather and one scatter-add per table per step;
* every example's gradient is applied (sum, not mean, over the batch), scaled
  by ``learning_rate / sqrt(a)`` with one accumulator for the factors of a row
  and one for its bias.

Dense optimiser state updates over whole embedding tables (Keras' Adam on an
Embedding) cost more than the model's own arithmetic; this keeps every step
proportional to the batch. Epochs are early-stopped on validation RMSE and
the best epoch's weights are kept.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from typing import ClassVar

import numpy as np

from tfrec.errors import check_non_negative, check_positive_int
from tfrec.models.base import ModelConfig, Recommender
from tfrec.tuning.space import Range


@dataclasses.dataclass
class MFConfig(ModelConfig):
    """Options of the biased MF.

    Attributes:
        n_factors: Dimension of the user and item vectors.
        l2: L2 weight on each example's user and item vectors.
        l2_bias: L2 weight on each example's user and item biases.
        learning_rate: Adagrad learning rate.
        initial_accumulator: Adagrad's starting accumulator value.
        init_std: Standard deviation of the initial vectors.
        batch_size: Examples per step.
        epochs: Maximum number of epochs.
        patience: Epochs without validation improvement before stopping
            (0: train all ``epochs``).
        seed: Seed of initialisation and shuffling.
    """

    tuning_grid: ClassVar[dict[str, list]] = {"n_factors": [32, 64]}
    tuning_ranges: ClassVar[dict] = {"l2": Range(0.01, 1.0, log=True)}

    n_factors: int = 64
    l2: float = 0.15
    l2_bias: float = 0.0
    learning_rate: float = 0.05
    initial_accumulator: float = 0.1
    init_std: float = 0.1
    batch_size: int = 8192
    epochs: int = 60
    patience: int = 5
    seed: int = 0

    def validate(self):
        check_positive_int("n_factors", self.n_factors)
        check_positive_int("batch_size", self.batch_size)
        check_positive_int("epochs", self.epochs)
        for name in (
            "l2",
            "l2_bias",
            "learning_rate",
            "initial_accumulator",
            "init_std",
            "patience",
        ):
            check_non_negative(name, getattr(self, name))


class MF(Recommender):
    """Biased matrix factorisation with per-example L2, row-wise sparse Adagrad."""

    name = "mf"
    Config = MFConfig
    trains_by_epochs = True
    strategies = ("mirrored", "multi-worker", "parameter-server")
    similar_items_supported = True
    parallel_scoring = True

    def _fit(self, data, split, options) -> None:
        import tensorflow as tf

        from tfrec.data.prepare.stream import streamed
        from tfrec.models.factorization.mf_trainer import MFTrainer

        c = self.config
        trainer = MFTrainer(len(data.user_ids), len(data.item_ids), c, self.global_mean_)
        epochs = trainer
        if options.strategy is not None:  # the same steps, run by the strategy
            from tfrec.models.factorization.mf_distributed import DistributedEpochs

            epochs = DistributedEpochs(trainer, options.strategy, options.verbose)
        train_epoch = epochs.train_epoch
        stream = streamed(self.name, split, data, options)
        if stream is not None:

            def train_epoch(_, batch_size, seed, epoch):
                return epochs.train_shards(stream, batch_size, seed, epoch)

            columns = None  # streamed
        else:
            columns = (
                tf.constant(data.users.astype(np.int32)),
                tf.constant(data.items.astype(np.int32)),
                tf.constant(data.ratings),
            )
        validation = self._encoded(split.validation)
        writer = tf.summary.create_file_writer(str(options.log_dir)) if options.log_dir else None
        tables = {"users": trainer.users, "items": trainer.items}
        if validation is not None:  # the best epoch's tables; else the last epoch's are kept
            tables["best_users"] = tf.Variable(trainer.users)
            tables["best_items"] = tf.Variable(trainer.items)
        progress = {"epoch": 0, "best": None, "best_epoch": 0, "history": []}
        checkpoint = None
        if options.checkpoint_dir:
            from tfrec.checkpoints import LoopCheckpoint

            checkpoint = LoopCheckpoint(options.checkpoint_dir, **tables)
            progress = checkpoint.restore() or progress
            if progress["epoch"] and options.verbose:
                print(f"resuming after epoch {progress['epoch']}", file=sys.stderr)
        history = progress["history"]
        for epoch in range(progress["epoch"], c.epochs):
            if self._stopped(progress, validation is not None):
                break
            started = time.perf_counter()
            loss = train_epoch(columns, c.batch_size, c.seed, epoch)
            seconds = time.perf_counter() - started
            record = {
                "epoch": epoch + 1,
                "train_rmse": loss,
                "seconds": seconds,
                "examples_per_s": len(data.users) / seconds,
            }
            if validation is not None:
                record["val_rmse"] = trainer.rmse(*validation, self.rating_scale_)
                if progress["best"] is None or record["val_rmse"] < progress["best"] - 1e-5:
                    progress["best"], progress["best_epoch"] = record["val_rmse"], epoch + 1
                    tables["best_users"].assign(trainer.users)
                    tables["best_items"].assign(trainer.items)
            history.append(record)
            progress["epoch"] = epoch + 1
            if checkpoint is not None:
                checkpoint.save(progress)
            if options.verbose:
                self._report(record)
            if writer is not None:
                with writer.as_default():
                    for key in ("train_rmse", "val_rmse", "examples_per_s"):
                        if key in record:
                            tf.summary.scalar(key, record[key], step=epoch + 1)
        self.history_ = history
        if validation is not None:
            self.best_epoch_, users, items = (
                progress["best_epoch"],
                tables["best_users"],
                tables["best_items"],
            )
        else:
            self.best_epoch_, users, items = len(history), trainer.users, trainer.items
        self.user_factors_, self.user_bias_, self.item_factors_, self.item_bias_ = trainer.unpack(
            users.numpy(), items.numpy()
        )
        if checkpoint is not None:
            checkpoint.remove()

    def _stopped(self, progress, validated) -> bool:
        """Early stopping: ``patience`` epochs since the best validation RMSE."""
        patience = self.config.patience
        return validated and patience and progress["epoch"] - progress["best_epoch"] >= patience

    def _encoded(self, frame):
        if frame is None or len(frame) == 0:
            return None
        users, items, ok = self.known_pairs(frame)
        if not ok.any():
            return None
        return users[ok], items[ok], frame["rating"].to_numpy()[ok]

    def _report(self, record):
        line = (
            f"epoch {record['epoch']}/{self.config.epochs} - train_rmse {record['train_rmse']:.4f}"
        )
        if "val_rmse" in record:
            line += f" - val_rmse {record['val_rmse']:.4f}"
        line += f" - {record['seconds']:.2f}s ({record['examples_per_s'] / 1e6:.2f}M ex/s)"
        left = self.config.epochs - record["epoch"]
        if left:  # early stopping may end sooner
            line += f" - ETA {left * record['seconds']:.0f}s at most"
        print(line, file=sys.stderr)

    def _score(self, users):
        from tfrec.models.factors import biased_dot

        return biased_dot(
            self.user_factors_[users],
            self.global_mean_ + self.user_bias_[users],
            self.item_factors_,
            self.item_bias_,
        )

    def _predict(self, users, items):
        dot = np.einsum("ij,ij->i", self.user_factors_[users], self.item_factors_[items])
        return self.global_mean_ + self.user_bias_[users] + self.item_bias_[items] + dot

    def item_embeddings(self):
        return self.item_factors_

    def serving_scorer(self, seen):
        from tfrec.models.scorers import FactorScorer

        return FactorScorer(
            self.global_mean_ + self.user_bias_,
            self.item_bias_,
            self.user_factors_,
            self.item_factors_,
        )

    def _arrays(self):
        return {
            "user_factors": self.user_factors_,
            "item_factors": self.item_factors_,
            "user_bias": self.user_bias_,
            "item_bias": self.item_bias_,
        }

    def _load_arrays(self, arrays):
        self.user_factors_, self.item_factors_ = arrays["user_factors"], arrays["item_factors"]
        self.user_bias_, self.item_bias_ = arrays["user_bias"], arrays["item_bias"]

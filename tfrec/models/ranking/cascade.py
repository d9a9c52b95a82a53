"""Retrieval + ranking as one model: a cheap retriever picks candidates, a ranker orders them.

For a user u, the retrieval model's scores r_u over the catalogue give the
N = ``candidates`` best items the user has not seen, C_u; the ranking model
scores those pairs, s_ui, and the cascade's score is

    score(u, i) = s_ui                                          for i in C_u
    score(u, i) = min_{j in C_u} s_uj - 1 + min(r_ui - max_{j in C_u} r_uj, 0)   otherwise

so every candidate ranks above every other item, candidates in the
ranker's order, the rest in the retriever's. ``recommend`` (in Python and
in the SavedModel) thus returns the ranker's top k of the retriever's top N,
seen items excluded; ``predict`` and the export's ``rank`` are the ranker's
scores (a rating ranker's predicted ratings, unclipped: the cascade is a
ranking model).

Any model can retrieve (two_tower, lstm_retrieval, ease, itemknn...) and
any model that scores (user, item) pairs can rank (dcn, dnn, mf...). Both
are fitted on the same split, each with its own early stopping; a ranker
with a ``task`` option (dcn) is trained for ranking (sampled negatives)
unless ``ranking_options`` says otherwise.

The export is **one** SavedModel holding both models' variables
(:class:`CascadeScorer`): TF Serving loads it as it is.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from tfrec.errors import ConfigError, TfrecError, check_positive_int
from tfrec.models.base import ModelConfig, Recommender
from tfrec.topk import exclude


@dataclasses.dataclass
class CascadeConfig(ModelConfig):
    """Options of a retrieval + ranking cascade.

    Attributes:
        retrieval: The first stage's model name.
        ranking: The second stage's model name (one that scores pairs).
        candidates: Items the first stage passes to the second, per user.
        retrieval_options: Config overrides of the retrieval model.
        ranking_options: Config overrides of the ranking model.
        hard_negatives: Share of the ranker's sampled negatives drawn from
            each training user's retrieval candidates (rankers with
            ``with_hard_negatives``: dcn); 0: the ranker's own sampler.
        seed: Seed of both models (unless their options set one).
    """

    retrieval: str = "two_tower"
    ranking: str = "dcn"
    candidates: int = 200
    retrieval_options: dict = dataclasses.field(default_factory=dict)
    ranking_options: dict = dataclasses.field(default_factory=dict)
    hard_negatives: float = 0.0
    seed: int = 0

    def validate(self):
        from tfrec.models import model_class

        check_positive_int("candidates", self.candidates)
        if not 0 <= self.hard_negatives <= 1:
            raise ConfigError(f"hard_negatives must be in [0, 1]; got {self.hard_negatives}")
        for stage in ("retrieval", "ranking"):
            name = getattr(self, stage)
            if name == "cascade":
                raise ConfigError(f"{stage} must name another model than cascade; got 'cascade'")
            options = getattr(self, f"{stage}_options")
            if not isinstance(options, dict):
                raise ConfigError(f"{stage}_options must be a dict of options; got {options!r}")
            # Checked now, and kept as JSON has them (tuples become lists).
            values = model_class(name).Config.from_dict(options).to_dict()
            setattr(self, f"{stage}_options", {key: values[key] for key in options})


class Cascade(Recommender):
    """A retrieval model's top candidates, re-ranked by a ranking model.

    See the module docstring for the score; ``retrieval_`` and ``ranking_``
    are the fitted stages.
    """

    name = "cascade"
    Config = CascadeConfig
    predicts_ratings = False  # its predictions are the ranker's scores
    scores_are_predictions = False  # items outside the candidates get the retriever's order

    def _stage(self, stage: str) -> Recommender:
        from tfrec.models import get_model, model_class

        c = self.config
        name = getattr(c, stage)
        fields = {f.name for f in dataclasses.fields(model_class(name).Config)}
        options = dict(getattr(c, f"{stage}_options"))
        if "seed" in fields:
            options.setdefault("seed", c.seed)
        if stage == "ranking" and "task" in fields:
            options.setdefault("task", "ranking")
        return get_model(name, options)

    def _fit(self, data, split, options) -> None:
        self.retrieval_ = self._stage("retrieval").fit(split, options)
        if options.verbose:
            print(
                f"cascade: {self.retrieval_.name} fitted; fitting the ranker {self.config.ranking}"
            )
        ranker = self._stage("ranking")
        if self.config.hard_negatives:
            if not hasattr(ranker, "with_hard_negatives"):
                raise ConfigError(
                    f"ranker {ranker.name!r} samples no negatives; hard_negatives needs dcn"
                )
            ranker.with_hard_negatives(self._training_candidates(), self.config.hard_negatives)
        self.ranking_ = ranker.fit(split, options)

    def _training_candidates(self) -> np.ndarray:
        """(n_users, N) the retrieval model's top N unseen items of every training user."""
        users = np.arange(len(self.user_ids_))
        blocks = [
            self._candidates(block, self.retrieval_._score(block))[0]
            for block in np.array_split(users, max(1, len(users) // 1024))
        ]
        return np.concatenate(blocks)

    def refit_options(self) -> dict:
        c = self.config
        return {
            "retrieval_options": {**c.retrieval_options, **self.retrieval_.refit_options()},
            "ranking_options": {**c.ranking_options, **self.ranking_.refit_options()},
        }

    def _candidates(self, users: np.ndarray, retrieval: np.ndarray) -> np.ndarray:
        """(len(users), N) columns of each user's N best unseen items by ``retrieval``."""
        masked = retrieval.copy()
        exclude(masked, self.seen_, users)
        n = min(self.config.candidates, masked.shape[1])
        top = np.argpartition(-masked, n - 1, axis=1)[:, :n]
        order = np.argsort(-np.take_along_axis(masked, top, 1), axis=1, kind="stable")
        return np.take_along_axis(top, order, 1), masked

    def _score(self, users):
        retrieval = self.retrieval_._score(users)
        candidates, masked = self._candidates(users, retrieval)
        n = candidates.shape[1]
        ranked = self.ranking_._predict(np.repeat(users, n), candidates.ravel())
        ranked = ranked.reshape(len(users), n).astype(np.float32)
        best = np.take_along_axis(masked, candidates[:, :1], 1)
        with np.errstate(invalid="ignore"):
            below = np.minimum(retrieval - best, 0.0)  # NaN where both are -inf
        below[np.isnan(below)] = 0.0
        out = (ranked.min(axis=1, keepdims=True) - 1.0 + below).astype(np.float32)
        np.put_along_axis(out, candidates, ranked, 1)
        return out

    def _predict(self, users, items):
        return self.ranking_._predict(users, items)

    def serving_scorer(self, seen):
        from tfrec.models.scorers import CascadeScorer

        return CascadeScorer(
            self.retrieval_.serving_scorer(seen),
            self.ranking_.serving_scorer(seen),
            seen,
            min(self.config.candidates, len(self.item_ids_)),
        )

    def _save_extra(self, directory: Path):
        self.retrieval_.save(directory / "retrieval")
        self.ranking_.save(directory / "ranking")

    def _load_extra(self, directory: Path):
        from tfrec.models import load_model

        try:
            self.retrieval_ = load_model(directory / "retrieval")
            self.ranking_ = load_model(directory / "ranking")
        except FileNotFoundError as e:
            raise TfrecError(f"{directory}: a cascade stage is missing ({e})") from None

"""Retrieval + ranking as one model: a cheap retriever picks candidates, a ranker orders them.

For a user u, the retrieval model's scores r_u over the catalogue give the
N = ``candidates`` best items the user has not seen, C_u; the ranking model
scores those pairs, s_ui, and the cascade's score is

    t_ui = z_u(s_ui) + w · z(-rank_u(i))                        for i in C_u
    score(u, i) = t_ui                                          for i in C_u
    score(u, i) = min_{j in C_u} t_uj - 1 + min(r_ui - max_{j in C_u} r_uj, 0)   otherwise

where z standardises over the user's N candidates and rank_u(i) is the
candidate's place (0 = best) in the retrieval order: with w = 0, t = s, the
ranker's order alone; ``retrieval_weight`` w is chosen on validation NDCG@10
(``RETRIEVAL_WEIGHTS``), so the retriever's own judgement counts as much as
it helps. Every candidate ranks above every other item, candidates in the
order of t, the rest in the retriever's. ``recommend`` (in Python and
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
from tfrec.topk import exclude, top_k

# Weights of the retrieval order tried on validation (0: the ranker's order alone).
RETRIEVAL_WEIGHTS = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0)


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
        retrieval_weight: Weight w of the retrieval order in the candidates'
            score (module docstring); None: chosen on validation NDCG@10
            from ``RETRIEVAL_WEIGHTS``; 0: the ranker's order alone.
        seed: Seed of both models (unless their options set one).
    """

    retrieval: str = "two_tower"
    ranking: str = "dcn"
    candidates: int = 200
    retrieval_options: dict = dataclasses.field(default_factory=dict)
    ranking_options: dict = dataclasses.field(default_factory=dict)
    hard_negatives: float = 0.0
    retrieval_weight: float | None = None
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
    chosen_on_validation = ("retrieval_weight",)
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
        weight = self.config.retrieval_weight
        if weight is None:
            weight = self._choose_retrieval_weight(split, options.verbose)
        self.retrieval_weight_ = float(weight)

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
            "retrieval_weight": self.retrieval_weight_,
            "retrieval_options": {**c.retrieval_options, **self.retrieval_.refit_options()},
            "ranking_options": {**c.ranking_options, **self.ranking_.refit_options()},
        }

    def _candidates(self, users: np.ndarray, retrieval: np.ndarray):
        """(len(users), N) columns of each user's N best unseen items by ``retrieval``
        (best first, ties to the lower column as in the SavedModel), and the
        retrieval scores with the seen items at -inf."""
        masked = retrieval.copy()
        exclude(masked, self.seen_, users)
        return top_k(masked, self.config.candidates)[0], masked

    def _stages(self, users):
        """The retrieval scores, the candidates, the masked scores and the ranker's
        scores of the candidates."""
        retrieval = self.retrieval_._score(users)
        candidates, masked = self._candidates(users, retrieval)
        n = candidates.shape[1]
        ranked = self.ranking_._predict(np.repeat(users, n), candidates.ravel())
        return retrieval, candidates, masked, ranked.reshape(len(users), n).astype(np.float32)

    def _score(self, users):
        return self._combine(*self._stages(users), self.retrieval_weight_)

    @staticmethod
    def _combine(retrieval, candidates, masked, ranked, weight: float) -> np.ndarray:
        """The cascade's scores of every item (module docstring) from its stages' outputs."""
        if weight:
            ranked = _standardised(ranked) + np.float32(weight) * _position_scores(ranked.shape[1])
        best = np.take_along_axis(masked, candidates[:, :1], 1)
        with np.errstate(invalid="ignore"):
            below = np.minimum(retrieval - best, 0.0)  # NaN where both are -inf
        below[np.isnan(below)] = 0.0
        out = (ranked.min(axis=1, keepdims=True) - 1.0 + below).astype(np.float32)
        np.put_along_axis(out, candidates, ranked, 1)
        return out

    def _choose_retrieval_weight(self, split, verbose: bool) -> float:
        """The weight of the retrieval order with the best validation NDCG@10.

        The ranker scores each validation user's candidates once; each weight
        then re-reads the retrieval scores a block of users at a time, so
        memory stays one block of the catalogue wide."""
        from tfrec.models.training.ranking_stopping import ValidationRanking

        ranking = ValidationRanking(self, split.validation, None, None)
        if not ranking.active:
            return 0.0
        rows = ranking.rows
        candidates, ranked = [], []
        for block in np.array_split(rows, -(-len(rows) // 1024)):
            _, block_candidates, _, block_ranked = self._stages(block)
            candidates.append(block_candidates)
            ranked.append(block_ranked)
        candidates, ranked = np.concatenate(candidates), np.concatenate(ranked)
        position = np.full(len(self.user_ids_), -1)
        position[rows] = np.arange(len(rows))

        def score_rows(users, weight):
            retrieval = self.retrieval_._score(users)
            masked = retrieval.copy()
            exclude(masked, self.seen_, users)
            at = position[users]
            return self._combine(retrieval, candidates[at], masked, ranked[at], weight)

        ndcg = {}
        for weight in RETRIEVAL_WEIGHTS:
            ndcg[weight] = ranking.measure(lambda u, w=weight: score_rows(u, w))["val_ndcg@10"]
        best = max(ndcg, key=ndcg.get)
        if verbose:
            tried = ", ".join(f"{w:g}: {v:.4f}" for w, v in ndcg.items())
            print(f"cascade: retrieval weight {best:g} chosen on validation NDCG@10 ({tried})")
        return float(best)

    def _predict(self, users, items):
        return self.ranking_._predict(users, items)

    def serving_scorer(self, seen):
        from tfrec.models.scorers import CascadeScorer

        return CascadeScorer(
            self.retrieval_.serving_scorer(seen),
            self.ranking_.serving_scorer(seen),
            seen,
            min(self.config.candidates, len(self.item_ids_)),
            self.retrieval_weight_,
        )

    def _arrays(self):
        return {"retrieval_weight": np.float32(self.retrieval_weight_)}

    def _load_arrays(self, arrays):
        self.retrieval_weight_ = float(arrays["retrieval_weight"])

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


def _standardised(scores: np.ndarray) -> np.ndarray:
    """Each row minus its mean, over its standard deviation (float32, as in TensorFlow)."""
    centred = scores - scores.mean(axis=1, keepdims=True, dtype=np.float32)
    spread = np.sqrt(np.mean(centred * centred, axis=1, keepdims=True, dtype=np.float32))
    return (centred / (spread + np.float32(1e-6))).astype(np.float32)


def _position_scores(n: int) -> np.ndarray:
    """The standardised retrieval order of N candidates: best +1.7, worst -1.7."""
    return _standardised(-np.arange(n, dtype=np.float32)[None, :])

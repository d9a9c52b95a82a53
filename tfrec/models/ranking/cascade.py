"""Retrieval + ranking as one model: a cheap retriever picks candidates, a ranker orders them.

For a user u, the retrieval model's scores r_u over the catalogue give the
N = ``candidates`` best items the user has not seen, C_u; the ranking model
scores those pairs, s_ui, and the cascade's score is

    x_ui = [z_u(s_ui), z_u(r_ui), z_u(-rank_u(i)), z_u(-log(1 + rank_u(i))) (| z_u(g_ui) ...)]
    t_ui = θ · x_ui                                             for i in C_u
    score(u, i) = t_ui                                          for i in C_u
    score(u, i) = min_{j in C_u} t_uj - 1 + min(r_ui - max_{j in C_u} r_uj, 0)   otherwise

where z_u standardises over the user's N candidates, rank_u(i) is the
candidate's place (0 = best) in the retrieval order and g_ui the score of
each of the cascade's ``signals``: other models fitted on the same split
(by default the retrievers two_tower, itemknn and ease, but the stage),
whose judgement joins the ranker's as features of the candidates, as the
retrieval scores of several candidate generators join a production
ranker's. θ comes from ``combiner``:

* ``stacked``: θ is fitted on the validation users' items, which neither
  stage trained on, by the listwise softmax likelihood of those items among
  each user's candidates with an L2 penalty λ chosen by a two-fold
  cross-fit over the validation users (:mod:`~tfrec.models.ranking.stacking`):
  the data say how far to trust the ranker's score, the retriever's score
  and its order.
* ``weight``: θ = (1, 0, w, 0), t = z(s) + w · z(-rank): with w = 0 the
  ranker's order alone; ``retrieval_weight`` w is chosen on validation
  NDCG@10 (``RETRIEVAL_WEIGHTS``).
* ``auto`` (the default): the same cross-fit scores the stacked θ (each λ;
  with the signals and without them) and the weighted sum (w chosen on the
  fitting half), and the best is refitted on all the validation users.

A signal whose weight in θ is 0 (the weighted sum's, or the stacked θ fitted
without signals) is dropped from the fitted cascade and its export.

Every candidate ranks above every other item, candidates in the order of t,
the rest in the retriever's. ``recommend`` (in Python and in the SavedModel)
thus returns the top k of the retriever's top N by t, seen items excluded;
``predict`` and the export's ``rank`` are the ranker's scores (a rating
ranker's predicted ratings, unclipped: the cascade is a ranking model).

Any model can retrieve (two_tower, lstm_retrieval, ease, itemknn...) and
any model that scores (user, item) pairs can rank (dcn, dnn, mf...). Both
are fitted on the same split, each with its own early stopping; a ranker
with a ``task`` option (dcn) is trained for ranking (sampled negatives)
unless ``ranking_options`` says otherwise; on data with timestamps, a ranker
with ``trend_windows`` and ``negative_power`` (dcn) reads the candidate's
trend over the last 30 and 365 days and draws its negatives ∝ popularity^0.75
(``TIMED_RANKING``) unless ``ranking_options`` sets them.

On a log with context features, ``recommend(..., context=...)`` and the
export's ``recommend_context`` pass the request's context to each stage that
reads it: a two_tower retriever's query term, a dcn ranker's input.

The export is **one** SavedModel holding both models' variables
(:class:`CascadeScorer`): TF Serving loads it as it is.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np

from tfrec.data.feature_schema import FeatureSchema
from tfrec.errors import (
    ConfigError,
    MemoryLimitError,
    NotSupportedError,
    TfrecError,
    check_choice,
    check_non_negative,
    check_positive_int,
)
from tfrec.models.base import ModelConfig, Recommender
from tfrec.models.ranking import stacking
from tfrec.models.ranking.stacking import FEATURES
from tfrec.topk import exclude, top_k

COMBINERS = ("auto", "stacked", "weight")
# Other models whose scores of the candidates θ may weigh (docs/results.md,
# "Signals"): the retrievers that are not the stage, each knowing what the
# stage may not (two_tower the recent history, itemknn and ease the whole
# history's co-occurrences). Behind the default two_tower retriever, the
# signals are itemknn and ease; behind ease, two_tower and itemknn.
SIGNALS = ("two_tower", "itemknn", "ease")
# The ranker's defaults in a cascade on data with timestamps (dcn): the
# candidate's popularity trend at the example's time, and negatives drawn like
# the candidates, by popularity (docs/results.md, "Ranking stage").
TIMED_RANKING = {"trend_windows": (30.0, 365.0), "negative_power": 0.75}
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
        combiner: How the candidates' score t_ui is made (module docstring):
            ``stacked`` (θ fitted on the validation users' items,
            :mod:`~tfrec.models.ranking.stacking`), ``weight`` (the ranker's
            score plus ``retrieval_weight`` times the retrieval order), or
            ``auto``: whichever of the two cross-fits better on validation.
        retrieval_weight: Weight w of the retrieval order (``combiner``
            ``weight``); None: chosen on validation NDCG@10 from
            ``RETRIEVAL_WEIGHTS``; 0: the ranker's order alone.
        stacking_l2: The L2 penalty λ of θ (``combiner`` ``stacked``); None:
            chosen from ``stacking.L2_PENALTIES`` by a cross-fit over the
            validation users.
        stacking_weights: θ itself (``combiner`` ``stacked``, one weight per
            ``stacking.FEATURES``, then one per signal); None: fitted on validation.
        signals: Other models whose scores of the candidates join θ's
            features (``SIGNALS``; one that names a stage is left out: its
            scores are features already; one whose fit would exceed its
            memory limit too, with a note; () for none).
        signal_options: Config overrides of the signals, by model name.
        seed: Seed of both models (unless their options set one).
    """

    retrieval: str = "two_tower"
    ranking: str = "dcn"
    candidates: int = 200
    retrieval_options: dict = dataclasses.field(default_factory=dict)
    ranking_options: dict = dataclasses.field(default_factory=dict)
    hard_negatives: float = 0.0
    combiner: str = "auto"
    retrieval_weight: float | None = None
    stacking_l2: float | None = None
    stacking_weights: tuple[float, ...] | None = None
    signals: tuple[str, ...] = SIGNALS
    signal_options: dict = dataclasses.field(default_factory=dict)
    seed: int = 0

    def validate(self):
        check_positive_int("candidates", self.candidates)
        check_choice("combiner", self.combiner, COMBINERS)
        if self.stacking_l2 is not None:
            check_non_negative("stacking_l2", self.stacking_l2)
        self._validate_signals()
        if self.stacking_weights is not None:
            self.stacking_weights = tuple(float(w) for w in self.stacking_weights)
            names = self.feature_names()
            if len(self.stacking_weights) != len(names):
                raise ConfigError(
                    f"stacking_weights must hold {len(names)} weights, one per feature "
                    f"({', '.join(names)}); got {len(self.stacking_weights)}"
                )
        if not 0 <= self.hard_negatives <= 1:
            raise ConfigError(f"hard_negatives must be in [0, 1]; got {self.hard_negatives}")
        for stage in ("retrieval", "ranking"):
            name = getattr(self, stage)
            if name == "cascade":
                raise ConfigError(f"{stage} must name another model than cascade; got 'cascade'")
            options = getattr(self, f"{stage}_options")
            setattr(self, f"{stage}_options", _checked_options(name, options, f"{stage}_options"))

    def _validate_signals(self):
        from tfrec.models import model_class

        if isinstance(self.signals, str):
            self.signals = [name.strip() for name in self.signals.split(",") if name.strip()]
        if not isinstance(self.signals, list | tuple) or not all(
            isinstance(name, str) for name in self.signals
        ):
            raise ConfigError(
                f'signals must be model names, e.g. ["itemknn", "ease"] ([] for none); '
                f"got {self.signals!r}"
            )
        self.signals = tuple(self.signals)
        for name in self.signals:
            if name == "cascade":
                raise ConfigError("signals must name other models than cascade; got 'cascade'")
            if not model_class(name).exportable:  # model_class names the known models
                raise ConfigError(
                    f"signal {name!r} has no SavedModel export, which the cascade's needs; "
                    "choose another model"
                )
        if len(set(self.signals)) != len(self.signals):
            raise ConfigError(f"signals must name each model once; got {list(self.signals)}")
        if not isinstance(self.signal_options, dict):
            raise ConfigError(
                f"signal_options must be a dict of options by model; got {self.signal_options!r}"
            )
        for name in self.signal_options:
            if name not in self.signals:
                raise ConfigError(
                    f"signal_options names {name!r}, which is not among signals "
                    f"{list(self.signals)}; add it to signals"
                )
        self.signal_options = {
            name: _checked_options(name, options, f"signal_options[{name!r}]")
            for name, options in self.signal_options.items()
        }

    def used_signals(self) -> tuple[str, ...]:
        """The signals that are not one of the stages (none for the weighted
        sum, which gives them no weight)."""
        if self.combiner == "weight":
            return ()
        return tuple(s for s in self.signals if s not in (self.retrieval, self.ranking))

    def feature_names(self) -> tuple[str, ...]:
        """The names of θ's features: ``stacking.FEATURES``, then the used signals."""
        return (*FEATURES, *self.used_signals())


def _checked_options(name: str, options, field: str) -> dict:
    """Model ``name``'s config overrides (``field``), checked, as JSON has them
    (tuples become lists)."""
    from tfrec.models import model_class

    if not isinstance(options, dict):
        raise ConfigError(f"{field} must be a dict of options; got {options!r}")
    values = model_class(name).Config.from_dict(options).to_dict()
    return {key: values[key] for key in options}


class Cascade(Recommender):
    """A retrieval model's top candidates, re-ranked by a ranking model.

    See the module docstring for the score; ``retrieval_`` and ``ranking_``
    are the fitted stages.
    """

    name = "cascade"
    Config = CascadeConfig
    reads_features = ("context",)  # when a stage reads the request's (two_tower, dcn)
    predicts_ratings = False  # its predictions are the ranker's scores
    scores_are_predictions = False  # items outside the candidates get the retriever's order

    @classmethod
    def _restore(cls, path: Path, meta: dict) -> Recommender:
        if "signals" not in meta["config"]:  # saved before signals: it has none
            meta = {**meta, "config": {**meta["config"], "signals": []}}
        return super()._restore(path, meta)

    @property
    def chosen_on_validation(self) -> tuple[str, ...]:  # options fit chooses when None
        return ("retrieval_weight",) if self.config.combiner == "weight" else ("stacking_weights",)

    def _stage(self, stage: str, timed: bool = False) -> Recommender:
        """The stage's unfitted model; ``timed``: the data have timestamps."""
        c = self.config
        return self._model(getattr(c, stage), getattr(c, f"{stage}_options"), stage, timed)

    def _model(self, name: str, options: dict, stage: str = "signal", timed: bool = False):
        """Model ``name`` with ``options`` (and the cascade's seed), unfitted."""
        from tfrec.models import get_model, model_class

        c = self.config
        fields = {f.name for f in dataclasses.fields(model_class(name).Config)}
        options = dict(options)
        if "seed" in fields:
            options.setdefault("seed", c.seed)
        if stage == "ranking" and "task" in fields:
            options.setdefault("task", "ranking")
        if stage == "ranking" and timed and set(TIMED_RANKING) <= fields:
            for key, value in TIMED_RANKING.items():
                options.setdefault(key, value)
        return get_model(name, options)

    def with_stages(self, retrieval: Recommender, ranking: Recommender) -> Cascade:
        """Uses two fitted models as the stages: ``fit`` then fits only the
        combiner, after checking both were fitted on the split's training
        users and items (``tfrec cascade --retrieval RUN --ranking RUN``).

        Returns:
            The cascade itself, for chaining.
        """
        for stage, model in (("retrieval", retrieval), ("ranking", ranking)):
            model._check_fitted()
            if model.name != getattr(self.config, stage):
                raise ConfigError(
                    f"{stage} is {getattr(self.config, stage)!r} in the config, but the fitted "
                    f"{stage} stage is {model.name!r}"
                )
        self._given_stages = (retrieval, ranking)
        return self

    def _fit(self, data, split, options) -> None:
        given = getattr(self, "_given_stages", None)
        if given is not None:
            self.retrieval_, self.ranking_ = given
            for stage, model in zip(("retrieval", "ranking"), given, strict=True):
                self._check_stage(stage, model)
            self._fit_signals(split, options)
            self._note_context()
            self._fit_combiner(split, options.verbose)
            return
        self.retrieval_ = self._stage("retrieval").fit(split, options)
        if options.verbose:
            print(
                f"cascade: {self.retrieval_.name} fitted; fitting the ranker {self.config.ranking}"
            )
        ranker = self._stage("ranking", split.dataset.has_timestamps)
        if self.config.hard_negatives:
            if not hasattr(ranker, "with_hard_negatives"):
                raise ConfigError(
                    f"ranker {ranker.name!r} samples no negatives; hard_negatives needs dcn"
                )
            ranker.with_hard_negatives(self._training_candidates(), self.config.hard_negatives)
        self.ranking_ = ranker.fit(split, options)
        self._fit_signals(split, options)
        self._note_context()
        self._fit_combiner(split, options.verbose)

    def _fit_signals(self, split, options) -> None:
        """Fits the signals (``signals_``, in the order of θ's features); one
        whose fit would exceed its memory limit (ease on a large catalogue) is
        left out, with a note."""
        c = self.config
        given = self._given_weights()
        self.signals_ = {}
        for name in c.used_signals():
            if given is not None and given[name] == 0:
                continue  # θ gives it no weight
            if options.verbose:
                print(f"cascade: fitting the signal {name}")
            model = self._model(name, c.signal_options.get(name, {}))
            try:
                self.signals_[name] = model.fit(split, options)
            except MemoryLimitError as e:
                if given is not None:
                    raise ConfigError(
                        f"stacking_weights weigh the signal {name}, which cannot be fitted "
                        f"here ({e}); give it weight 0"
                    ) from None
                print(f"cascade: the signal {name} is left out: {e}", file=sys.stderr)

    def _given_weights(self) -> dict[str, float] | None:
        """``stacking_weights`` by feature name (None when θ is fitted)."""
        c = self.config
        if c.stacking_weights is None or c.combiner == "weight":
            return None
        return dict(zip(c.feature_names(), c.stacking_weights, strict=True))

    def _feature_names(self) -> tuple[str, ...]:
        """θ's features: ``stacking.FEATURES``, then the fitted signals."""
        return (*FEATURES, *self.signals_)

    def _signal_scores(self, users, candidates) -> list[np.ndarray]:
        """Each signal's (len(users), N) scores of the users' candidates."""
        return [
            np.take_along_axis(model._score(users), candidates, 1).astype(np.float32)
            for model in self.signals_.values()
        ]

    def _check_stage(self, stage: str, model: Recommender) -> None:
        """Refuses a given stage fitted on other training users, items or
        interactions than the split's (its test items could be among them)."""
        for what in ("user", "item"):
            ours, theirs = getattr(self, f"{what}_ids_"), getattr(model, f"{what}_ids_")
            if len(ours) != len(theirs) or not np.array_equal(ours, theirs):
                raise ConfigError(
                    f"the {stage} stage ({model.name}) was fitted on other training {what}s "
                    f"({len(theirs):,}) than this split's ({len(ours):,}); fit both stages on "
                    "this split's training data"
                )
        ours, theirs = self.seen_, model.seen_
        if not (
            np.array_equal(ours.indptr, theirs.indptr)
            and np.array_equal(ours.indices, theirs.indices)
        ):
            raise ConfigError(
                f"the {stage} stage ({model.name}) was fitted on other training interactions "
                f"({theirs.nnz:,}) than this split's ({ours.nnz:,}); fit both stages on this "
                "split's training data (a run trained with --refit fitted train + validation)"
            )

    def _fit_combiner(self, split, verbose: bool) -> None:
        """Sets θ (``combiner_weights_``) from the config or on validation."""
        c = self.config
        self.retrieval_weight_ = self.stacking_l2_ = None
        if c.combiner == "weight":
            weight = c.retrieval_weight
            if weight is None:
                weight = self._choose_retrieval_weight(split, verbose)
            self.retrieval_weight_ = float(weight)
            self.combiner_weights_ = stacking.weight_theta(weight, len(self._feature_names()))
        elif (given := self._given_weights()) is not None:
            self.combiner_weights_ = np.asarray(
                [given[name] for name in self._feature_names()], np.float32
            )
        else:
            self.combiner_weights_ = self._fit_stacking(split, verbose)
        self._drop_unused_signals(verbose)

    def _drop_unused_signals(self, verbose: bool) -> None:
        """Drops the signals θ gives no weight, and their θ entries."""
        names = list(self.signals_)
        weights = self.combiner_weights_[len(FEATURES) :]
        unused = [name for name, weight in zip(names, weights, strict=True) if weight == 0]
        if not unused:
            return
        keep = [len(FEATURES) + names.index(n) for n in names if n not in unused]
        self.combiner_weights_ = self.combiner_weights_[[*range(len(FEATURES)), *keep]]
        self.signals_ = {n: m for n, m in self.signals_.items() if n not in unused}
        if verbose:
            print(f"cascade: θ gives no weight to the signals {', '.join(unused)}; dropped")

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
        chosen = (
            {"retrieval_weight": self.retrieval_weight_}
            if c.combiner == "weight"
            else {"stacking_weights": [float(w) for w in self.combiner_weights_]}
        )
        signals = {
            name: {**c.signal_options.get(name, {}), **model.refit_options()}
            for name, model in self.signals_.items()
        }
        return {
            **chosen,
            "retrieval_options": {**c.retrieval_options, **self.retrieval_.refit_options()},
            "ranking_options": {**c.ranking_options, **self.ranking_.refit_options()},
            # The stages' names count: a signal that names one is left out.
            "signals": [*self.signals_, *(s for s in c.signals if s not in c.used_signals())],
            "signal_options": {name: options for name, options in signals.items() if options},
        }

    def _candidates(self, users: np.ndarray, retrieval: np.ndarray):
        """(len(users), N) columns of each user's N best unseen items by ``retrieval``
        (best first, ties to the lower column as in the SavedModel), and the
        retrieval scores with the seen items at -inf."""
        masked = retrieval.copy()
        exclude(masked, self.seen_, users)
        return top_k(masked, self.config.candidates)[0], masked

    def _stages(self, users, context=None):
        """The retrieval scores, the candidates, the masked scores and the ranker's
        scores of the candidates (each stage that reads it in each user's
        request ``context``, when given)."""
        if context is not None and self._retriever_context():
            retrieval = self.retrieval_._score_in_context(users, context)
        else:
            retrieval = self.retrieval_._score(users)
        candidates, masked = self._candidates(users, retrieval)
        n = candidates.shape[1]
        pairs = np.repeat(users, n), candidates.ravel()
        if context is not None and self._ranker_context():
            context = {key: np.repeat(value, n) for key, value in context.items()}
            ranked = self.ranking_._predict_in_context(*pairs, context)
        else:
            ranked = self.ranking_._predict(*pairs)
        return retrieval, candidates, masked, ranked.reshape(len(users), n).astype(np.float32)

    def _score(self, users):
        return self._scored(users, self._stages(users))

    def _score_in_context(self, users, context):
        if not self.feature_schema_:
            raise NotSupportedError(
                f"neither stage of this cascade ({self.retrieval_.name} -> "
                f"{self.ranking_.name}) reads request context"
            )
        return self._scored(users, self._stages(users, context))

    def _scored(self, users, stages) -> np.ndarray:
        """The cascade's scores of every item from its stages' outputs and the signals."""
        signals = self._signal_scores(users, stages[1])
        return self._combine(*stages, self.combiner_weights_, signals)

    def _ranker_context(self) -> FeatureSchema:
        """The context a ranker reads in its pair scores (dcn's ``context_``)."""
        context = getattr(self.ranking_, "context_", None)
        return FeatureSchema() if context is None else FeatureSchema(context.features, context.time)

    def _retriever_context(self) -> FeatureSchema:
        """The context a retriever adds to its scores as a term of its own
        (two_tower's query term, which its export holds too; not with the
        triplet loss's unit queries). A retriever that reads context otherwise
        (dcn) scores without it here, as in the export."""
        retriever = self.retrieval_
        schema = retriever.feature_schema_
        adds_term = type(retriever)._context_scores is not Recommender._context_scores
        if not adds_term or getattr(retriever.config, "loss", None) == "triplet":
            return FeatureSchema()
        return FeatureSchema(schema.of("context"), schema.context_time)

    def _note_context(self) -> None:
        """The request context the cascade takes: what either stage reads."""
        ranker, retriever = self._ranker_context(), self._retriever_context()
        features = {f.key: f for f in (*retriever.features, *ranker.features)}
        time = ranker.context_time or retriever.context_time
        self.feature_schema_ = FeatureSchema(tuple(features.values()), time)
        self.reads_features = ("context",) if self.feature_schema_ else ()

    @staticmethod
    def _combine(retrieval, candidates, masked, ranked, theta, signals=()) -> np.ndarray:
        """The cascade's scores of every item (module docstring) from its stages'
        outputs and the signals' scores of the candidates."""
        x = stacking.features(ranked, np.take_along_axis(masked, candidates, 1), signals)
        ranked = stacking.combine(x, theta)
        best = np.take_along_axis(masked, candidates[:, :1], 1)
        with np.errstate(invalid="ignore"):
            below = np.minimum(retrieval - best, 0.0)  # NaN where both are -inf
        below[np.isnan(below)] = 0.0
        out = (ranked.min(axis=1, keepdims=True) - 1.0 + below).astype(np.float32)
        np.put_along_axis(out, candidates, ranked, 1)
        return out

    def _validation_stages(self, split):
        """The validation ranking, and its users' candidates, ranker scores and
        retrieval scores of the candidates (None without validation users)."""
        from tfrec.models.training.ranking_stopping import ValidationRanking

        ranking = ValidationRanking(self, split.validation, None, None)
        if not ranking.active:
            return None
        rows = ranking.rows
        parts = {"candidates": [], "ranked": [], "retrieved": [], "signals": []}
        for block in np.array_split(rows, -(-len(rows) // 1024)):
            _, block_candidates, masked, block_ranked = self._stages(block)
            parts["candidates"].append(block_candidates)
            parts["ranked"].append(block_ranked)
            parts["retrieved"].append(np.take_along_axis(masked, block_candidates, 1))
            signals = self._signal_scores(block, block_candidates)
            parts["signals"].append(np.reshape(signals, (-1, *block_candidates.shape)))
        found = {name: np.concatenate(values, axis=-2) for name, values in parts.items()}
        return ranking, found

    def _fit_stacking(self, split, verbose: bool) -> np.ndarray:
        """θ fitted on the validation users' items (:mod:`~tfrec.models.ranking.stacking`).

        ``stacked``: the listwise fit, λ chosen by the cross-fit unless
        ``stacking_l2`` is set; ``auto``: whichever of the listwise fit (each
        λ) and the weighted sum (w from ``RETRIEVAL_WEIGHTS``) has the best
        cross-fitted NDCG@10, refitted on all the validation users. With
        signals, the listwise fit is also tried without them (their weights
        0). Without validation users, the ranker's order alone."""
        names = self._feature_names()
        found = self._validation_stages(split)
        if found is None:
            return stacking.weight_theta(0.0, len(names))
        ranking, stages = found
        x = stacking.features(stages["ranked"], stages["retrieved"], stages["signals"])
        relevant = np.asarray(
            ranking.relevant[np.arange(len(x))[:, None], stages["candidates"]].todense()
        )
        n_relevant = np.diff(ranking.relevant.indptr)
        c = self.config
        penalties = stacking.L2_PENALTIES if c.stacking_l2 is None else (c.stacking_l2,)
        # label -> (fit, λ)
        fitters = {f"L2 {l2:g}": (stacking.listwise_fitter(l2), l2) for l2 in penalties}
        if self.signals_:
            for l2 in penalties:
                fitter = stacking.listwise_fitter(l2, len(FEATURES))
                fitters[f"L2 {l2:g} without signals"] = (fitter, l2)
        if c.combiner == "auto":
            fitters["weighted sum"] = (
                lambda *data: stacking.fit_weight(*data, RETRIEVAL_WEIGHTS),
                None,
            )
        tried = {}
        if len(fitters) > 1:
            fits = {label: fit for label, (fit, _) in fitters.items()}
            tried = stacking.cross_fit(x, relevant, n_relevant, fits)
        best = max(tried, key=tried.get) if tried else next(iter(fitters))
        fit, l2 = fitters[best]
        theta = fit(x, relevant, n_relevant).astype(np.float32)
        if l2 is None:
            self.retrieval_weight_ = float(theta[FEATURES.index("position")])
        else:
            self.stacking_l2_ = float(l2)
        if verbose:
            listed = ", ".join(f"{k}: {v:.4f}" for k, v in tried.items())
            weights = ", ".join(f"{n} {w:.3f}" for n, w in zip(names, theta, strict=True))
            print(f"cascade: combiner cross-fitted on validation NDCG@10 ({listed}); θ: {weights}")
        return theta

    def _choose_retrieval_weight(self, split, verbose: bool) -> float:
        """The weight of the retrieval order with the best validation NDCG@10
        (``combiner`` ``weight``).

        The ranker scores each validation user's candidates once; each weight
        then re-reads the retrieval scores a block of users at a time, so
        memory stays one block of the catalogue wide."""
        found = self._validation_stages(split)
        if found is None:
            return 0.0
        ranking, stages = found
        candidates, ranked = stages["candidates"], stages["ranked"]
        position = np.full(len(self.user_ids_), -1)
        position[ranking.rows] = np.arange(len(ranking.rows))

        def score_rows(users, weight):
            retrieval = self.retrieval_._score(users)
            masked = retrieval.copy()
            exclude(masked, self.seen_, users)
            at = position[users]
            theta = stacking.weight_theta(weight)
            return self._combine(retrieval, candidates[at], masked, ranked[at], theta)

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

        retrieval_context = None
        if self._retriever_context():  # its query's context term (two_tower's QueryScorer)
            retrieval_context = self.retrieval_.serving_history_scorer()
        return CascadeScorer(
            self.retrieval_.serving_scorer(seen),
            self.ranking_.serving_scorer(seen),
            seen,
            min(self.config.candidates, len(self.item_ids_)),
            self.combiner_weights_,
            retrieval_context,
            [model.serving_scorer(seen) for model in self.signals_.values()],
        )

    def _arrays(self):
        arrays = {
            "combiner_weights": np.asarray(self.combiner_weights_, np.float32),
            "signals": np.asarray(list(self.signals_), np.str_),
        }
        if self.retrieval_weight_ is not None:
            arrays["retrieval_weight"] = np.float64(self.retrieval_weight_)  # exact, for refit
        return arrays

    def _load_arrays(self, arrays):
        weight = arrays.get("retrieval_weight")
        self.retrieval_weight_ = None if weight is None else float(weight)
        if "combiner_weights" in arrays:
            self.combiner_weights_ = arrays["combiner_weights"]
        else:  # saved before stacking: the weighted sum
            self.combiner_weights_ = stacking.weight_theta(self.retrieval_weight_)
        self.stacking_l2_ = None
        self.signals_ = dict.fromkeys(arrays.get("signals", np.array([], np.str_)).tolist())

    def _save_extra(self, directory: Path):
        self.retrieval_.save(directory / "retrieval")
        self.ranking_.save(directory / "ranking")
        for name, model in self.signals_.items():
            model.save(directory / "signals" / name)

    def _load_extra(self, directory: Path):
        from tfrec.models import load_model

        try:
            self.retrieval_ = load_model(directory / "retrieval")
            self.ranking_ = load_model(directory / "ranking")
            signals = directory / "signals"
            self.signals_ = {name: load_model(signals / name) for name in self.signals_}
        except FileNotFoundError as e:
            raise TfrecError(f"{directory}: a cascade stage is missing ({e})") from None
        self._note_context()

"""One model's search on the validation split, within a time budget.

Optuna's TPE sampler (seeded with the run's seed) proposes settings from the
model's search space (:mod:`tfrec.tuning.space`); the first trial is always
the model's defaults. Each trial fits on train (early stopping on validation,
as a plain fit does) and is scored by :func:`tfrec.evaluation.evaluate` with
``part="validation"`` (NDCG@K for ranking models, RMSE for rating models on
rating data); the test split is never read here. One line per trial says the
trial, its settings, its score, the best so far and the time left.

The budget is checked between trials: a trial starts only while the time
left covers the mean trial time so far, so a search ends within its budget
unless its first trial alone takes longer. A finite space stops once every
setting is tried; a setting the sampler proposes again is answered from
memory, without a fit.
"""

from __future__ import annotations

import dataclasses
import math
import sys
import time

from tfrec.errors import TfrecError
from tfrec.evaluation import evaluate
from tfrec.models import Recommender, get_model, model_class
from tfrec.models.options import TrainingOptions
from tfrec.tuning import space as space_
from tfrec.tuning.budget import clock

LOWER_IS_BETTER = ("rmse", "mae")
_REPEATS = 100  # repeated proposals in a row after which the sampler is taken as done


def default_metric(name: str, dataset, k: int = 10) -> str:
    """RMSE for a rating model on rating data, else NDCG@k."""
    rates = model_class(name).predicts_ratings and not dataset.implicit
    return "rmse" if rates else f"ndcg@{k}"


def better(metric: str, score: float, than: float | None) -> bool:
    """Whether ``score`` beats ``than`` (None: nothing yet) under ``metric``."""
    if than is None:
        return True
    return score < than if metric in LOWER_IS_BETTER else score > than


@dataclasses.dataclass
class Trial:
    """One fitted setting.

    Attributes:
        number: 0 for the defaults, then 1, 2, ...
        params: The searched options' values.
        score: Validation score, or None when the fit failed.
        seconds: Fit and validation seconds.
        error: What went wrong, or None.
    """

    number: int
    params: dict
    score: float | None
    seconds: float
    error: str | None = None


class Search:
    """A budgeted search of one model's options; :meth:`run` may be called
    again to continue it (``--model auto`` runs every candidate's defaults
    first, then tunes each within its share of the budget).

    Args:
        name: Registered model name.
        parts: The :class:`~tfrec.splits.Split` to fit on and validate with.
        config: Options the user set; they are fixed, not searched.
        seed: Seed of the model (when it has one) and of the sampler.
        k: Cut-off of the ranking metrics.
        metric: Validation metric; default :func:`default_metric`.
        options: How each trial's fit runs (a strategy, no logs).
        say: Where progress lines go.
    """

    def __init__(
        self,
        name: str,
        parts,
        *,
        config: dict | None = None,
        seed: int = 0,
        k: int = 10,
        metric: str | None = None,
        options: TrainingOptions | None = None,
        say=None,
    ):
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        cls = model_class(name)
        self.name, self.parts, self.k = name, parts, k
        self.fixed = {**space_.fixed_by_data(cls.Config, parts.train), **(config or {})}
        if "seed" in cls.Config.__dataclass_fields__:
            self.fixed.setdefault("seed", seed)
        self.metric = metric or default_metric(name, parts.dataset, k)
        self.space = space_.searched(cls.Config, self.fixed)
        self.options = options or TrainingOptions()
        self.say = say or _stderr
        self.study = optuna.create_study(
            direction="minimize" if self.metric in LOWER_IS_BETTER else "maximize",
            sampler=optuna.samplers.TPESampler(seed=seed),
        )
        self.study.enqueue_trial(space_.defaults(cls.Config, self.space, self.fixed))
        self.trials: list[Trial] = []
        self.best: Trial | None = None
        self.best_model: Recommender | None = None
        self.seconds = 0.0
        self.stopped = "not run"

    @property
    def exhausted(self) -> bool:
        """Every setting of the space was tried (or the first trial, for an empty space)."""
        return len(self.trials) >= space_.size(self.space)

    def run(self, seconds: float | None = None, n_trials: int | None = None) -> Search:
        """Runs trials until ``seconds`` pass, ``n_trials`` more are fitted,
        or the space is exhausted; the first trial of a search always runs.

        Returns:
            self.
        """
        started = time.perf_counter()
        deadline = None if seconds is None else started + seconds
        distributions = space_.distributions(self.space)
        fitted = repeats = 0
        while True:
            if n_trials is not None and fitted >= n_trials:
                self.stopped = f"{len(self.trials)} trials"
                break
            if self.exhausted:
                self.stopped = "every setting tried"
                break
            if deadline is not None and self.trials:
                mean = sum(t.seconds for t in self.trials) / len(self.trials)
                if time.perf_counter() + mean > deadline:
                    self.stopped = "budget spent"
                    break
            trial = self.study.ask(distributions)
            earlier = next((t for t in self.trials if t.params == trial.params), None)
            if earlier is not None:  # proposed again: answer from memory
                self._tell(trial, earlier.score)
                repeats += 1
                if repeats >= _REPEATS:
                    self.stopped = "the sampler proposes only settings already tried"
                    break
                continue
            repeats = 0
            self._fit_trial(trial, deadline)
            fitted += 1
        self.seconds += time.perf_counter() - started
        return self

    def _fit_trial(self, trial, deadline) -> None:
        started = time.perf_counter()
        error = score = model = None
        try:
            model = get_model(self.name, {**self.fixed, **trial.params})
            model.fit(self.parts, self.options)
            score = evaluate(model, self.parts, k=self.k, part="validation").metrics.get(
                self.metric, math.nan
            )
            if not math.isfinite(score):
                raise TfrecError(f"validation {self.metric} is {score} (no user to score)")
        except Exception as e:  # a failed setting is recorded; the search goes on
            error, score, model = f"{type(e).__name__}: {e}", None, None
        seconds = time.perf_counter() - started
        record = Trial(len(self.trials), dict(trial.params), score, seconds, error)
        self.trials.append(record)
        self._tell(trial, score)
        if score is not None and better(self.metric, score, self.best and self.best.score):
            self.best, self.best_model = record, model
        self.say(self._line(record, deadline))

    def _tell(self, trial, score) -> None:
        from optuna.trial import TrialState

        if score is None:
            self.study.tell(trial, state=TrialState.FAIL)
        else:
            self.study.tell(trial, score)

    def _line(self, trial: Trial, deadline) -> str:
        params = " ".join(f"{k}={_short(v)}" for k, v in trial.params.items()) or "defaults"
        if trial.number == 0 and trial.params:
            params += " (defaults)"
        result = (
            f"failed: {trial.error}"
            if trial.error
            else f"validation {self.metric} {trial.score:.4f}"
        )
        best = f"best {self.best.score:.4f} (trial {self.best.number})" if self.best else "no best"
        left = "" if deadline is None else f", {clock(deadline - time.perf_counter())} left"
        return (
            f"tune {self.name}: trial {trial.number}  {params}  {result}  {best}  "
            f"| {trial.seconds:.1f} s{left}"
        )

    def release_model(self) -> None:
        """Forgets the best trial's fitted model (``--model auto`` keeps only the leader's)."""
        self.best_model = None

    def to_dict(self, budget_seconds: float | None = None) -> dict:
        """What ``metrics.json`` records under ``tuning``."""
        return {
            "model": self.name,
            "metric": f"validation {self.metric}",
            "space": space_.describe(self.space),
            "fixed": self.fixed,
            "sampler": "optuna TPE",
            "budget_seconds": None if budget_seconds is None else round(budget_seconds, 3),
            "seconds": round(self.seconds, 3),
            "n_trials": len(self.trials),
            "stopped": self.stopped,
            "best_trial": None if self.best is None else self.best.number,
            "best_validation": None if self.best is None else self.best.score,
            "chosen": None if self.best is None else self.best.params,
            "trials": [dataclasses.asdict(t) for t in self.trials],
        }


def tune(
    name: str,
    parts,
    *,
    budget_seconds: float | None = None,
    n_trials: int | None = None,
    **search_options,
) -> Search:
    """Searches one model's options on validation; the best trial's fitted
    model is ``.best_model`` (None when every trial failed: raises instead).

    Args:
        name: Registered model name.
        parts: The split.
        budget_seconds: Time budget (None: no limit).
        n_trials: At most this many fitted trials (None: no limit).
        **search_options: Options of :class:`Search` (``config``, ``seed``,
            ``k``, ``metric``, ``options``, ``say``).

    Raises:
        TfrecError: When no trial could be fitted and scored.
    """
    search = Search(name, parts, **search_options).run(budget_seconds, n_trials)
    if search.best is None:
        raise TfrecError(f"tuning {name}: every trial failed; first: {search.trials[0].error}")
    search.say(
        f"tune {name}: chose {search.best.params or 'the defaults'} (trial "
        f"{search.best.number}, validation {search.metric} {search.best.score:.4f}) after "
        f"{len(search.trials)} trials in {clock(search.seconds)}; {search.stopped}"
    )
    return search


def _short(value) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)

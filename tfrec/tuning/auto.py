"""``--model auto``: the candidate models that fit the data, compared on validation.

1. Candidates: on implicit data (or a ranking metric) the ranking models
   :data:`RANKING`, with the sequence model :data:`SEQUENCE` only when the
   data has timestamps; on rating data with RMSE, the rating models
   :data:`RATING`. Peers count only when their library is installed.
2. Every candidate is fitted with its defaults first, so that even a short
   budget compares them all; a candidate that fails (e.g. too large a
   catalogue) is reported and skipped.
3. The time left is shared among the candidates that have options, the best
   on validation first; the time one leaves unused passes to the next.
4. The best on validation wins; the test split is read once, for the
   winner only, by the caller (:func:`tfrec.train`).
"""

from __future__ import annotations

import dataclasses
import time

from tfrec.errors import ConfigError, TfrecError
from tfrec.models import is_available
from tfrec.splits import models_for
from tfrec.tuning.budget import clock
from tfrec.tuning.search import LOWER_IS_BETTER, Search, better

RANKING = ("popularity", "itemknn", "ease", "implicit_als", "implicit_bpr", "two_tower")
SEQUENCE = ("lstm_retrieval",)
RATING = ("bias", "svd", "itemknn", "mf", "surprise_baseline", "surprise_svd")


def candidates(parts, metric: str) -> list[str]:
    """The models ``--model auto`` compares on this split (installed ones only;
    for ``cold-items``, those that score new items from their content)."""
    dataset = parts.dataset
    if metric in LOWER_IS_BETTER:
        if dataset.implicit:
            raise ConfigError(
                f"{metric} needs ratings, and {dataset.name!r} has none (implicit feedback); "
                "use a ranking metric such as ndcg@10"
            )
        names = RATING
    else:
        names = RANKING + (SEQUENCE if dataset.has_timestamps else ())
    names = [name for name in names if is_available(name)]
    if parts.cold_items is not None:
        names = ["content_knn", "content_pop", *names]
    return models_for(parts.method, names)[0]
    return names


@dataclasses.dataclass
class Selection:
    """What ``--model auto`` found.

    Attributes:
        model: The winner's best fitted model (fitted on train).
        winner: Its search.
        searches: Every candidate's search, in candidate order.
        failed: Candidate -> why its defaults could not be fitted.
        seconds: Wall seconds of the whole selection.
        budget_seconds: The budget it was given.
        reason: One sentence: the winner and its margin over the runner-up.
    """

    model: object
    winner: Search
    searches: list[Search]
    failed: dict[str, str]
    seconds: float
    budget_seconds: float
    reason: str

    def leaderboard(self) -> list[dict]:
        """One row per fitted candidate, best validation score first."""
        rows = [
            {
                "model": s.name,
                "validation": s.best.score,
                "defaults": s.trials[0].score,
                "trials": len(s.trials),
                "seconds": round(s.seconds, 3),
                "chosen": s.best.params,
            }
            for s in self.searches
            if s.best is not None
        ]
        reverse = self.winner.metric not in LOWER_IS_BETTER
        return sorted(rows, key=lambda row: row["validation"], reverse=reverse)

    def to_dict(self) -> dict:
        """What ``metrics.json`` records under ``auto``."""
        return {
            "metric": f"validation {self.winner.metric}",
            "candidates": [s.name for s in self.searches],
            "budget_seconds": round(self.budget_seconds, 3),
            "seconds": round(self.seconds, 3),
            "winner": self.winner.name,
            "reason": self.reason,
            "leaderboard": self.leaderboard(),
            "failed": self.failed,
        }


def select(
    parts,
    *,
    budget_seconds: float,
    names: list[str] | None = None,
    metric: str | None = None,
    say=None,
    **search_options,
) -> Selection:
    """Fits every candidate with its defaults, tunes them within the budget,
    and keeps the best on validation.

    Args:
        parts: The split (validation is read, test is not).
        budget_seconds: Time for the whole selection (the defaults' fits
            always run, even past it).
        names: Candidates; default :func:`candidates`.
        metric: Validation metric; default NDCG@k on implicit data, RMSE on ratings.
        say: Where progress lines go.
        **search_options: Options of :class:`~tfrec.tuning.search.Search`
            (``seed``, ``k``, ``options``).

    Raises:
        TfrecError: When no candidate could be fitted.
    """
    started = time.perf_counter()
    k = search_options.get("k", 10)
    metric = metric or (f"ndcg@{k}" if parts.dataset.implicit else "rmse")
    names = list(names or candidates(parts, metric))
    searches = [Search(name, parts, metric=metric, say=say, **search_options) for name in names]
    say = searches[0].say
    say(
        f"auto: {len(names)} candidates on {parts.dataset.name!r} ({_kind(parts.dataset)}), "
        f"chosen by validation {metric} within {clock(budget_seconds)}: {', '.join(names)}"
    )
    leader: list[Search] = []

    def keep_leader(search: Search) -> None:
        """Only the leader's fitted model stays in memory."""
        if search.best is None:
            return
        if not leader or better(metric, search.best.score, leader[0].best.score):
            if leader and leader[0] is not search:
                leader[0].release_model()
            leader[:] = [search]
        elif search is not leader[0]:
            search.release_model()

    say("auto: every candidate with its defaults first")
    for search in searches:
        search.run(n_trials=1)
        keep_leader(search)
    failed = {s.name: s.trials[0].error for s in searches if s.best is None}
    for name, error in failed.items():
        say(f"auto: skipped {name}: {error}")
    fitted = [s for s in searches if s.best is not None]
    if not fitted:
        raise TfrecError(
            f"--model auto: every candidate failed; first: {searches[0].trials[0].error}"
        )
    tunable = sorted(
        (s for s in fitted if not s.exhausted),
        key=lambda s: s.best.score,
        reverse=metric not in LOWER_IS_BETTER,
    )
    for position, search in enumerate(tunable):
        left = budget_seconds - (time.perf_counter() - started)
        if left <= 0:
            break
        share = left / (len(tunable) - position)
        say(f"auto: tuning {search.name} for up to {clock(share)} ({clock(left)} left in all)")
        search.run(share)
        keep_leader(search)
    winner = leader[0]
    selection = Selection(
        winner.best_model,
        winner,
        searches,
        failed,
        time.perf_counter() - started,
        budget_seconds,
        _reason(winner, fitted),
    )
    say(f"auto: validation leaderboard ({metric}):")
    for rank, row in enumerate(selection.leaderboard(), 1):
        say(
            f"  {rank}. {row['model']:<14} {row['validation']:.4f}  (defaults "
            f"{row['defaults']:.4f}, {row['trials']} trials, {row['seconds']:.1f} s)"
        )
    say(f"auto: {selection.reason}")
    return selection


def _reason(winner: Search, fitted: list[Search]) -> str:
    metric, score = winner.metric, winner.best.score
    others = [s for s in fitted if s is not winner]
    if not others:
        return f"{winner.name} won: the only candidate fitted (validation {metric} {score:.4f})"
    runner_up = others[0]
    for search in others[1:]:
        if better(metric, search.best.score, runner_up.best.score):
            runner_up = search
    second = runner_up.best.score
    change = (score - second) / abs(second) * 100 if second else float("inf")
    return (
        f"{winner.name} won: validation {metric} {score:.4f} against the runner-up "
        f"{runner_up.name}'s {second:.4f} ({change:+.1f}%)"
    )


def _kind(dataset) -> str:
    feedback = "implicit feedback" if dataset.implicit else "ratings"
    return f"{feedback}, {'with' if dataset.has_timestamps else 'no'} timestamps"

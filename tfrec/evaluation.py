"""The one evaluation protocol, the same for every model.

* Rating metrics (rating models only): RMSE and MAE over the test pairs whose
  user and item occur in training, predictions clipped to the rating scale.
* Top-N, full ranking: a user is ranked when at least one of their test items
  is in the training catalogue; candidates are every catalogue item minus the
  user's train and validation items; relevant are the user's test items in
  the catalogue. HR, Precision, Recall, NDCG, MAP at K, and catalogue
  coverage (distinct recommended items / catalogue size).
* New users (split ``cold-users``): each cold user ranks the catalogue minus
  the items they brought, scored from those items alone; relevant are the
  next ones (:func:`tfrec.splits.split`).
* Sampled (the NCF protocol, labelled as such): each user's last test item
  among ``n_negatives`` items sampled uniformly from those the user never
  rated; HR@K and NDCG@K.

Users are scored in batches against the whole catalogue through
:meth:`Recommender.score`; there is no Python loop per user or rating.
"""

from __future__ import annotations

import functools
import operator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from tfrec import metrics
from tfrec.errors import ConfigError, TfrecError, check_choice, check_positive_int
from tfrec.features.raw import values_of
from tfrec.models.base import Recommender, encode
from tfrec.models.history import Histories


@dataclass
class EvaluationResult:
    """Metrics of one model on one split.

    Attributes:
        metrics: Flat dict, e.g. ``{"rmse": 0.96, "hr@10": 0.21, ...}``.
        per_user: One row per ranked user with that user's metric values.
        rating_per_user: Rating models only (else None): one row per user
            with scored test pairs: ``user_id``, ``n_pairs`` and the sums of
            squared and absolute errors (``sse``, ``sae``), from which RMSE and
            MAE over any subset of users follow.
    """

    metrics: dict
    per_user: pd.DataFrame = field(repr=False)
    rating_per_user: pd.DataFrame | None = field(default=None, repr=False)

    def to_dict(self) -> dict:
        """The metrics as a plain dict (JSON-ready)."""
        return dict(self.metrics)


def evaluate(
    model: Recommender,
    split,
    k: int = 10,
    *,
    part: str = "test",
    sampled: bool = False,
    n_negatives: int = 100,
    seed: int = 0,
    batch_size: int = 1024,
    semantic_vectors: np.ndarray | None = None,
    semantic_threshold: float = 0.8,
    users: int | None = None,
) -> EvaluationResult:
    """Evaluates a fitted model on ``split.test`` (or ``split.validation``).

    Args:
        model: A fitted :class:`Recommender`.
        split: The :class:`~tfrec.splits.Split` the model was fitted on.
        k: Cut-off of the top-N metrics.
        part: ``"test"`` or ``"validation"``. For validation, test items are
            not excluded from the candidates, only train items.
        sampled: Also compute the NCF sampled protocol (``sampled_hr@k``...).
        n_negatives: Negatives per user for the sampled protocol.
        seed: Seed of the negative sampling.
        batch_size: Users scored at once.
        semantic_vectors: (n_items, d) item vectors in ``model.item_ids``
            order (e.g. Word2Vec content vectors). When given, adds the seed
            notebook's "semantic" hit rate ``semantic_hr@k``: a user counts
            when a top-k item's cosine to one of their relevant items is at
            least ``semantic_threshold``. Reported apart from exact hits.
        semantic_threshold: Cosine a semantic hit needs.
        users: Evaluate a sample of this many of the part's users, drawn
            with ``seed`` (None: every user); the metrics record it as
            ``eval_users``.
    """
    k = check_positive_int("k", k)
    check_choice("part", part, ("test", "validation"))
    target = split.test if part == "test" else split.validation
    if users is not None and (split.cold_items is not None or split.given is not None):
        raise ConfigError(f"eval_users applies to warm splits; split {split.method!r} is not one")
    if users is not None:
        split, target = _sample_users(split, target, check_positive_int("eval_users", users), seed)
    if split.cold_items is not None:
        return _cold_start(model, split, target, split.cold_items[part], k, batch_size)
    if split.given is not None:
        return _new_users(model, split.given[part], target, split.dataset, k, batch_size)
    out: dict = {}
    rating_per_user = None
    if model.predicts_ratings:
        rating, rating_per_user = _rating_metrics(model, target)
        out.update(rating)
    ranking, per_user = _ranking_metrics(
        model, _user_groups(split, part), k, batch_size, semantic_vectors, semantic_threshold
    )
    out.update(ranking)
    if users is not None:
        out["eval_users"] = int(users)
    if sampled:
        everything = pd.concat([split.train, split.validation, split.test])
        out.update(_sampled_metrics(model, target, everything, k, n_negatives, seed, batch_size))
    return EvaluationResult(out, per_user, rating_per_user)


def _sample_users(split, target: pd.DataFrame, n: int, seed: int):
    """The split and target restricted to ``n`` of the target's users (seeded)."""
    import dataclasses

    present = np.unique(target["user_id"].to_numpy())
    if n >= len(present):
        return split, target
    chosen = np.sort(np.random.default_rng(seed).choice(present, n, replace=False))

    def mine(frame):
        return frame[np.isin(frame["user_id"].to_numpy(), chosen)]

    parts = {p: mine(getattr(split, p)) for p in ("train", "validation", "test")}
    return dataclasses.replace(split, **parts, part_shards=None), mine(target)


def _rating_metrics(model, target) -> tuple[dict, pd.DataFrame]:
    users, items, known = model.known_pairs(target)
    pairs = target[known]
    predicted = model.predict_rows(users[known], items[known], pairs["timestamp"].to_numpy())
    predicted = np.clip(predicted, *model.rating_scale_)
    actual = pairs["rating"].to_numpy()
    error = np.asarray(predicted, np.float64) - actual.astype(np.float64)
    user_ids, rows = np.unique(pairs["user_id"].to_numpy(), return_inverse=True)
    per_user = pd.DataFrame(
        {
            "user_id": user_ids.astype(np.int64),
            "n_pairs": np.bincount(rows, minlength=len(user_ids)),
            "sse": np.bincount(rows, error**2, minlength=len(user_ids)),
            "sae": np.bincount(rows, np.abs(error), minlength=len(user_ids)),
        }
    )
    summary = {
        "rmse": metrics.rmse(predicted, actual),
        "mae": metrics.mae(predicted, actual),
        "n_rating_pairs": int(known.sum()),
    }
    return summary, per_user


def _user_item_matrix(frame, user_ids, item_ids) -> sp.csr_matrix:
    """Binary (len(user_ids), len(item_ids)) matrix of the frame's pairs in the catalogue."""
    users, items = encode(user_ids, frame["user_id"]), encode(item_ids, frame["item_id"])
    ok = (users >= 0) & (items >= 0)
    matrix = sp.csr_matrix(
        (np.ones(ok.sum(), dtype=np.float32), (users[ok], items[ok])),
        shape=(len(user_ids), len(item_ids)),
    )
    matrix.sum_duplicates()
    return matrix


def _ranked_users(model, target) -> tuple[np.ndarray, sp.csr_matrix]:
    in_catalog = encode(model.item_ids_, target["item_id"]) >= 0
    user_ids = np.unique(target["user_id"].to_numpy()[in_catalog]).astype(np.int64)
    return user_ids, _user_item_matrix(target, user_ids, model.item_ids_)


def _user_groups(split, part: str):
    """``(target, seen)`` of each group of users ranked apart: ``part``'s rows
    and the frames whose pairs are excluded (train, and validation for test).

    A prepared split's parts are its shards' rows, shard after shard, and shard
    s of every part holds the same users (``Split.part_shards``): each shard
    is a group, so the matrices of an evaluation hold one shard's users at a
    time. Otherwise every user is in one group.
    """
    seen = ["train", "validation"] if part == "test" else ["train"]
    shards = split.part_shards
    if shards is None or any(sum(shards[p]) != len(getattr(split, p)) for p in (part, *seen)):
        yield getattr(split, part), [getattr(split, p) for p in seen]
        return
    bounds = {p: np.cumsum((0, *split.part_shards[p])) for p in (part, *seen)}
    for s in range(len(split.part_shards[part])):

        def shard(p, s=s):
            return getattr(split, p).iloc[bounds[p][s] : bounds[p][s + 1]]

        yield shard(part), [shard(p) for p in seen]


def _ranking_metrics(model, groups, k, batch_size, vectors=None, threshold=0.8):
    """The top-N metrics over every group of users (:func:`_user_groups`)."""
    frames, recommended = [], None
    for target, seen in groups:
        frame, shown = _ranking_frame(model, target, seen, k, batch_size, vectors, threshold)
        frames.append(frame)
        recommended = shown if recommended is None else recommended | shown
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    if len(frames) > 1:
        frame = frame.sort_values("user_id", kind="stable", ignore_index=True)
    result = _summary(frame, recommended, k)
    if vectors is not None:
        result[f"semantic_hr@{k}"] = _mean(frame, "semantic_hr")
        result["semantic_threshold"] = float(threshold)
    return result, frame


def _ranking_frame(model, target, seen, k, batch_size, vectors=None, threshold=0.8):
    """One group's per-user results and which items its top k showed.
    ``seen``: the frames whose pairs are excluded (not concatenated: a copy of
    the whole training set would be the largest allocation of an evaluation)."""
    user_ids, relevant = _ranked_users(model, target)
    excluded = functools.reduce(
        operator.add, (_user_item_matrix(frame, user_ids, model.item_ids_) for frame in seen)
    )
    n_relevant = np.diff(relevant.indptr)
    semantic = np.zeros(len(user_ids), dtype=bool)
    on_top_k = None
    if vectors is not None:
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.shape[0] != len(model.item_ids_):
            raise TfrecError(
                f"semantic_vectors needs one row per catalogue item ({len(model.item_ids_)}); "
                f"got {vectors.shape[0]}"
            )
        unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)

        def on_top_k(rows, index, valid):
            semantic[rows] = metrics.semantic_hits(index, valid, relevant[rows], unit, threshold)

    columns, recommended = _rank(model, user_ids, relevant, excluded, k, batch_size, on_top_k)
    frame = pd.DataFrame({"user_id": user_ids, "n_relevant": n_relevant, **columns})
    if vectors is not None:
        frame["semantic_hr"] = semantic
    return frame, recommended


def _mean(frame: pd.DataFrame, column: str) -> float:
    return float(frame[column].mean()) if len(frame) else float("nan")


def _summary(frame: pd.DataFrame, recommended: np.ndarray, k: int) -> dict:
    """The top-N metrics of per-user results, and the coverage of the candidates."""
    return {
        f"hr@{k}": _mean(frame, "hr"),
        f"precision@{k}": _mean(frame, "precision"),
        f"recall@{k}": _mean(frame, "recall"),
        f"ndcg@{k}": _mean(frame, "ndcg"),
        f"map@{k}": _mean(frame, "ap"),
        f"coverage@{k}": float(recommended.mean()) if len(recommended) else 0.0,
        "n_users_ranked": len(frame),
    }


def _cold_start(model, split, target, candidates, k, batch_size) -> EvaluationResult:
    """The cold-items protocol (see :func:`_cold_problem`)."""
    result = _ranked(*_cold_problem(model, split, target, candidates), k, batch_size)
    result.metrics["n_cold_items"] = len(candidates)
    return result


def _ranked(user_ids, relevant, excluded, score, k, batch_size) -> EvaluationResult:
    """The top-N metrics of ``score(rows)`` for a protocol's users and items."""
    columns, recommended = metrics.full_ranking(score, relevant, excluded, k, batch_size)
    frame = pd.DataFrame({"user_id": user_ids, "n_relevant": np.diff(relevant.indptr), **columns})
    return EvaluationResult(_summary(frame, recommended, k), frame, None)


def _cold_problem(model, split, target, candidates):
    """Each ranked user (a rating of a cold item of this part, and at least
    COLD_MIN_RATINGS train ratings) ranks this part's cold items, which the
    model scores from their content alone; relevant: those they rated.

    Returns:
        (user_ids, relevant, excluded (none), ``score(rows)`` over the candidates).
    """
    from tfrec.splits import COLD_MIN_RATINGS

    train_counts = split.train["user_id"].value_counts()
    active = train_counts.index[train_counts >= COLD_MIN_RATINGS].to_numpy()
    user_ids = np.intersect1d(np.unique(target["user_id"].to_numpy()), active).astype(np.int64)
    rows = encode(model.user_ids_, user_ids)
    user_ids, rows = user_ids[rows >= 0], rows[rows >= 0]
    relevant = _user_item_matrix(target, user_ids, candidates)
    items = split.dataset.items.set_index("item_id").loc[candidates].reset_index()
    scores = model.new_item_scorer(items)
    excluded = sp.csr_matrix(relevant.shape, dtype=np.float32)
    return user_ids, relevant, excluded, lambda block: scores(rows[block])


def user_features(dataset, user_ids) -> dict | None:
    """Raw user-feature values of frame ``user_ids`` (what a new user is known by
    besides their items), or None when ``dataset`` has no user features."""
    features = dataset.features.of("user")
    if not features:
        return None
    return values_of(features, dataset.users, "user_id", user_ids)


def _new_users(model, given, target, dataset, k, batch_size) -> EvaluationResult:
    """The cold-users protocol (see :func:`_new_user_problem`)."""
    return _ranked(*_new_user_problem(model, given, target, dataset), k, batch_size)


def _new_user_problem(model, given, target, dataset):
    """Each cold user with a relevant item ranks every catalogue item but the
    ones they brought (``given``), scored from those and their user features
    (:meth:`Recommender.score_histories`); relevant: the next ones (``target``).

    Returns:
        (user_ids, relevant, excluded, ``score(rows)``).
    """
    user_ids, relevant = _ranked_users(model, target)
    histories = Histories.from_frame(given, user_ids, model.item_ids_)
    histories.features = user_features(dataset, user_ids)
    excluded = histories.matrix()
    return user_ids, relevant, excluded, lambda rows: model.score_histories(histories[rows])


@dataclass
class RankedTopK:
    """Each ranked user's top-k list under the full-ranking protocol.

    Attributes:
        user_ids: (n_users,) raw IDs of the ranked users (as in ``per_user``).
        items: (n_users, k) item indices into ``model.item_ids`` (into the
            cold items, for ``cold-items``), best first; -1 where a user has
            fewer than k candidates.
        hits: (n_users, k) whether each recommended item is relevant.
        n_relevant: (n_users,) number of relevant items per user.
    """

    user_ids: np.ndarray
    items: np.ndarray
    hits: np.ndarray
    n_relevant: np.ndarray


def ranked_top_k(
    model: Recommender, split, k: int = 50, *, part: str = "test", batch_size: int = 1024
) -> RankedTopK:
    """The top-``k`` lists behind :func:`evaluate`'s top-N metrics, same users
    and candidates, e.g. for NDCG@K curves or popularity statistics.

    Args:
        model: A fitted :class:`Recommender`.
        split: The split it was fitted on.
        k: Length of the lists.
        part: ``"test"`` or ``"validation"`` (as in :func:`evaluate`).
        batch_size: Users scored at once.
    """
    k = check_positive_int("k", k)
    check_choice("part", part, ("test", "validation"))
    target = split.test if part == "test" else split.validation
    if split.cold_items is not None:
        user_ids, relevant, excluded, score = _cold_problem(
            model, split, target, split.cold_items[part]
        )
    elif split.given is not None:
        user_ids, relevant, excluded, score = _new_user_problem(
            model, split.given[part], target, split.dataset
        )
    else:
        seen = pd.concat([split.train, split.validation] if part == "test" else [split.train])
        user_ids, relevant = _ranked_users(model, target)
        excluded = _user_item_matrix(seen, user_ids, model.item_ids_)
        score = None
    items = np.full((len(user_ids), k), -1, dtype=np.int64)
    hits = np.zeros((len(user_ids), k), dtype=bool)

    def keep(rows, index, valid):
        width = index.shape[1]  # below k when the catalogue is smaller
        items[rows, :width] = np.where(valid, index, -1)
        hits[rows, :width] = metrics.contains(relevant[rows], index) & valid

    if score is None:
        _rank(model, user_ids, relevant, excluded, k, batch_size, keep)
    else:
        metrics.full_ranking(score, relevant, excluded, k, batch_size, keep)
    return RankedTopK(user_ids, items, hits, np.diff(relevant.indptr))


def _rank(model, user_ids, relevant, excluded, k, batch_size, on_top_k):
    """:func:`metrics.full_ranking` of the model's scores for ``user_ids``; several
    batches at once on threads for the models that score with numpy alone."""
    return metrics.full_ranking(
        lambda rows: model.score_rows(encode(model.user_ids_, user_ids[rows])),
        relevant,
        excluded,
        k,
        batch_size,
        on_top_k,
        threads=metrics.RANKING_THREADS if model.parallel_scoring else 1,
    )


def _sampled_metrics(model, target, everything, k, n_negatives, seed, batch_size):
    n_items = len(model.item_ids_)
    n_negatives = check_positive_int("n_negatives", n_negatives)
    last = target.sort_values("timestamp", kind="stable").groupby("user_id").tail(1)
    last = last[encode(model.item_ids_, last["item_id"]) >= 0]
    user_ids = last["user_id"].to_numpy().astype(np.int64)
    positives = encode(model.item_ids_, last["item_id"])
    interacted = _user_item_matrix(everything, user_ids, model.item_ids_)
    available = n_items - np.diff(interacted.indptr)
    if len(user_ids) == 0 or available.min() < n_negatives:
        return {
            f"sampled_hr@{k}": float("nan"),
            f"sampled_ndcg@{k}": float("nan"),
            "sampled_n_users": int(len(user_ids)),
            "sampled_n_negatives": n_negatives,
        }
    negatives = sample_negatives(interacted, n_negatives, np.random.default_rng(seed))
    hr, ndcg = [], []
    for start in range(0, len(user_ids), batch_size):
        rows = np.arange(start, min(start + batch_size, len(user_ids)))
        scores = model.score_rows(encode(model.user_ids_, user_ids[rows]))
        local = np.arange(len(rows))
        result = metrics.sampled_rank_metrics(
            scores[local, positives[rows]], scores[local[:, None], negatives[rows]], k
        )
        hr.append(result["hr"])
        ndcg.append(result["ndcg"])
    return {
        f"sampled_hr@{k}": float(np.concatenate(hr).mean()),
        f"sampled_ndcg@{k}": float(np.concatenate(ndcg).mean()),
        "sampled_n_users": int(len(user_ids)),
        "sampled_n_negatives": n_negatives,
    }


def sample_negatives(interacted: sp.csr_matrix, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` distinct items per row, uniform over the items a row never touched.

    Vectorised rejection sampling over all rows at once; rows still short of
    ``n`` valid draws are drawn again.

    Returns:
        (n_rows, n) int64 item indices.
    """
    n_rows, n_items = interacted.shape
    keys = _pair_keys(interacted)
    out = np.full((n_rows, n), -1, dtype=np.int64)
    todo = np.arange(n_rows)
    while len(todo):
        draws = rng.integers(0, n_items, size=(len(todo), 2 * n + 16))
        bad = np.isin(todo[:, None] * n_items + draws, keys)
        # Mark repeated draws within a row as bad, keeping the first.
        order = np.argsort(draws, axis=1, kind="stable")
        sorted_draws = np.take_along_axis(draws, order, axis=1)
        repeat = np.zeros_like(bad)
        repeat[:, 1:] = sorted_draws[:, 1:] == sorted_draws[:, :-1]
        np.put_along_axis(bad, order, np.take_along_axis(bad, order, axis=1) | repeat, axis=1)
        good = ~bad
        enough = good.sum(axis=1) >= n
        rows_done = np.flatnonzero(enough)
        position = np.argsort(~good[rows_done], axis=1, kind="stable")[:, :n]
        out[todo[rows_done]] = np.take_along_axis(draws[rows_done], position, axis=1)
        todo = todo[~enough]
    return out


def _pair_keys(matrix: sp.csr_matrix) -> np.ndarray:
    rows = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
    return rows.astype(np.int64) * matrix.shape[1] + matrix.indices

"""How much a cascade's second stage could gain: its candidates' test order under each combiner.

A cascade (fitted here with its defaults, or loaded with ``--load``) hands
each test user the retriever's top N unseen items; the protocol also drops
the user's validation items. This orders those candidates by

* ``retriever``: the retriever's order (its own HR@10 / NDCG@10, as
  ``evaluate`` gives them: at least 10 candidates are left per user);
* ``cascade``: the fitted θ, chosen on validation, with the signals it
  weighs (``evaluate``'s figures);
* ``listwise_on_test``: θ fitted on the test items by the listwise likelihood
  the cascade fits on validation (:mod:`tfrec.models.ranking.stacking`);
* ``best_on_test``: the θ with the best test NDCG@10 found by a direct search
  (random directions, then local steps): an optimistic ceiling of any linear
  combiner of the stacking features;
* ``perfect``: the user's test items among the candidates first, the ceiling
  of any re-ranking of these candidates.

The users are the test users the cascade knows (those it re-ranks); on a
log where some test users are absent from train (steam-hours, random split)
``evaluate`` also ranks those by its fallback, so its figures differ. Test
chooses nothing here: the last three rows are diagnostics of what the
stages can give, not models. ``--extra itemknn,ease`` adds those models'
standardised scores of the candidates to the features of the two ``on_test``
rows (and a ``listwise_on_validation`` row with them, θ fitted on the
validation items as the cascade does). The last line is one JSON object.

    python scripts/cascade_headroom.py --dataset ml-latest-small --seed 0
    python scripts/cascade_headroom.py --dataset steam-hours --split random --seed 0
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import scipy.sparse as sp

import tfrec
from tfrec.metrics import ranking_metrics
from tfrec.models.ranking import stacking
from tfrec.models.training.ranking_stopping import ValidationRanking


def load(name: str):
    """ml-latest-small (or any tfrec dataset name), or steam-hours with hours as weights."""
    if name != "steam-hours":
        return tfrec.load_dataset(name)
    import pandas as pd

    from tfrec.data.registry import data_root

    frame = pd.read_csv(data_root() / "steam-hours" / "hours.csv").iloc[:, :3]
    columns = {"user": "user-id", "item": "game-title", "weight": "value"}
    return tfrec.load_dataset(frame, columns=columns)


def candidate_features(cascade, frame, excluded, extra):
    """(features, the cascade's scores, relevant, n_relevant, kept) of the
    candidates of ``frame``'s users."""
    ranking = ValidationRanking(cascade, frame, None, None, max_users=np.iinfo(np.int64).max)
    rows = ranking.rows
    parts = {"candidates": [], "ranked": [], "retrieved": [], "cascade": []}
    parts.update({name: [] for name in extra})
    for block in np.array_split(rows, -(-len(rows) // 1024)):
        stages = cascade._stages(block)
        _, candidates, masked, ranked = stages
        parts["cascade"].append(np.take_along_axis(cascade._scored(block, stages), candidates, 1))
        parts["candidates"].append(candidates)
        parts["ranked"].append(ranked)
        parts["retrieved"].append(np.take_along_axis(masked, candidates, 1))
        for name, model in extra.items():
            parts[name].append(np.take_along_axis(model._score(block), candidates, 1))
    found = {name: np.concatenate(values) for name, values in parts.items()}
    columns = [stacking.features(found["ranked"], found["retrieved"])]
    columns += [stacking.standardised(stacking.finite(found[n]))[..., None] for n in extra]
    at = np.arange(len(rows))[:, None], found["candidates"]
    relevant = np.asarray(ranking.relevant[at].todense()) > 0
    kept = np.ones_like(relevant)
    if excluded is not None:
        users, items, ok = cascade.known_pairs(excluded)
        shape = (len(cascade.user_ids_), len(cascade.item_ids_))
        matrix = sp.csr_matrix((np.ones(ok.sum()), (users[ok], items[ok])), shape=shape)[rows]
        kept = ~(np.asarray(matrix[at].todense()) > 0)
    if kept.sum(axis=1).min() < 10:
        print("note: a user has fewer than 10 candidates left; figures are below evaluate's")
    n_relevant = np.diff(ranking.relevant.indptr)
    return np.concatenate(columns, -1), found["cascade"], relevant, n_relevant, kept


def metrics(scores, relevant, n_relevant, kept) -> dict:
    scores = np.where(kept, scores, -np.inf)
    top = np.argpartition(-scores, 10, axis=1)[:, :10]
    order = np.argsort(-np.take_along_axis(scores, top, 1), axis=1, kind="stable")
    hits = np.take_along_axis(relevant, np.take_along_axis(top, order, 1), 1)
    found = ranking_metrics(hits, np.maximum(n_relevant, 1))
    return {
        "hr@10": round(float(found["hr"].mean()), 4),
        "ndcg@10": round(float(found["ndcg"].mean()), 4),
    }


def best_theta(x, relevant, n_relevant, kept, seed: int = 0, tries: int = 3000):
    """The θ (unit norm) of the best NDCG@10 found: random directions, then local steps."""
    rng = np.random.default_rng(seed)

    def ndcg(theta):
        return metrics(x @ theta, relevant, n_relevant, kept)["ndcg@10"]

    best = max((rng.normal(size=x.shape[2]) for _ in range(tries)), key=ndcg)
    best, value = best / np.linalg.norm(best), ndcg(best)
    for step in (0.2, 0.1, 0.05, 0.02):
        for _ in range(tries // 10):
            theta = best + step * rng.normal(size=x.shape[2])
            theta /= np.linalg.norm(theta)
            if (found := ndcg(theta)) > value:
                best, value = theta, found
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", default="ml-latest-small")
    parser.add_argument("--split", default="temporal")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--load", help="a saved cascade fitted on this split (else fitted here)")
    parser.add_argument("--save", help="save the cascade fitted here to this directory")
    parser.add_argument("--extra", default="", help="models whose scores join the features")
    args = parser.parse_args()

    split = tfrec.split(load(args.dataset), args.split, seed=args.seed)
    started = time.perf_counter()
    if args.load:
        cascade = tfrec.load_model(args.load)
    else:
        cascade = tfrec.get_model("cascade", seed=args.seed).fit(split, verbose=True)
        if args.save:
            cascade.save(args.save)
    fitted = time.perf_counter() - started
    extra = {name: tfrec.get_model(name).fit(split) for name in filter(None, args.extra.split(","))}

    x, scores, relevant, n_relevant, kept = candidate_features(
        cascade, split.test, split.validation, extra
    )
    base = len(stacking.FEATURES)
    l2 = cascade.stacking_l2_ or 1e-3  # a loaded cascade keeps θ, not its λ

    def measure(scores):
        return metrics(scores, relevant, n_relevant, kept)

    rows = {
        "retriever": measure(-np.arange(x.shape[1], dtype=np.float32)[None]),
        "cascade": measure(scores),
        "perfect": measure(relevant.astype(np.float32)),
    }
    names = ["stacking"] + (["stacking+" + "+".join(extra)] if extra else [])
    if extra:
        vx, _, v_relevant, _, _ = candidate_features(cascade, split.validation, None, extra)
        rows[f"listwise_on_validation ({names[1]})"] = measure(
            x @ stacking.fit_listwise(vx, v_relevant, l2)
        )
    for name, width in zip(names, (base, x.shape[2]), strict=False):
        features = x[..., :width]
        rows[f"listwise_on_test ({name})"] = measure(
            features @ stacking.fit_listwise(features, relevant & kept, l2)
        )
        rows[f"best_on_test ({name})"] = measure(
            features @ best_theta(features, relevant, n_relevant, kept)
        )
    recall = float((relevant & kept).sum() / np.maximum(n_relevant, 1).sum())
    for name, row in rows.items():
        print(f"{name:45s} HR@10 {row['hr@10']:.4f}  NDCG@10 {row['ndcg@10']:.4f}")
    print(f"{len(x):,} users; test items among the {x.shape[1]} candidates: {recall:.1%}")
    print(
        json.dumps(
            {
                "dataset": args.dataset,
                "split": args.split,
                "seed": args.seed,
                "fit_s": round(fitted),
                "users": len(x),
                "candidates": int(x.shape[1]),
                "recall": round(recall, 4),
                "theta": [round(float(w), 3) for w in cascade.combiner_weights_],
                "rows": rows,
            }
        )
    )


if __name__ == "__main__":
    main()

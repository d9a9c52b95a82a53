"""A listwise combiner of a cascade's two stages, fitted on interactions neither stage saw.

For a user u with candidates C_u (the retriever's top N unseen items), each
candidate i gets features standardised over C_u (z_u: minus the mean over
C_u, over the standard deviation):

    x_ui = [z_u(s_ui), z_u(r_ui), z_u(-rank_u(i)), z_u(-log(1 + rank_u(i))) (| z_u(g_ui) ...)]

with s_ui the ranker's score, r_ui the retriever's own score, rank_u(i)
the candidate's place (0 = best) in the retriever's order and g_ui the
scores of the cascade's other models (its ``signals``: itemknn, ease...),
and the cascade scores them with

    t_ui = θ · x_ui

θ is fitted on the validation users' items (which neither stage trained on):
it maximises the listwise softmax likelihood of each user's validation items
among their candidates, each user weighing one, with an L2 penalty λ:

    L(θ) = -(1/|U|) Σ_u (1/|P_u|) Σ_{i ∈ P_u} [t_ui - log Σ_{j ∈ C_u} e^{t_uj}] + λ ||θ||²

(P_u: the user's validation items among C_u; users with none are left out).
λ is chosen from ``L2_PENALTIES`` by a two-fold cross-fit over the
validation users (fit on one half, NDCG@10 on the other, both ways), and θ
is then refitted on all of them. This is stacking (Wolpert, "Stacked
generalization", Neural Networks 1992): the second level learns how far to
trust each stage from data the first level did not fit.
"""

from __future__ import annotations

import numpy as np

# The candidates' features, in the order of θ (the signals' scores follow them).
FEATURES = ("ranker", "retriever", "position", "log_position")
# L2 penalties λ tried by the cross-fit.
L2_PENALTIES = (1e-4, 1e-3, 1e-2, 1e-1)
_EPSILON = np.float32(1e-6)


def standardised(scores: np.ndarray) -> np.ndarray:
    """Each row minus its mean, over its standard deviation (float32, as in TensorFlow)."""
    scores = np.asarray(scores, np.float32)
    centred = scores - scores.mean(axis=1, keepdims=True, dtype=np.float32)
    spread = np.sqrt(np.mean(centred * centred, axis=1, keepdims=True, dtype=np.float32))
    return (centred / (spread + _EPSILON)).astype(np.float32)


def position_features(n: int) -> np.ndarray:
    """(1, n, 2) the standardised -rank and -log(1 + rank) of n candidates in retrieval order."""
    rank = np.arange(n, dtype=np.float32)[None, :]
    return np.stack([standardised(-rank), standardised(-np.log1p(rank))], axis=-1)


def features(ranked: np.ndarray, retrieved: np.ndarray, signals=()) -> np.ndarray:
    """(users, N, len(FEATURES) + len(signals)) float32 features of each user's N candidates.

    Args:
        ranked: (users, N) the ranker's scores of the candidates.
        retrieved: (users, N) the retriever's scores of the same candidates,
            best first (the retrieval order).
        signals: (users, N) scores of the same candidates by each other model.
    """
    users, n = ranked.shape
    positions = np.broadcast_to(position_features(n), (users, n, 2))
    columns = [standardised(ranked)[..., None], standardised(finite(retrieved))[..., None]]
    others = [standardised(finite(signal))[..., None] for signal in signals]
    return np.concatenate([*columns, positions, *others], axis=-1)


def finite(scores: np.ndarray) -> np.ndarray:
    """Each row's -inf (seen items, when a user has fewer unseen items than
    candidates) raised to the row's lowest finite score (0 when none is)."""
    scores = np.asarray(scores, np.float32)
    ok = np.isfinite(scores)
    lowest = np.where(ok, scores, np.inf).min(axis=1, keepdims=True)
    lowest[~np.isfinite(lowest)] = 0.0
    return np.where(ok, scores, lowest).astype(np.float32)


def combine(x: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """(users, N) t = θ · x, float32, summed feature by feature as the SavedModel does."""
    out = np.zeros(x.shape[:2], np.float32)
    for k, weight in enumerate(np.asarray(theta, np.float32)):
        out += weight * x[..., k]
    return out


def fit_listwise(x: np.ndarray, relevant: np.ndarray, l2: float) -> np.ndarray:
    """θ minimising L(θ) (module docstring) over the rows with a relevant candidate.

    Args:
        x: (users, N, F) candidate features.
        relevant: (users, N) 1 where the candidate is one of the user's held-out items.
        l2: The penalty λ.

    Returns:
        (F,) float64 θ.
    """
    from scipy.optimize import minimize

    relevant = np.asarray(relevant, np.float64)
    keep = relevant.sum(axis=1) > 0
    x, relevant = np.asarray(x[keep], np.float64), relevant[keep]
    n_features = x.shape[2]
    if len(x) == 0:
        return np.zeros(n_features)
    target = relevant / relevant.sum(axis=1, keepdims=True)  # each user weighs one

    def loss(theta):
        t = x @ theta
        t -= t.max(axis=1, keepdims=True)
        log_p = t - np.log(np.exp(t).sum(axis=1, keepdims=True))
        value = -(target * log_p).sum() / len(x) + l2 * theta @ theta
        grad = -np.einsum("un,unf->f", target - np.exp(log_p), x) / len(x) + 2 * l2 * theta
        return value, grad

    return minimize(loss, np.zeros(n_features), jac=True, method="L-BFGS-B").x


def ndcg_at_10(scores: np.ndarray, relevant: np.ndarray, n_relevant: np.ndarray) -> np.ndarray:
    """Per-user NDCG@10 of ordering each user's candidates by ``scores`` (ties to
    the lower column), out of ``n_relevant`` held-out items (all of them, also
    those outside the candidates), as :func:`tfrec.metrics.ranking_metrics`."""
    from tfrec.metrics import ranking_metrics

    order = np.argsort(-scores, axis=1, kind="stable")[:, :10]
    hits = np.take_along_axis(np.asarray(relevant) > 0, order, axis=1)
    return ranking_metrics(hits, np.maximum(n_relevant, 1))["ndcg"]


def weight_theta(weight: float, n_features: int = len(FEATURES)) -> np.ndarray:
    """θ of the weighted sum z(ranker) + w · z(-position), float32 (0 for the signals)."""
    theta = np.zeros(n_features, np.float32)
    theta[FEATURES.index("ranker")] = 1.0
    theta[FEATURES.index("position")] = weight
    return theta


def fit_weight(x, relevant, n_relevant, weights) -> np.ndarray:
    """θ of the weighted sum with the best NDCG@10 among ``weights`` (the first on ties)."""
    n = x.shape[2]
    ndcg = [
        ndcg_at_10(combine(x, weight_theta(w, n)), relevant, n_relevant).mean() for w in weights
    ]
    return weight_theta(weights[int(np.argmax(ndcg))], n)


def cross_fit(x, relevant, n_relevant, fitters: dict, seed: int = 0) -> dict:
    """Two-fold cross-fitted NDCG@10 of each way to fit θ.

    Users are halved by a seeded permutation; θ fitted on one half is measured
    on the other, both ways; the mean over all the users counts.

    Args:
        fitters: {name: fit(x, relevant, n_relevant) -> θ}.

    Returns:
        {name: cross-fitted NDCG@10}.
    """
    n = len(x)
    first = np.zeros(n, bool)
    first[np.random.default_rng(seed).permutation(n)[: n // 2]] = True
    scores = {}
    for name, fit in fitters.items():
        ndcg = np.empty(n)
        for fit_on in (first, ~first):
            theta = fit(x[fit_on], relevant[fit_on], n_relevant[fit_on])
            held = ~fit_on
            ndcg[held] = ndcg_at_10(combine(x[held], theta), relevant[held], n_relevant[held])
        scores[name] = float(ndcg.mean())
    return scores


def listwise_fitter(l2: float, width: int | None = None):
    """``fit(x, relevant, n_relevant) -> θ`` of :func:`fit_listwise` with penalty ``l2``;
    ``width``: over the first ``width`` features alone (the others' weights 0)."""

    def fit(x, relevant, n_relevant):
        theta = np.zeros(x.shape[2])
        theta[:width] = fit_listwise(x[..., :width], relevant, l2)
        return theta

    return fit


def choose_l2(
    x: np.ndarray, relevant: np.ndarray, n_relevant: np.ndarray, seed: int = 0
) -> tuple[float, dict[float, float]]:
    """The λ of ``L2_PENALTIES`` with the best two-fold cross-fitted NDCG@10
    (:func:`cross_fit`).

    Returns:
        (the λ chosen, {λ: cross-fitted NDCG@10}).
    """
    scores = cross_fit(
        x, relevant, n_relevant, {l2: listwise_fitter(l2) for l2 in L2_PENALTIES}, seed
    )
    return max(scores, key=scores.get), scores

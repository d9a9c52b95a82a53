"""A deterministic, seeded MovieLens-shaped data generator (the offline default).

Ratings come from a latent-factor model with real structure, so that tests can
assert that models learn it:

    rating = clip(round_half(mu + b_user + b_item + p_user . q_item + noise), 0.5, 5)

Items have 1-3 of the 18 MovieLens genres; an item's factor vector is the mean
of its genres' factors plus noise, so genres and the tags drawn from them are
informative content. Which items a user rates is not random either: a user
picks a genre by their affinity to it (softmax of p_user . genre factor), then
an item of that genre by Zipf popularity. Timestamps increase per user; the
order of a user's items is random unless ``sequential > 0``, which orders
them along a latent "theme" axis of the item factors (plus noise), so that
the next item resembles the last ones: a next-item signal for sequence
models (``synthetic-seq``).

Everything is vectorised; 25 million ratings take well under a minute.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tfrec.data.schema import Dataset, make_items
from tfrec.errors import check_positive_int

GENRES = (
    "Action",
    "Adventure",
    "Animation",
    "Children",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
)
_TAG_WORDS_PER_GENRE = 6
_START = 820_454_400  # 1996-01-01
_END = 1_537_833_600  # 2018-09-25

# name -> (n_users, n_items, n_ratings); SEQUENTIAL: names generated with order
SEQUENTIAL = {"synthetic-seq": 2.0}
SIZES = {
    "synthetic-tiny": (60, 80, 2_000),
    "synthetic": (1_000, 2_000, 100_000),
    "synthetic-seq": (1_000, 2_000, 100_000),
    "synthetic-1m": (6_000, 4_000, 1_000_000),
    "synthetic-25m": (162_000, 62_000, 25_000_000),
}


def ml25m_shape(n_ratings: int) -> tuple[int, int]:
    """Users and items for ``n_ratings`` ratings shaped like ml-25m (162k users and
    62k items at 25M; both scale with the square root of the share below that)."""
    users, items, full = SIZES["synthetic-25m"]
    share = min(1.0, n_ratings / full)
    return max(100, int(users * share**0.5)), max(100, int(items * share**0.5))


def generate(
    n_users: int = 1_000,
    n_items: int = 2_000,
    n_ratings: int = 100_000,
    *,
    n_factors: int = 8,
    noise: float = 0.7,
    sequential: float = 0.0,
    seed: int = 0,
    name: str = "synthetic",
) -> Dataset:
    """Generates a MovieLens-shaped dataset.

    Args:
        n_users: Number of users.
        n_items: Number of items in the catalogue.
        n_ratings: Target number of ratings. The result has about this many;
            fewer when the catalogue is small, since no user rates more than
            a third of it.
        n_factors: Dimension of the latent user and item factors.
        noise: Standard deviation of the rating noise, before rounding.
        sequential: Strength of the order within each user's history: 0
            for none; s orders items by theme + noise of scale 1 / s.
        seed: Random seed; the same arguments give the same data.
        name: Name recorded in the dataset.

    Returns:
        A :class:`~tfrec.data.schema.Dataset` on the 0.5-5 half-star scale.
    """
    n_users = check_positive_int("n_users", n_users)
    n_items = check_positive_int("n_items", n_items)
    n_ratings = check_positive_int("n_ratings", n_ratings)
    rng = np.random.default_rng(seed)
    n_genres = len(GENRES)

    # Items: genres, popularity, factors, bias.
    primary = rng.choice(n_genres, size=n_items, p=_genre_shares(rng, n_genres))
    item_genres = np.zeros((n_items, n_genres), dtype=bool)
    item_genres[np.arange(n_items), primary] = True
    for _ in range(2):
        extra = rng.integers(0, n_genres, size=n_items)
        item_genres[np.arange(n_items), extra] |= rng.random(n_items) < 0.45
    genre_factors = rng.normal(0.0, 1.0, size=(n_genres, n_factors))
    item_factors = (item_genres @ genre_factors) / item_genres.sum(1, keepdims=True)
    item_factors += rng.normal(0.0, 0.5, size=(n_items, n_factors))
    item_factors *= 0.6 / np.sqrt(n_factors)
    log_popularity = -0.8 * np.log1p(rng.permutation(n_items))  # Zipf, exponent 1
    item_bias = rng.normal(0.0, 0.3, n_items) + 0.15 * _standardise(log_popularity)

    # Users: factors, bias, genre affinity, activity.
    user_factors = rng.normal(0.0, 1.0, size=(n_users, n_factors))
    user_bias = rng.normal(0.0, 0.35, n_users)
    affinity = 1.2 * (user_factors @ genre_factors.T) / np.sqrt(n_factors)
    genre_probs = np.exp(affinity - affinity.max(1, keepdims=True))
    genre_cdf = np.cumsum(genre_probs / genre_probs.sum(1, keepdims=True), axis=1)
    counts = _activity(rng, n_users, n_items, n_ratings)

    # Which items each user rates: genre by affinity, then item by popularity.
    users, items = _draw_pairs(rng, counts, genre_cdf, item_genres, np.exp(log_popularity))
    if sequential > 0:
        theme = _standardise(item_factors @ rng.normal(size=n_factors))
        drift = theme[items] + rng.normal(0.0, 1.0 / sequential, len(items))
        items = items[np.lexsort((drift, users))]

    # Ratings and timestamps.
    interaction = np.einsum("ij,ij->i", user_factors[users] * 0.6, item_factors[items]) * 2.0
    raw = 3.2 + user_bias[users] + item_bias[items] + interaction
    raw += rng.normal(0.0, noise, len(users))
    ratings = np.clip(np.round(raw * 2.0) / 2.0, 0.5, 5.0).astype(np.float32)
    timestamps = _timestamps(rng, users, n_users)

    frame = pd.DataFrame(
        {
            "user_id": (users + 1).astype(np.int32),
            "item_id": (items + 1).astype(np.int32),
            "rating": ratings,
            "timestamp": timestamps,
        }
    )
    frame = frame.sort_values(["user_id", "timestamp"], kind="stable", ignore_index=True)
    return Dataset(
        name=name,
        ratings=frame,
        items=_items_frame(rng, item_genres),
        users=None,
        rating_scale=(0.5, 5.0),
        source="generated",
        extra={"seed": seed, "n_factors": n_factors, "noise": noise, "sequential": sequential},
    )


def as_log(
    dataset: Dataset, *, string_ids: bool = True, iso_times: bool = True, implicit: bool = False
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A generated dataset as somebody's own files would hold it, for tests and benchmarks.

    Args:
        dataset: A dataset with integer IDs (e.g. from :func:`generate`).
        string_ids: IDs as text, ``"u12"`` and ``"i345"``.
        iso_times: Times as ISO 8601 text (``2001-02-03T04:05:06``).
        implicit: Leave out the rating column.

    Returns:
        (log, items): columns ``customer``, ``sku``[, ``stars``], ``when``;
        and ``sku``, ``name``, ``category`` ("|"-joined genres).
    """

    def ids(prefix, values):
        values = np.asarray(values)
        return np.char.add(prefix, values.astype(str)) if string_ids else values

    ratings = dataset.ratings
    times = ratings["timestamp"].to_numpy()
    log = {
        "customer": ids("u", ratings["user_id"]),
        "sku": ids("i", ratings["item_id"]),
        "stars": ratings["rating"].to_numpy(),
        "when": np.datetime_as_string(times.astype("datetime64[s]")) if iso_times else times,
    }
    if implicit:
        del log["stars"]
    items = pd.DataFrame(
        {
            "sku": ids("i", dataset.items["item_id"]),
            "name": dataset.items["title"].to_numpy(),
            "category": dataset.items["genres"].map("|".join).to_numpy(),
        }
    )
    return pd.DataFrame(log), items


def checkerboard(n_users: int = 8, n_items: int = 8, seed: int = 0) -> Dataset:
    """A tiny dataset with a known answer: two taste groups.

    Users and items are split in halves (group A: the first half of each).
    A user rates 5.0 the items of their own group and 1.0 the others; each user
    leaves one item of each group unrated. A model that learns anything should
    recommend the unrated item of the user's own group first.
    """
    rng = np.random.default_rng(seed)
    rows = []
    half_users, half_items = n_users // 2, n_items // 2
    for u in range(n_users):
        group = u < half_users
        skip_a = u % half_items
        skip_b = half_items + (u + 1) % (n_items - half_items)
        for i in range(n_items):
            if i in (skip_a, skip_b):
                continue
            liked = (i < half_items) == group
            rows.append((u + 1, i + 1, 5.0 if liked else 1.0))
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "rating"])
    frame["timestamp"] = _START + rng.permutation(len(frame)).astype(np.int64) * 60
    frame = frame.astype({"user_id": np.int32, "item_id": np.int32, "rating": np.float32})
    genres = [["Comedy"] if i < half_items else ["Horror"] for i in range(n_items)]
    items = make_items(
        np.arange(1, n_items + 1),
        [f"Item {i + 1}" for i in range(n_items)],
        genres,
        [[g[0].lower()] for g in genres],
        np.full(n_items, 2000.0),
    )
    return Dataset(
        name="checkerboard", ratings=frame, items=items, rating_scale=(0.5, 5.0), source="generated"
    )


def _genre_shares(rng, n_genres):
    shares = rng.dirichlet(np.full(n_genres, 2.0))
    return shares / shares.sum()


def _standardise(x):
    return (x - x.mean()) / (x.std() + 1e-12)


def _activity(rng, n_users, n_items, n_ratings):
    """Ratings per user: log-normal, at least a few, at most the catalogue."""
    weights = rng.lognormal(0.0, 1.0, n_users)
    low = int(min(20, max(3, n_ratings // (4 * n_users)), n_items))
    counts = np.maximum(low, np.round(weights / weights.sum() * n_ratings)).astype(np.int64)
    return np.minimum(counts, max(low, n_items // 3))


def _draw_pairs(rng, counts, genre_cdf, item_genres, popularity):
    """Draws ``counts[u]`` distinct items for every user u, in rounds."""
    n_items, n_genres = item_genres.shape
    users = np.empty(0, dtype=np.int64)
    items = np.empty(0, dtype=np.int64)
    for _ in range(8):
        have = np.bincount(users, minlength=len(counts))
        deficit = counts - have
        if deficit.sum() == 0:
            break
        new_users = np.repeat(
            np.arange(len(counts), dtype=np.int64), np.ceil(deficit * 1.3).astype(np.int64)
        )
        genre = np.empty(len(new_users), dtype=np.int64)
        for start in range(0, len(new_users), 2_000_000):
            chunk = slice(start, start + 2_000_000)
            draws = rng.random(len(new_users[chunk]))[:, None]
            genre[chunk] = np.minimum((genre_cdf[new_users[chunk]] < draws).sum(1), n_genres - 1)
        new_items = _pick_items(rng, genre, item_genres, popularity)
        users = np.concatenate([users, new_users])
        items = np.concatenate([items, new_items])
        # Keep the first draw of each pair, then at most counts[u] per user.
        _, first = np.unique(users * n_items + items, return_index=True)
        first.sort()
        users, items = users[first], items[first]
        order = np.argsort(users, kind="stable")
        users, items = users[order], items[order]
        rank = np.arange(len(users)) - np.searchsorted(users, users)
        keep = rank < counts[users]
        users, items = users[keep], items[keep]
    return users, items


def _pick_items(rng, genre, item_genres, popularity):
    """Draws one item per row from the row's genre, by popularity (vectorised)."""
    n_genres = item_genres.shape[1]
    members = [np.flatnonzero(item_genres[:, g]) for g in range(n_genres)]
    offsets = np.cumsum([0] + [len(m) for m in members])
    flat_items = np.concatenate(members)
    cdf = np.concatenate(
        [np.cumsum(popularity[m]) / popularity[m].sum() + g for g, m in enumerate(members)]
    )
    draws = genre + rng.random(len(genre)) * (1 - 1e-12)
    position = np.searchsorted(cdf, draws, side="right")
    position = np.clip(position, offsets[genre], offsets[genre + 1] - 1)
    return flat_items[position].astype(np.int64)


def _timestamps(rng, users, n_users):
    """Per-user increasing timestamps: a start date plus exponential gaps."""
    start = rng.integers(_START, _END - 86_400 * 30, n_users)
    gap_scale = rng.lognormal(np.log(3_600.0 * 24), 1.5, n_users)
    gaps = rng.exponential(1.0, len(users)) * gap_scale[users]
    csum = np.cumsum(gaps)
    boundaries = np.flatnonzero(np.diff(users)) + 1
    group_start = np.zeros(len(users), dtype=np.int64)
    group_start[boundaries] = boundaries
    group_start = np.maximum.accumulate(group_start)
    within = csum - csum[group_start] + gaps[group_start]
    return np.minimum(start[users] + within.astype(np.int64), _END).astype(np.int64)


def _items_frame(rng, item_genres):
    n_items = item_genres.shape[0]
    genre_names = np.array(GENRES, dtype=object)
    years = rng.integers(1920, 2019, n_items)
    genres, tags = [], []
    tag_draws = rng.integers(0, _TAG_WORDS_PER_GENRE, size=(n_items, 3))
    n_tags = rng.integers(0, 4, n_items)
    for i in range(n_items):
        names = list(genre_names[item_genres[i]])
        genres.append(names)
        words = [f"{names[j % len(names)].lower()}-{tag_draws[i, j]}" for j in range(n_tags[i])]
        tags.append(list(dict.fromkeys(words)))
    titles = [f"Synthetic Movie {i + 1} ({y})" for i, y in enumerate(years)]
    return make_items(np.arange(1, n_items + 1), titles, genres, tags, years)

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

import dataclasses

import numpy as np
import pandas as pd

from tfrec.data.schema import Dataset, make_items
from tfrec.data.synthetic_features import features
from tfrec.data.vocabulary import Vocabulary
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
MUSIC_GENRES = (
    "rock",
    "pop",
    "electronic",
    "hip-hop",
    "jazz",
    "metal",
    "indie",
    "folk",
    "classical",
    "soul",
    "punk",
    "country",
    "reggae",
    "blues",
    "ambient",
    "latin",
    "r-and-b",
    "experimental",
)
MUSIC_POPULARITY = 1.0  # Zipf exponent of the artists' popularity (movies: 0.8)
MUSIC_TASTE = 4.0  # sharpness of a listener's genre choice (movies: 1.2)
SHOP_TASTE = 8.0  # sharpness of a customer's category choice
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
    world = _latent_world(rng, n_users, n_items, n_ratings, n_factors)
    users, items = world.users, world.items
    if sequential > 0:
        theme = _standardise(world.item_factors @ rng.normal(size=n_factors))
        drift = theme[items] + rng.normal(0.0, 1.0 / sequential, len(items))
        items = items[np.lexsort((drift, users))]

    # Ratings and timestamps.
    interaction = world.affinity(users, items)
    raw = 3.2 + world.user_bias[users] + world.item_bias[items] + interaction
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
        items=_items_frame(rng, world.item_genres),
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


def music(
    n_users: int = 1_892,
    n_items: int = 45_000,
    n_pairs: int = 93_000,
    *,
    seed: int = 0,
    name: str = "synthetic-music",
) -> Dataset:
    """A music service's play counts (``synthetic-music``), shaped like last.fm's.

    A long-tail catalogue of artists (Zipf popularity of exponent
    ``MUSIC_POPULARITY``: of the 45k, about 20k are played, most of them by
    one or two listeners), about 50 artists per user (log-normal, sigma 0.3),
    listeners who keep to a few genres (``MUSIC_TASTE``), and a heavy-tailed
    play count per (user, artist) pair that carries taste: users play more
    what matches their latent taste and more when they are heavy listeners,

        log plays = 4.5 + 1.2 * std(p_user . q_item) + 2 * b_user + N(0, 1)

    Implicit (rating 1.0), no timestamps; the play count is the ``weight``.
    Artists have 1-3 of the ``MUSIC_GENRES`` as genres and tags drawn from them.
    On a random split (seed 0) the defaults give 18.3k training artists and
    validation HR@10 / NDCG@10 of 0.308 / 0.078 for popularity and 0.496 /
    0.148 for itemknn (last.fm's own log: 0.265 / 0.069 and 0.487 / 0.161).

    Args:
        n_users: Number of users.
        n_items: Number of artists in the catalogue (not all are played).
        n_pairs: Target number of (user, artist) pairs.
        seed: Random seed; the same arguments give the same data.
        name: Name recorded in the dataset.
    """
    n_users = check_positive_int("n_users", n_users)
    n_items = check_positive_int("n_items", n_items)
    n_pairs = check_positive_int("n_pairs", n_pairs)
    rng = np.random.default_rng(seed)
    world = _latent_world(rng, n_users, n_items, n_pairs, 8, MUSIC_POPULARITY, 0.3, MUSIC_TASTE)
    users, items = world.users, world.items
    log_plays = 4.5 + 1.2 * _standardise(world.affinity(users, items))
    log_plays += 2.0 * world.user_bias[users] + rng.normal(0.0, 1.0, len(users))
    frame = pd.DataFrame(
        {
            "user_id": (users + 1).astype(np.int32),
            "item_id": (items + 1).astype(np.int32),
            "rating": np.float32(1.0),
            "timestamp": np.int64(0),
            "weight": np.maximum(1.0, np.round(np.exp(log_plays))).astype(np.float32),
        }
    )
    return Dataset(
        name=name,
        ratings=frame,
        items=_items_frame(rng, world.item_genres, MUSIC_GENRES, "Artist {i}"),
        rating_scale=(1.0, 1.0),
        source="generated",
        extra={"seed": seed, "shape": "music"},
        implicit=True,
        has_timestamps=False,
    )


def shop(
    n_users: int = 5_000,
    n_items: int = 1_000,
    n_pairs: int = 25_000,
    *,
    seed: int = 0,
    name: str = "synthetic-shop",
) -> Dataset:
    """A shop's purchases (``synthetic-shop``): string IDs, short histories, repeats.

    Customers (``"C-00042"``) buy a few SKUs each (``"SKU-000123"``; about
    ``n_pairs / n_users`` distinct ones), chosen by category affinity (sharp:
    ``SHOP_TASTE``) and popularity as in :func:`generate`, and buy again what
    suits them: the number of purchases of a pair is

        1 + Poisson(exp(0.8 * min(std(p_user . q_item), 3) - 1))

    Implicit (rating 1.0) with times: one row per (customer, SKU), its
    ``weight`` the number of purchases and its ``timestamp`` the last one's;
    :func:`shop_log` expands it back into one row per purchase. The frames
    hold rows of the string-ID vocabularies (``user_vocab``, ``item_vocab``).
    Validation HR@10 with the defaults (seed 0), temporal / random split:
    popularity 0.193 / 0.254, itemknn 0.189 / 0.283, ease (l2 50) 0.264 / 0.374.

    Args:
        n_users: Number of customers.
        n_items: Number of SKUs in the catalogue.
        n_pairs: Target number of distinct (customer, SKU) pairs.
        seed: Random seed; the same arguments give the same data.
        name: Name recorded in the dataset.
    """
    n_users = check_positive_int("n_users", n_users)
    n_items = check_positive_int("n_items", n_items)
    n_pairs = check_positive_int("n_pairs", n_pairs)
    rng = np.random.default_rng(seed)
    world = _latent_world(rng, n_users, n_items, n_pairs, 8, 0.8, 1.0, SHOP_TASTE)
    users, items = world.users, world.items
    taste = np.minimum(_standardise(world.affinity(users, items)), 3.0)
    purchases = 1 + rng.poisson(np.exp(0.8 * taste - 1.0))
    catalogue = _items_frame(rng, world.item_genres, GENRES, "Product {i}")
    catalogue["item_id"] = np.arange(n_items, dtype=np.int32)  # rows of item_vocab
    frame = pd.DataFrame(
        {
            "user_id": users.astype(np.int32),
            "item_id": items.astype(np.int32),
            "rating": np.float32(1.0),
            "timestamp": _timestamps(rng, users, n_users),
            "weight": purchases.astype(np.float32),
        }
    )
    return Dataset(
        name=name,
        ratings=frame,
        items=catalogue,
        rating_scale=(1.0, 1.0),
        source="generated",
        extra={"seed": seed, "shape": "shop"},
        user_vocab=Vocabulary(np.char.add("C-", np.char.zfill(np.arange(n_users).astype(str), 5))),
        item_vocab=Vocabulary(
            np.char.add("SKU-", np.char.zfill(np.arange(n_items).astype(str), 6))
        ),
        implicit=True,
    )


def music_log(dataset: Dataset) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A :func:`music` dataset as its files would hold it, for tests of the own-data path.

    Returns:
        (log, items): columns ``user``, ``artist``, ``plays`` (one row per
        pair, no time); and ``artist``, ``name``, ``tags`` ("|"-joined genres
        and tags). Read it back with ``columns={"user": "user", "item":
        "artist", "weight": "plays"}``.
    """
    ratings, items = dataset.ratings, dataset.items
    log = pd.DataFrame(
        {
            "user": ratings["user_id"].to_numpy(),
            "artist": ratings["item_id"].to_numpy(),
            "plays": ratings["weight"].to_numpy().astype(np.int64),
        }
    )
    tags = (items["genres"] + items["tags"]).map("|".join)
    table = pd.DataFrame(
        {"artist": items["item_id"].to_numpy(), "name": items["title"], "tags": tags}
    )
    return log, table


def shop_log(dataset: Dataset, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A :func:`shop` dataset as an order log: one row per purchase, repeats included.

    Each pair's ``weight`` purchases end at its ``timestamp``; the earlier
    ones come a seeded 1-60 days apart before it. Read back with
    ``duplicates="count"`` (the implicit default), the log gives the
    dataset's pairs, weights and timestamps again.

    Returns:
        (log, items): columns ``customer``, ``sku``, ``when`` (ISO 8601
        text), sorted by time; and ``sku``, ``name``, ``category``.
    """
    ratings = dataset.ratings
    repeats = ratings["weight"].to_numpy().astype(np.int64)
    rows = np.repeat(np.arange(len(ratings)), repeats)
    # Purchases before each pair's last one: 0 for the last, growing backwards.
    back = np.arange(len(rows)) - np.repeat(np.cumsum(repeats) - repeats, repeats)
    back = repeats[rows] - 1 - back
    gaps = np.random.default_rng(seed).integers(86_400, 60 * 86_400, len(rows))
    earlier = np.where(back > 0, back * gaps, 0)
    times = ratings["timestamp"].to_numpy()[rows] - earlier
    log = pd.DataFrame(
        {
            "customer": dataset.raw_user_ids(ratings["user_id"].to_numpy()[rows]),
            "sku": dataset.raw_item_ids(ratings["item_id"].to_numpy()[rows]),
            "when": np.datetime_as_string(times.astype("datetime64[s]")),
        }
    ).iloc[np.argsort(times, kind="stable")]
    items = pd.DataFrame(
        {
            "sku": dataset.raw_item_ids(dataset.items["item_id"].to_numpy()),
            "name": dataset.items["title"].to_numpy(),
            "category": dataset.items["genres"].map("|".join).to_numpy(),
        }
    )
    return log.reset_index(drop=True), items


# name -> generator(seed=, name=) of the shapes other than MovieLens'
SHAPES = {"synthetic-music": music, "synthetic-shop": shop, "synthetic-features": features}


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


@dataclasses.dataclass
class _LatentWorld:
    """The latent structure behind every shape: who interacts with what, and why."""

    item_genres: np.ndarray  # (n_items, n_genres) bool
    item_factors: np.ndarray
    item_bias: np.ndarray
    user_factors: np.ndarray
    user_bias: np.ndarray
    users: np.ndarray  # the drawn (user, item) pairs, sorted by user
    items: np.ndarray

    def affinity(self, users, items) -> np.ndarray:
        """p_user . q_item of the pairs, on the rating model's scale."""
        return np.einsum("ij,ij->i", self.user_factors[users] * 0.6, self.item_factors[items]) * 2.0


def _latent_world(
    rng,
    n_users,
    n_items,
    n_pairs,
    n_factors,
    popularity_exponent=0.8,
    activity_spread=1.0,
    taste=1.2,
):
    """Items with genres, factors and Zipf popularity; users with factors; their pairs."""
    n_genres = len(GENRES)
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
    log_popularity = -popularity_exponent * np.log1p(rng.permutation(n_items))
    item_bias = rng.normal(0.0, 0.3, n_items) + 0.15 * _standardise(log_popularity)

    user_factors = rng.normal(0.0, 1.0, size=(n_users, n_factors))
    user_bias = rng.normal(0.0, 0.35, n_users)
    affinity = taste * (user_factors @ genre_factors.T) / np.sqrt(n_factors)
    genre_probs = np.exp(affinity - affinity.max(1, keepdims=True))
    genre_cdf = np.cumsum(genre_probs / genre_probs.sum(1, keepdims=True), axis=1)
    counts = _activity(rng, n_users, n_items, n_pairs, activity_spread)
    # Which items each user picks: a genre by affinity, then an item of it by popularity.
    users, items = _draw_pairs(rng, counts, genre_cdf, item_genres, np.exp(log_popularity))
    return _LatentWorld(item_genres, item_factors, item_bias, user_factors, user_bias, users, items)


def _genre_shares(rng, n_genres):
    shares = rng.dirichlet(np.full(n_genres, 2.0))
    return shares / shares.sum()


def _standardise(x):
    return (x - x.mean()) / (x.std() + 1e-12)


def _activity(rng, n_users, n_items, n_ratings, spread):
    """Ratings per user: log-normal of sigma ``spread``, at least a few, at most a third
    of the catalogue."""
    weights = rng.lognormal(0.0, spread, n_users)
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


def _items_frame(rng, item_genres, names=GENRES, title="Synthetic Movie {i} ({year})"):
    n_items = item_genres.shape[0]
    genre_names = np.array(names, dtype=object)
    years = rng.integers(1920, 2019, n_items)
    genres, tags = [], []
    tag_draws = rng.integers(0, _TAG_WORDS_PER_GENRE, size=(n_items, 3))
    n_tags = rng.integers(0, 4, n_items)
    for i in range(n_items):
        names = list(genre_names[item_genres[i]])
        genres.append(names)
        words = [f"{names[j % len(names)].lower()}-{tag_draws[i, j]}" for j in range(n_tags[i])]
        tags.append(list(dict.fromkeys(words)))
    titles = [title.format(i=i + 1, year=y) for i, y in enumerate(years)]
    return make_items(np.arange(1, n_items + 1), titles, genres, tags, years)

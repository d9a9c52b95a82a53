"""A seeded generator with planted user, item and context effects (``synthetic-features``).

Implicit feedback (rating 1.0, one row per distinct (user, item) pair) with
timestamps, and typed features (:mod:`tfrec.data.feature_schema`) whose value
is known, so that a model's use of them can be tested offline:

* user features (``Dataset.users``, one row per user): ``age`` (numeric,
  16-75), ``country`` (category, one of :data:`COUNTRIES`), ``plan``
  (category: free, basic, premium) and ``interests`` (multi: 0-3 lowercased
  genre names joined by ``|``);
* item features (extra columns of ``Dataset.items``): ``price`` (numeric),
  ``brand`` (category, ``brand-07``) and ``description`` (text: 3-7 words of
  the item's genres, :data:`GENRE_WORDS`, and generic ones);
* context features (extra columns of ``Dataset.ratings``): ``device``
  (category: mobile, desktop, tv), and ``context_time``: the hour of day
  (UTC) of the timestamp matters through its band (night 0-5, morning 6-11,
  afternoon 12-17, evening 18-23).

A share ``missing`` of each feature's values is missing (NaN or ``""``),
except for ``plan``; ``interests`` is also ``""`` for the users without any.
A missing value hides the true one, which still drives the behaviour.

A user u has a country c_u, an age band b_u (<25, 25-39, 40-59, 60+), a
plan pi_u and a latent taste p_u ~ N(0, I_8). A genre g has factors
f_g ~ N(0, I_8), a preference of each country C[c, g] ~ N(0, 1) and of each
age band A[b, g] ~ N(0, 1), and a form L_g: +1 for long-form genres
(:data:`LONG_FORM`), -1 for short-form ones (:data:`SHORT_FORM`), 0
otherwise. An interaction of u on device d in hour band t picks a genre,
then an item of that genre:

    P(g | u, d, t) ∝ exp(1.2 p_u . f_g / sqrt(8)
                         + user_effect * (C[c_u, g] + A[b_u, g])
                         + context_effect * (D[d] + H[t]) * L_g)

    P(i | g, u) ∝ [g in genres(i)] * (1 + r_i)^-0.8
                  * exp(-item_effect * (0.5 + user_effect * delta[pi_u]) * z_i)

1. User-feature effect (``user_effect``): country and age band shift the
   genre affinity; the plan shifts the price sensitivity (delta = +0.5
   free, 0 basic, -0.5 premium); ``interests`` are drawn without
   replacement by P ∝ exp(user_effect * (1.2 p_u . f_g / sqrt(8) + C[c_u, g]
   + A[b_u, g])). At 0 the user features are independent of behaviour.
2. Context effect (``context_effect``): D = -1 mobile, 0 desktop, +1 tv
   (:data:`DEVICE_FORM`) and H = 0 night, -1 morning, -0.5 afternoon, +1
   evening (:data:`BAND_FORM`): long-form genres on a tv in the evening (+2),
   short-form ones on a phone in the morning (-2). At 0 the context is
   independent of the item. An interaction is on the user's own device with
   probability 0.6, else on one drawn 50/30/20% mobile/desktop/tv (the
   users' own devices are drawn so too), and its hour band depends on the
   device (:data:`BAND_GIVEN_DEVICE`: a tv mostly in the evening).
3. Item-feature effect (``item_effect``): r_i is item i's rank by
   item_effect * q_brand(i) + N(0, 1), with a brand quality q ~ N(0, 1), so
   good brands make popular items; z_i is the standardised log price (log
   price = log 20 + 0.5 tier_brand + N(0, 0.3^2), tier ~ N(0, 1)), so cheaper
   items are chosen more, by free users most. At 0 neither brand nor price
   bears on choice. A brand keeps mostly (70%) to its home genre, so a new
   item's brand also tells its genre.

Interactions per user are log-normal (sigma 1; at most a third of the
catalogue); a duplicate pair is redrawn with the same context. Timestamps
are per-user days as in :mod:`tfrec.data.synthetic`, at an hour of the drawn
band. Vectorised: the defaults (3,000 users, 1,000 items, about 100k
interactions) take about 0.3 s.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tfrec.data.feature_schema import MULTI_SEP, Feature, FeatureSchema
from tfrec.data.schema import Dataset
from tfrec.errors import ConfigError, check_non_negative, check_positive_int

COUNTRIES = ("US", "GB", "DE", "FR", "BR", "IN", "JP")
COUNTRY_SHARES = (0.30, 0.12, 0.12, 0.10, 0.12, 0.14, 0.10)
AGE_EDGES = (25, 40, 60)  # age bands: <25, 25-39, 40-59, 60+
PLANS = ("free", "basic", "premium")
PLAN_SHARES = (0.5, 0.3, 0.2)
PLAN_PRICE_SHIFT = (0.5, 0.0, -0.5)  # delta[plan]: more (+) or less (-) price-sensitive
DEVICES = ("mobile", "desktop", "tv")
DEVICE_SHARES = (0.5, 0.3, 0.2)
OWN_DEVICE = 0.6  # probability that an interaction is on the user's own device
HOUR_BANDS = ("night", "morning", "afternoon", "evening")  # hours 0-5, 6-11, 12-17, 18-23
# P(hour band | device), rows in DEVICES' order.
BAND_GIVEN_DEVICE = (
    (0.10, 0.35, 0.30, 0.25),
    (0.05, 0.40, 0.45, 0.10),
    (0.10, 0.05, 0.20, 0.65),
)
# F[device, band] = DEVICE_FORM[device] + BAND_FORM[band]: + favours long-form
# genres, - short-form ones.
DEVICE_FORM = (-1.0, 0.0, 1.0)
BAND_FORM = (0.0, -1.0, -0.5, 1.0)
LONG_FORM = ("Crime", "Documentary", "Drama", "Film-Noir", "Mystery", "War", "Western")
SHORT_FORM = ("Action", "Animation", "Children", "Comedy", "Horror", "Musical")
SEGMENT_SPREAD = 1.0  # standard deviation of a country's or age band's genre preference
TASTE = 1.2  # weight of the latent taste p_u . f_g (as synthetic's movies)
POPULARITY = 0.8  # Zipf exponent of the items' popularity
PRICE_SENSITIVITY = 0.5
HOME_GENRE = 0.7  # share of items whose brand is one of their primary genre's
ITEMS_PER_BRAND = 25
_N_FACTORS = 8
_DAY = 86_400
GENRE_WORDS = {
    "Action": ("explosive", "chase", "fight", "stunt", "rescue"),
    "Adventure": ("journey", "quest", "treasure", "island", "expedition"),
    "Animation": ("animated", "colourful", "cartoon", "pixel", "sketch"),
    "Children": ("family", "kids", "friendship", "puppy", "school"),
    "Comedy": ("funny", "witty", "hilarious", "prank", "sitcom"),
    "Crime": ("heist", "detective", "gangster", "robbery", "alibi"),
    "Documentary": ("true", "archive", "interview", "nature", "history"),
    "Drama": ("emotional", "moving", "tragedy", "struggle", "redemption"),
    "Fantasy": ("magic", "dragon", "wizard", "kingdom", "spell"),
    "Film-Noir": ("shadow", "noir", "cynical", "smoke", "rain"),
    "Horror": ("scary", "haunted", "zombie", "blood", "nightmare"),
    "Musical": ("song", "dance", "stage", "choir", "melody"),
    "Mystery": ("clue", "puzzle", "secret", "riddle", "disappearance"),
    "Romance": ("love", "wedding", "kiss", "heart", "affair"),
    "Sci-Fi": ("space", "robot", "alien", "future", "galaxy"),
    "Thriller": ("suspense", "conspiracy", "hostage", "tense", "spy"),
    "War": ("battle", "soldier", "army", "trench", "frontline"),
    "Western": ("cowboy", "outlaw", "saloon", "frontier", "sheriff"),
}
GENERIC_WORDS = ("story", "new", "classic", "epic", "tale", "great", "original", "film")
FEATURES = FeatureSchema(
    (
        Feature("age", "user", "numeric"),
        Feature("country", "user", "category"),
        Feature("plan", "user", "category"),
        Feature("interests", "user", "multi"),
        Feature("price", "item", "numeric"),
        Feature("brand", "item", "category"),
        Feature("description", "item", "text"),
        Feature("device", "context", "category"),
    ),
    context_time=True,
)


def features(
    seed: int = 0,
    name: str = "synthetic-features",
    n_users: int = 3_000,
    n_items: int = 1_000,
    n_interactions: int = 100_000,
    *,
    user_effect: float = 1.0,
    context_effect: float = 1.0,
    item_effect: float = 1.0,
    missing: float = 0.03,
) -> Dataset:
    """Generates implicit feedback with typed features and planted effects (see the module).

    Args:
        seed: Random seed; the same arguments give the same data.
        name: Name recorded in the dataset.
        n_users: Number of users (each has a row in ``Dataset.users``).
        n_items: Number of items in the catalogue.
        n_interactions: Target number of interactions; the result has about
            this many (fewer when the catalogue is small).
        user_effect: Strength of the user features' effect on the genres and
            prices chosen and of ``interests``; 0: none.
        context_effect: Strength of the device and hour band's effect on the
            genre chosen; 0: none.
        item_effect: Strength of brand and price's effect on item choice; 0: none.
        missing: Share of each feature's values that are missing (not ``plan``).

    Returns:
        An implicit :class:`~tfrec.data.schema.Dataset` with timestamps,
        ``users`` and ``features`` (:data:`FEATURES`).

    Raises:
        ConfigError: A size that is not a positive integer, a negative
            effect, or ``missing`` outside [0, 1).
    """
    n_users = check_positive_int("n_users", n_users)
    n_items = check_positive_int("n_items", n_items)
    n_interactions = check_positive_int("n_interactions", n_interactions)
    effects = {
        key: check_non_negative(key, value)
        for key, value in (
            ("user_effect", user_effect),
            ("context_effect", context_effect),
            ("item_effect", item_effect),
        )
    }
    missing = check_non_negative("missing", missing)
    if missing >= 1.0:
        raise ConfigError(f"missing must be a share in [0, 1); got {missing!r}")
    from tfrec.data import synthetic  # here: synthetic imports this module for SHAPES

    rng = np.random.default_rng(seed)
    genres = synthetic.GENRES
    items = _catalogue(rng, n_items, genres, effects["item_effect"])
    users = _population(rng, n_users, genres, effects["user_effect"])
    counts = synthetic._activity(rng, n_users, n_items, n_interactions, 1.0)
    log = _interactions(rng, users, items, counts, effects, genres)
    log["timestamp"] = _times(rng, log["user"], log["band"], n_users, synthetic)

    frame = pd.DataFrame(
        {
            "user_id": (log["user"] + 1).astype(np.int32),
            "item_id": (log["item"] + 1).astype(np.int32),
            "rating": np.float32(1.0),
            "timestamp": log["timestamp"],
            "device": _strings(np.asarray(DEVICES)[log["device"]], rng, missing),
        }
    )
    frame = frame.sort_values(["user_id", "timestamp"], kind="stable", ignore_index=True)
    catalogue = synthetic._items_frame(rng, items["genres"], genres)
    catalogue["price"] = _blank(items["price"].astype(np.float32), rng, missing)
    catalogue["brand"] = _strings(_brand_names(items["brand"]), rng, missing)
    catalogue["description"] = _strings(_descriptions(rng, items["genres"], genres), rng, missing)
    return Dataset(
        name=name,
        ratings=frame,
        items=catalogue,
        users=_users_frame(rng, users, genres, missing),
        rating_scale=(1.0, 1.0),
        source="generated",
        extra={"seed": seed, "shape": "features", **effects, "missing": missing},
        implicit=True,
        features=FEATURES,
    )


def _catalogue(rng, n_items, genres, item_effect) -> dict:
    """Items' genres (a primary one and up to two more), brands, prices and popularity."""
    n_genres = len(genres)
    shares = rng.dirichlet(np.full(n_genres, 2.0))
    primary = rng.choice(n_genres, size=n_items, p=shares / shares.sum())
    item_genres = np.zeros((n_items, n_genres), dtype=bool)
    item_genres[np.arange(n_items), primary] = True
    for _ in range(2):
        extra = rng.integers(0, n_genres, size=n_items)
        item_genres[np.arange(n_items), extra] |= rng.random(n_items) < 0.45

    # Brand b's home genre is b mod n_genres; most items take a brand of their primary genre.
    n_brands = max(4, n_items // ITEMS_PER_BRAND)
    at_home = np.maximum(0, -(-(n_brands - np.arange(n_genres)) // n_genres))[primary]
    home = primary + n_genres * np.floor(rng.random(n_items) * at_home).astype(np.int64)
    brand = np.where(
        (at_home > 0) & (rng.random(n_items) < HOME_GENRE), home, rng.integers(0, n_brands, n_items)
    )
    quality = rng.normal(0.0, 1.0, n_brands)
    tier = rng.normal(0.0, 1.0, n_brands)
    log_price = np.log(20.0) + 0.5 * tier[brand] + rng.normal(0.0, 0.3, n_items)
    score = item_effect * quality[brand] + rng.normal(0.0, 1.0, n_items)
    rank = np.empty(n_items, dtype=np.int64)
    rank[np.argsort(-score, kind="stable")] = np.arange(n_items)
    return {
        "genres": item_genres,
        "brand": brand,
        "price": np.round(np.exp(log_price), 2),
        "z_price": _standardise(log_price),
        "log_popularity": -POPULARITY * np.log1p(rank),
    }


def _population(rng, n_users, genres, user_effect) -> dict:
    """Users' features and their genre logits (latent taste + feature shifts)."""
    n_genres = len(genres)
    country = rng.choice(len(COUNTRIES), size=n_users, p=COUNTRY_SHARES)
    age = rng.integers(16, 76, n_users)
    band = np.searchsorted(AGE_EDGES, age, side="right")
    plan = rng.choice(len(PLANS), size=n_users, p=PLAN_SHARES)
    genre_factors = rng.normal(0.0, 1.0, size=(n_genres, _N_FACTORS))
    taste = rng.normal(0.0, 1.0, size=(n_users, _N_FACTORS))
    latent = TASTE * (taste @ genre_factors.T) / np.sqrt(_N_FACTORS)
    by_country = rng.normal(0.0, SEGMENT_SPREAD, size=(len(COUNTRIES), n_genres))
    by_band = rng.normal(0.0, SEGMENT_SPREAD, size=(len(AGE_EDGES) + 1, n_genres))
    shift = by_country[country] + by_band[band]
    return {
        "country": country,
        "age": age,
        "plan": plan,
        "logits": latent + user_effect * shift,
        "interest_logits": user_effect * (latent + shift),
    }


def _interactions(rng, users, items, counts, effects, genres) -> dict:
    """``counts[u]`` distinct items per user u with each interaction's device and hour band."""
    n_items = len(items["brand"])
    user = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    device, band = _contexts(rng, user, len(counts))
    form = _form(genres)
    form_of_context = np.add.outer(DEVICE_FORM, BAND_FORM)[device, band]
    shift = effects["context_effect"] * form_of_context[:, None] * form
    empty = ~items["genres"].any(0)  # genres without items are never drawn
    sensitivity = effects["item_effect"] * (
        PRICE_SENSITIVITY + effects["user_effect"] * np.asarray(PLAN_PRICE_SHIFT)
    )
    weights = np.exp(items["log_popularity"][None, :] - sensitivity[:, None] * items["z_price"])
    item = np.full(len(user), -1, dtype=np.int64)
    todo = np.arange(len(user))
    for _ in range(10):  # redraw duplicated pairs, keeping their context
        logits = users["logits"][user[todo]] + shift[todo]
        logits[:, empty] = -np.inf
        genre = _sample_rows(rng, logits)
        plan = users["plan"][user[todo]]
        for p in range(len(PLANS)):
            rows = plan == p
            item[todo[rows]] = _pick(rng, genre[rows], items["genres"], weights[p])
        _, first = np.unique(user * n_items + item, return_index=True)
        duplicate = np.ones(len(user), dtype=bool)
        duplicate[first] = False
        todo = np.flatnonzero(duplicate)
        if not len(todo):
            break
    keep = ~duplicate
    return {"user": user[keep], "item": item[keep], "device": device[keep], "band": band[keep]}


def _contexts(rng, user, n_users) -> tuple[np.ndarray, np.ndarray]:
    """Each interaction's device (mostly the user's own) and hour band (by device)."""
    own = rng.choice(len(DEVICES), size=n_users, p=DEVICE_SHARES)
    other = rng.choice(len(DEVICES), size=len(user), p=DEVICE_SHARES)
    device = np.where(rng.random(len(user)) < OWN_DEVICE, own[user], other)
    band_cdf = np.cumsum(np.asarray(BAND_GIVEN_DEVICE), axis=1)
    band = (band_cdf[device] < rng.random(len(user))[:, None]).sum(1)
    return device, np.minimum(band, len(HOUR_BANDS) - 1)


def _form(genres) -> np.ndarray:
    """L_g of each genre: +1 long-form, -1 short-form, 0 otherwise."""
    return np.array([(g in LONG_FORM) - (g in SHORT_FORM) for g in genres], dtype=float)


def _sample_rows(rng, logits) -> np.ndarray:
    """One column per row, drawn by the softmax of the row's logits."""
    probs = np.exp(logits - logits.max(1, keepdims=True))
    cdf = np.cumsum(probs, axis=1)
    draws = rng.random(len(logits))[:, None] * cdf[:, -1:]
    return np.minimum((cdf <= draws).sum(1), logits.shape[1] - 1)


def _pick(rng, genre, item_genres, weights) -> np.ndarray:
    """One item per row among the row's genre's items, by ``weights`` (vectorised)."""
    members = [np.flatnonzero(item_genres[:, g]) for g in range(item_genres.shape[1])]
    offsets = np.cumsum([0] + [len(m) for m in members])
    flat = np.concatenate(members)
    cdf = np.concatenate(
        [np.cumsum(weights[m]) / weights[m].sum() + g for g, m in enumerate(members) if len(m)]
    )
    draws = genre + rng.random(len(genre)) * (1 - 1e-12)
    position = np.searchsorted(cdf, draws, side="right")
    position = np.clip(position, offsets[genre], offsets[genre + 1] - 1)
    return flat[position].astype(np.int64)


def _times(rng, user, band, n_users, synthetic) -> np.ndarray:
    """Per-user days as :func:`synthetic._timestamps`, at an hour of the drawn band."""
    days = synthetic._timestamps(rng, user, n_users) // _DAY
    days = np.minimum(days, synthetic._END // _DAY - 1)
    hour = 6 * band + rng.integers(0, 6, len(user))
    return (days * _DAY + hour * 3_600 + rng.integers(0, 3_600, len(user))).astype(np.int64)


def _users_frame(rng, users, genres, missing) -> pd.DataFrame:
    """One row per user: ``user_id`` (as in the ratings), age, country, plan, interests."""
    n_users = len(users["age"])
    return pd.DataFrame(
        {
            "user_id": np.arange(1, n_users + 1, dtype=np.int32),
            "age": _blank(users["age"].astype(np.float32), rng, missing),
            "country": _strings(np.asarray(COUNTRIES)[users["country"]], rng, missing),
            "plan": pd.Series(np.asarray(PLANS)[users["plan"]], dtype=object),
            "interests": _strings(_interests(rng, users["interest_logits"], genres), rng, missing),
        }
    )


def _interests(rng, logits, genres) -> np.ndarray:
    """0-3 lowercased genre names per user, "|"-joined, drawn without replacement
    by the softmax of ``logits`` (Gumbel top-k)."""
    n_users = len(logits)
    order = np.argsort(-(logits + rng.gumbel(size=logits.shape)), axis=1)[:, :3]
    n_interests = rng.choice(4, size=n_users, p=(0.1, 0.3, 0.4, 0.2))
    names = np.asarray([g.lower() for g in genres], dtype=object)[order]
    names[np.arange(3)[None, :] >= n_interests[:, None]] = ""
    joined = names[:, 0] + MULTI_SEP + names[:, 1] + MULTI_SEP + names[:, 2]
    return np.array([text.strip(MULTI_SEP) for text in joined], dtype=object)


def _brand_names(brand) -> np.ndarray:
    return np.char.add("brand-", np.char.zfill(brand.astype(str), 2)).astype(object)


def _descriptions(rng, item_genres, genres) -> np.ndarray:
    """3-7 words per item: each one of its genres' words (70%) or a generic word."""
    n_items = len(item_genres)
    n_words = rng.integers(3, 8, n_items)
    slots = rng.random((n_items, 7))
    picks = rng.integers(0, 1 << 30, size=(n_items, 7, 2))
    out = np.empty(n_items, dtype=object)
    for i in range(n_items):
        own = [GENRE_WORDS[genres[g]] for g in np.flatnonzero(item_genres[i])]
        words = []
        for j in range(n_words[i]):
            a, b = picks[i, j]
            if slots[i, j] < 0.7:
                vocabulary = own[a % len(own)]
                words.append(vocabulary[b % len(vocabulary)])
            else:
                words.append(GENERIC_WORDS[a % len(GENERIC_WORDS)])
        out[i] = " ".join(words)
    return out


def _blank(values: np.ndarray, rng, share) -> np.ndarray:
    """``values`` (float) with a random ``share`` of them NaN."""
    values = values.copy()
    values[rng.random(len(values)) < share] = np.nan
    return values


def _strings(values, rng, share) -> pd.Series:
    """Strings as an object column with a random ``share`` of them ``""``."""
    values = np.asarray(values, dtype=object).copy()
    values[rng.random(len(values)) < share] = ""
    return pd.Series(values, dtype=object)


def _standardise(x):
    return (x - x.mean()) / (x.std() + 1e-12)

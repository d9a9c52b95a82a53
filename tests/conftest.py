"""Shared fixtures: tiny seeded synthetic data, and the real-data directory."""

import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tfrec.data.interaction_log import read_interactions
from tfrec.data.synthetic import as_log, checkerboard, generate
from tfrec.splits import split

REPO = Path(__file__).resolve().parent.parent
# Word2Vec vectors and other caches go to a fresh directory, never ~/.cache.
os.environ["TFREC_CACHE_DIR"] = tempfile.mkdtemp(prefix="tfrec-test-cache-")


def real_data_root() -> Path | None:
    """TFREC_DATA_DIR or ../shared/data, when it holds ml-latest-small."""
    candidates = [os.environ.get("TFREC_DATA_DIR"), REPO.parent / "shared" / "data"]
    for candidate in candidates:
        if candidate and (Path(candidate) / "ml-latest-small" / "ratings.csv").exists():
            return Path(candidate)
    return None


@pytest.fixture(scope="session")
def small_data():
    """About 5k ratings with latent structure; the same every run."""
    return generate(n_users=120, n_items=150, n_ratings=5_000, seed=7, name="synthetic-test")


@pytest.fixture(scope="session")
def small_split(small_data):
    return split(small_data, "temporal")


@pytest.fixture(scope="session")
def string_split(small_data):
    """The small data with string IDs ("u12", "i34") and ISO times, read as a user's file."""
    log, items = as_log(small_data)
    data = read_interactions(log, items=items, name="synthetic-strings")
    assert data.user_vocab.is_string and data.item_vocab.is_string
    return split(data, "temporal")


@pytest.fixture(scope="session")
def implicit_split(small_data):
    """The small data without ratings, each pair logged twice (counted), integer IDs."""
    log, items = as_log(small_data, string_ids=False, iso_times=False, implicit=True)
    repeated = log.iloc[::3].assign(when=lambda f: f["when"] - 60)
    data = read_interactions(
        pd.concat([log, repeated], ignore_index=True), items=items, name="synthetic-implicit"
    )
    assert data.implicit and data.user_vocab is None and "weight" in data.ratings
    return split(data, "temporal")


def _two_groups(rng) -> pd.DataFrame:
    """Users u0-u19 take 6 of items a0-a7 each, users v0-v19 6 of b0-b7."""
    rows = [
        (f"{user}{u}", f"{item}{i}")
        for user, item in (("u", "a"), ("v", "b"))
        for u in range(20)
        for i in rng.choice(8, 6, replace=False)
    ]
    return pd.DataFrame(rows, columns=["user", "item"])


@pytest.fixture(scope="session")
def group_split():
    """Two taste groups in an implicit log with string IDs: users u0-u19 take
    items a0-a7 only, users v0-v19 items b0-b7 only (6 each, seeded)."""
    frame = _two_groups(np.random.default_rng(3))
    frame["when"] = np.arange(len(frame))
    return split(read_interactions(frame, name="two-groups"), "none")


@pytest.fixture(scope="session")
def features_split():
    """The two taste groups with features: users u0-u19 (country "fr") take
    items a0-a7 (brand "acme", genre "Gadget"), users v0-v19 ("de") items
    b0-b7 ("bolt", "Gizmo"); ages, a device per interaction and the hour of
    day carry no signal (seeded)."""
    rng = np.random.default_rng(5)
    log = _two_groups(rng)
    log["when"] = rng.integers(1_600_000_000, 1_700_000_000, len(log))
    log["device"] = rng.choice(["phone", "tv"], len(log))
    users = pd.DataFrame({"user": [f"{g}{u}" for g in "uv" for u in range(20)]})
    users["country"] = np.where(users["user"].str.startswith("u"), "fr", "de")
    users["age"] = rng.integers(18, 70, len(users))
    items = pd.DataFrame({"item": [f"{g}{i}" for g in "ab" for i in range(8)]})
    items["brand"] = np.where(items["item"].str.startswith("a"), "acme", "bolt")
    items["genres"] = np.where(items["brand"] == "acme", "Gadget", "Gizmo")
    data = read_interactions(
        log,
        name="two-groups-features",
        users=users,
        user_features="country=category,age=numeric",
        items=items,
        item_features="brand=category",
        context_features="device=category",
        context_time=True,
    )
    return split(data, "none")


@pytest.fixture(scope="session")
def board_split():
    return split(checkerboard(), "none")


@pytest.fixture(scope="session")
def ml_root():
    root = real_data_root()
    if root is None:
        pytest.skip("ml-latest-small not found: set TFREC_DATA_DIR or place ../shared/data")
    return root


@pytest.fixture(scope="session")
def cycle_split():
    """60 users each walk the cycle 1 -> 2 -> ... -> 12 -> 1 from a random start."""
    import pandas as pd

    from tfrec.data.schema import Dataset, make_items, validate_ratings
    from tfrec.splits import split

    n_users, n_items, steps = 60, 12, 30
    rng = np.random.default_rng(0)
    rows = []
    for user in range(n_users):
        start = rng.integers(n_items)
        for step in range(steps):
            rows.append((user + 1, (start + step) % n_items + 1, 4.0, 1_000_000 + step))
    ratings = pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "timestamp"])
    ratings = ratings.drop_duplicates(["user_id", "item_id"], keep="last")
    ratings = validate_ratings(ratings, (0.5, 5.0), "cycle")
    data = Dataset("cycle", ratings, make_items(np.arange(1, n_items + 1)))
    return split(data, "leave-one-out")

"""Shared fixtures: tiny seeded synthetic data, and the real-data directory."""

import os
import tempfile
from pathlib import Path

import pytest

from tfrec.data.synthetic import checkerboard, generate
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
def board_split():
    return split(checkerboard(), "none")


@pytest.fixture(scope="session")
def ml_root():
    root = real_data_root()
    if root is None:
        pytest.skip("ml-latest-small not found: set TFREC_DATA_DIR or place ../shared/data")
    return root

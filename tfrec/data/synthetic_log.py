"""A large service's raw log, written as Parquet parts without holding it in memory.

For the out-of-core path (``tfrec data prepare``) and its benchmark: string
IDs (``u123``, ``sku-456``), ISO 8601 times, a ``quantity`` strength, and
repeated (user, item) rows, a 1-5 ``stars`` rating, written ``rows_per_part`` at a time in time
order, as a service's daily exports would be. Its shape:

* user activity is log-normal (a few heavy users, many light ones);
* ``stars`` (1-5) are higher for items of the user's own cluster;
* items follow a Zipf law (p ∝ 1 / (rank + 10)), and each user belongs to
  one of ``n_clusters`` taste clusters: with probability ``affinity`` the
  item comes from the user's cluster (items with ``item % n_clusters`` equal
  to it, Zipf within), otherwise from the whole catalogue — structure that
  a recommender can learn.

The result is seeded: the same arguments write the same files.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tfrec.errors import check_positive_int

START = np.datetime64("2024-01-01T00:00:00", "s")
SPAN_S = 365 * 24 * 3600


def write_service_log(
    directory,
    n_interactions: int,
    n_users: int = 650_000,
    n_items: int = 250_000,
    *,
    rows_per_part: int = 5_000_000,
    n_clusters: int = 50,
    affinity: float = 0.7,
    seed: int = 0,
) -> list[Path]:
    """Writes ``n_interactions`` rows as ``part-00000.parquet``, ... in ``directory``.

    Args:
        directory: Where to write the parts (created).
        n_interactions: Rows in all.
        n_users: Users.
        n_items: Items.
        rows_per_part: Rows per Parquet file (and the memory used at once).
        n_clusters: Taste clusters of users and items.
        affinity: Probability that a row's item is from the user's cluster.
        seed: Seed.

    Returns:
        The files written, in time order.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    for name, value in (("n_interactions", n_interactions), ("n_users", n_users),
                        ("n_items", n_items), ("rows_per_part", rows_per_part)):  # fmt: skip
        check_positive_int(name, value)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    activity = np.cumsum(rng.lognormal(0.0, 1.2, n_users))
    activity /= activity[-1]
    global_cdf = _zipf_cdf(n_items)
    cluster_size = -(-n_items // n_clusters)
    cluster_cdf = _zipf_cdf(cluster_size)
    n_parts = -(-n_interactions // rows_per_part)
    files = []
    for part in range(n_parts):
        m = min(rows_per_part, n_interactions - part * rows_per_part)
        users = np.searchsorted(activity, rng.random(m))
        in_cluster = rng.random(m) < affinity
        items = np.searchsorted(global_cdf, rng.random(m))
        local = users % n_clusters + n_clusters * np.searchsorted(cluster_cdf, rng.random(m))
        items = np.where(in_cluster & (local < n_items), local, items)
        seconds = np.sort(rng.integers(0, SPAN_S // n_parts, m)) + part * (SPAN_S // n_parts)
        table = pa.table(
            {
                "customer": _labels("u", users),
                "sku": _labels("sku-", items),
                "when": pa.array(np.datetime_as_string(START + seconds.astype("timedelta64[s]"))),
                "stars": pa.array(_stars(rng, in_cluster & (local < n_items))),
                "quantity": pa.array(rng.geometric(0.6, m).astype(np.int32)),
            }
        )
        path = directory / f"part-{part:05d}.parquet"
        tmp = path.with_name(path.name + ".tmp")
        pq.write_table(table, tmp, compression="zstd")
        tmp.replace(path)
        files.append(path)
    return files


def _stars(rng, liked: np.ndarray) -> np.ndarray:
    """1-5 stars around 4 for the user's own cluster, around 2.5 elsewhere."""
    mean = np.where(liked, 4.0, 2.5)
    return np.clip(np.rint(mean + rng.normal(0, 1, len(liked))), 1, 5).astype(np.float32)


def _labels(prefix: str, values: np.ndarray):
    """``prefix`` + each integer's text, as a pyarrow string array."""
    import pyarrow as pa
    import pyarrow.compute as pc

    return pc.binary_join_element_wise(prefix, pc.cast(pa.array(values), pa.string()), "")


def _zipf_cdf(n: int) -> np.ndarray:
    weights = 1.0 / (np.arange(n) + 10.0)
    cdf = np.cumsum(weights)
    return cdf / cdf[-1]

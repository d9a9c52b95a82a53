"""The preparation's SQL, stage by stage: the one definition of duplicates,
k-core, splits and shards for the out-of-core path.

Each function returns one statement over the previous stage's table, in
portable SQL (window functions, no engine-specific clauses), so that what
the in-memory path does in numpy (:mod:`tfrec.splits`,
``interaction_log._deduplicate``, ``interaction_log.k_core``) has exactly
one out-of-core counterpart. Tables: ``coded`` (user_id, item_id, rating,
timestamp, [weight,] [context_0, ...,] row: the row's position in the log;
``context_j`` the text of the j-th context feature), then ``kept``
(after duplicates and k-core, in log order), then ``final`` (with ``part``:
0 train, 1 validation, 2 test, and ``shard``).

DuckDB and Spark SQL (``_spark.py``, with ANSI double-quoted identifiers)
run the same text; a table's row order is never relied on, only ``ORDER BY``
and ``row``.
"""

from __future__ import annotations

# Knuth's multiplicative hash of the user code, its high bits scaled to the
# shards. Its low bits would keep the code's: with an even count of shards,
# shard parity = code parity, and a shard's users would share whatever the
# codes' order carries (a batch streamed from one shard then holds half the
# taste clusters of a log whose IDs carry them).
SHARD_OF_USER = (
    "CAST(floor(((CAST(user_id AS BIGINT) * 2654435761) % 4294967296) * {shards} / 4294967296.0) "
    "AS INTEGER)"
)


# A shard file's row order: by user, in time order, ties in log order.
SHARD_ORDER = ("user_id", "timestamp", "row")


def context_columns(n: int) -> tuple[str, ...]:
    """The names of ``n`` context feature columns in the tables and shards."""
    return tuple(f"context_{j}" for j in range(n))


def deduplicate(policy: str, weighted: bool, context: tuple[str, ...] = ()) -> str:
    """One row per (user, item): the last (by time, then log order), the first, the
    last with the mean rating, or the last weighted by the row count (or the sum
    of the weights), as ``interaction_log._deduplicate`` does; the kept row's
    ``context`` columns with it."""
    descending = "" if policy == "first" else " DESC"
    order = f"timestamp{descending}, row{descending}"
    window = "PARTITION BY user_id, item_id"
    rating = "rating"
    weight = "weight" if weighted else None
    if policy == "mean":
        rating = f"CAST(avg(CAST(rating AS DOUBLE)) OVER ({window}) AS FLOAT) AS rating"
    if policy == "count":
        total = "sum(CAST(weight AS DOUBLE))" if weighted else "count(*)"
        weight = f"CAST({total} OVER ({window}) AS FLOAT) AS weight"
    columns = ", ".join(
        c for c in ("user_id", "item_id", rating, "timestamp", weight, *context, "row") if c
    )
    return (
        "SELECT user_id, item_id, rating, timestamp, "
        + ("weight, " if weight else "")
        + "".join(f"{c}, " for c in context)
        + "row FROM ("
        f"SELECT {columns}, row_number() OVER ({window} ORDER BY {order}) AS k FROM coded"
        ") AS ranked WHERE k = 1 ORDER BY row"
    )


def k_core_pass(min_users: int, min_items: int) -> str:
    """One pass of the k-core filter: keep rows whose user and item both have
    enough rows now (``interaction_log.k_core`` repeats it until nothing drops)."""
    return (
        "SELECT * FROM kept WHERE "
        f"user_id IN (SELECT user_id FROM kept GROUP BY user_id HAVING count(*) >= {min_users}) "
        f"AND item_id IN (SELECT item_id FROM kept GROUP BY item_id HAVING count(*) >= {min_items})"
        " ORDER BY row"
    )


def part_of_row(method: str, fraction: float) -> tuple[str, str]:
    """The ``part`` expression of a split method and the FROM clause it needs, as
    :mod:`tfrec.splits` defines them (``random`` joins a ``parts`` table of
    (idx, part): numpy's seeded draws for the rows in log order)."""
    if method == "none":
        return "0", "kept"
    if method == "random":
        return (
            "parts.part",
            "(SELECT *, row_number() OVER (ORDER BY row) - 1 AS idx FROM kept) AS numbered "
            "JOIN parts ON numbered.idx = parts.idx",
        )
    if method == "global-time":
        # The same float comparisons as numpy's: rank = position / n.
        return (
            f"CASE WHEN CAST(idx AS DOUBLE) / n >= {1 - fraction!r} THEN 2 "
            f"WHEN CAST(idx AS DOUBLE) / n >= {1 - 2 * fraction!r} THEN 1 ELSE 0 END",
            "(SELECT *, row_number() OVER (ORDER BY timestamp, row) - 1 AS idx, "
            "count(*) OVER () AS n FROM kept) AS ordered",
        )
    per_user = (
        "(SELECT *, row_number() OVER (PARTITION BY user_id ORDER BY timestamp, row) - 1 AS pos, "
        "count(*) OVER (PARTITION BY user_id) AS n FROM kept) AS ordered"
    )
    if method == "leave-one-out":
        return (
            "CASE WHEN n >= 3 AND pos = n - 1 THEN 2 WHEN n >= 3 AND pos = n - 2 THEN 1 ELSE 0 END",
            per_user,
        )
    # temporal: the last max(1, floor(n * fraction)) to test, as many before to validation
    held = f"greatest(1, CAST(floor(n * {fraction!r}) AS BIGINT))"
    return (
        f"CASE WHEN pos >= n - {held} THEN 2 WHEN pos >= n - 2 * {held} THEN 1 ELSE 0 END",
        per_user,
    )


def final(
    method: str, fraction: float, shards: int, weighted: bool, context: tuple[str, ...] = ()
) -> str:
    """Every kept row with its part and shard, clustered by (part, shard) and in
    (user, time) order within, so that each shard's file is one range scan."""
    part, source = part_of_row(method, fraction)
    carried = "".join(f"{c}, " for c in (("weight",) if weighted else ()) + tuple(context))
    return (
        f"SELECT user_id, item_id, rating, timestamp, {carried}row, "
        f"CAST({part} AS TINYINT) AS part, {SHARD_OF_USER.format(shards=shards)} AS shard "
        f"FROM {source} ORDER BY part, shard, user_id, timestamp, row"
    )


def shard_rows(part: int, shard: int, weighted: bool, context: tuple[str, ...] = ()) -> str:
    """The rows of one shard file, in (user, time, log) order."""
    carried = "".join(f", {c}" for c in (("weight",) if weighted else ()) + tuple(context))
    return (
        f"SELECT user_id, item_id, rating, timestamp{carried} FROM final "
        f"WHERE part = {part} AND shard = {shard} ORDER BY {', '.join(SHARD_ORDER)}"
    )


def vocabulary(what: str) -> str:
    """The ``users.parquet`` / ``items.parquet`` rows: each raw ID, its code and its
    interactions in ``final``, by code."""
    return (
        f"SELECT v.raw AS raw_id, v.code, coalesce(c.n, 0) AS interactions "
        f"FROM {what}_vocab v LEFT JOIN (SELECT {what}_id, count(*) AS n FROM final "
        f"GROUP BY {what}_id) c ON v.code = c.{what}_id ORDER BY v.code"
    )

"""``tfrec benchmark``: every model under one protocol, with error bars.

    from tfrec.benchmark import run_benchmark
    result = run_benchmark("synthetic", "bench", models="popularity,svd,two_tower", seeds=3)
    result.rows[0]["model"], result.rows[0]["ndcg@10"], result.rows[0]["ndcg@10_users_low"]

Modules, one concept each: :mod:`~tfrec.benchmark.runner` (the jobs, one
process per fit, progress, atomic output), :mod:`~tfrec.benchmark.worker`
(one fit or tuning job), :mod:`~tfrec.benchmark.catalog` (model names and
seeding), :mod:`~tfrec.benchmark.tune` (the ``--tune`` grids),
:mod:`~tfrec.benchmark.stats` (bootstrap and t intervals, the paired test),
:mod:`~tfrec.benchmark.leaderboard` (runs to rows),
:mod:`~tfrec.benchmark.report` (Markdown, JSON, CSV),
:mod:`~tfrec.benchmark.plots` (PNGs) and :mod:`~tfrec.benchmark.peers`
(Surprise and implicit behind the Recommender interface).
"""

__all__ = ["run_benchmark", "BenchmarkResult", "BENCH_SPLITS"]


def __getattr__(name):
    # Lazy, so that a worker process (or ``tfrec.benchmark.peers``) loads only what it uses.
    if name in __all__:
        from tfrec.benchmark import runner

        return getattr(runner, name)
    raise AttributeError(f"module 'tfrec.benchmark' has no attribute {name!r}")

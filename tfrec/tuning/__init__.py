"""Tuning on validation: search spaces, the budgeted search, and ``--model auto``.

* :mod:`~tfrec.tuning.space`: what a model's config lets ``--tune`` change
  (``Range`` intervals and lists of choices, declared beside each config).
* :mod:`~tfrec.tuning.budget`: ``--tune-budget`` durations (``90s``, ``10m``, ``1h``).
* :mod:`~tfrec.tuning.search`: one model's search (Optuna's TPE sampler),
  within a time budget, scored on the validation split only.
* :mod:`~tfrec.tuning.auto`: ``--model auto``, every candidate model that
  fits the data, defaults first, then tuned within shares of one budget.

This package's ``__init__`` imports nothing, so that model configs can
import :class:`~tfrec.tuning.space.Range` without loading the search.
"""

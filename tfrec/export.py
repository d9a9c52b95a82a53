"""SavedModel export in TensorFlow Serving's layout.

``export(model, "saved_models")`` writes ``saved_models/<name>/<version>/``
(``saved_model.pb``, ``variables/``, ``assets.extra/tfrec.json`` and
``assets.extra/tf_serving_warmup_requests``, one request per signature for
TF Serving to replay on load) with raw-ID signatures:

IDs are int64, or tf.string where the dataset's IDs are strings
(``tfrec.json``'s ``user_id_dtype`` / ``item_id_dtype`` say which):

* ``recommend``: ``user_id`` ([batch]), ``k`` (int32 [batch] or [1]; the
  largest value is used) -> ``item_ids`` ([batch, k]), ``scores``
  (float32 [batch, k]). The user's training items are excluded; an unknown
  user gets the most popular items. Where fewer than k items remain, the rest
  is item_id -1 (``""`` for string IDs) with score NaN.
* ``predict``: ``user_id``, ``item_id`` ([batch]) [, ``timestamp`` (int64
  Unix seconds) for models that use time] -> ``rating`` (float32 [batch]),
  clipped to the rating scale (rating models), or ``score`` (ranking models).
  An unknown user or item gets the training mean rating (rating models) or
  the item's popularity (ranking models).
* ``recommend_history`` (models that serve new users: ``tfrec models``):
  ``history`` ([batch, length] raw item IDs, oldest first, padded with -1 or
  ``""``), ``k`` -> ``item_ids``, ``scores`` for a user known only by those
  items (fold-in: popularity, item KNN, EASE; the recent items: lstm). The
  history's own items are excluded; unknown IDs are ignored; an empty
  history gets the most popular items.
* ``rank``: ``user_id`` ([batch]), ``item_ids`` ([batch, n]: each user's
  candidates) -> ``scores`` ([batch, n]): ``predict`` of every (user,
  candidate) pair, with its fallbacks; the ranking stage's call.
* ``serving_default``: ``predict`` for rating models, ``recommend`` otherwise.

The version directory is written under a temporary name and renamed, so TF
Serving never sees half an export.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from tfrec.errors import ConfigError
from tfrec.features.raw import missing_values
from tfrec.io import write_json
from tfrec.version import __version__


def export(
    model,
    export_root="saved_models",
    name: str | None = None,
    version: int | None = None,
    metadata: dict | None = None,
) -> Path:
    """Exports a fitted model as a versioned SavedModel.

    Args:
        model: A fitted :class:`~tfrec.models.base.Recommender`.
        export_root: Root of the TF Serving model base paths.
        name: Model name under the root; defaults to the model's name.
        version: Version number; defaults to one more than the newest.
        metadata: More entries of ``tfrec.json``, e.g. the ``dataset`` it was
            trained on (see :func:`tfrec.api.check_export_name`).

    Returns:
        The version directory.
    """
    import tensorflow as tf

    from tfrec.serving.warmup import write_warmup
    from tfrec.signatures import ServingModule
    from tfrec.tf_logging import SERIALIZATION_WARNINGS, without_warnings

    name = name or model.name
    base = Path(export_root) / name
    versions = existing_versions(base)
    if version is None:
        version = (max(versions) + 1) if versions else 1
    elif isinstance(version, bool) or not isinstance(version, int) or version <= 0:
        raise ConfigError(f"version must be a positive integer; got {version!r}")
    elif version in versions:
        raise ConfigError(
            f"version {version} already exists in {base}; pick another or "
            "leave version unset for the next one"
        )
    module = ServingModule(model)
    signatures = module.signatures()
    base.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".tmp-{version}-", dir=base))
    try:
        with without_warnings(*SERIALIZATION_WARNINGS):
            tf.saved_model.save(module, str(staging / "model"), signatures=signatures)
        write_json(
            staging / "model" / "assets.extra" / "tfrec.json",
            {
                "model": model.name,
                "config": model.config.to_dict(),
                "tfrec_version": __version__,
                "signatures": sorted(signatures),
                "user_id_dtype": "string" if model.users_.is_string else "int64",
                "item_id_dtype": "string" if model.items_.is_string else "int64",
                "n_users": len(model.user_ids),
                "n_items": len(model.item_ids),
                "rating_scale": list(model.rating_scale_),
                "predicts_ratings": model.predicts_ratings,
                "fallback": "unknown user: most popular items; unknown pair: "
                + ("training mean rating" if model.predicts_ratings else "popularity"),
                **(metadata or {}),
            },
        )
        write_warmup(staging / "model", name, signatures, _warmup_sample(model))
        (staging / "model").rename(base / str(version))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return base / str(version)


def _warmup_sample(model, k: int = 10, history_length: int = 20) -> dict:
    """Inputs of the warm-up requests: a real user, one of their items, k, now,
    their items as a history padded with -1 (or ""), and missing values for the
    user features and context the model reads."""
    user = model.user_ids[0]
    rated, _ = model.rated_items(user)
    recent = rated[-(history_length - 1) :]
    history = np.concatenate([recent, np.full(history_length - len(recent), model.items_.pad)])
    schema = model.feature_schema_
    features = missing_values([*schema.of("user"), *schema.of("context")], 1)
    return {
        **{key: list(values) for key, values in features.items()},
        "user_id": [user],
        "item_id": [rated[0] if len(rated) else model.item_ids[0]],
        "item_ids": [model.item_ids[:2]],
        "k": [k],
        "timestamp": [int(time.time())],
        "history": [history],
    }


def existing_versions(base: Path) -> list[int]:
    """Integer version directories under a model base path."""
    if not base.is_dir():
        return []
    return sorted(int(p.name) for p in base.iterdir() if p.is_dir() and p.name.isdigit())

"""Model registry: ``get_model(name, **config)`` and ``load_model(path)``.

Models are imported on first use, so that the numpy baselines never pay for
TensorFlow's import.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path

from tfrec.errors import ConfigError, TfrecError
from tfrec.models.base import ModelConfig, Recommender

# name -> "module:Class"
_MODELS = {
    "popularity": "tfrec.models.popularity:Popularity",
    "bias": "tfrec.models.bias:Bias",
    "svd": "tfrec.models.svd:SVD",
    "itemknn": "tfrec.models.itemknn:ItemKNN",
    "ease": "tfrec.models.ease:EASE",
    "content_knn": "tfrec.models.content_knn:ContentKNN",
    "content_pop": "tfrec.models.content_knn:ContentPop",
    "mf": "tfrec.models.mf:MF",
    "dnn": "tfrec.models.dnn:DNN",
    "hybrid": "tfrec.models.hybrid:Hybrid",
    "blend": "tfrec.models.blend:Blend",
    "gmf": "tfrec.models.gmf:GMF",
    "two_tower": "tfrec.models.two_tower:TwoTower",
    "lstm": "tfrec.models.sequence:SequenceRecommender",
    "lstm_retrieval": "tfrec.models.two_tower:LSTMRetrieval",
}


def model_names() -> list[str]:
    """Names accepted by :func:`get_model` and ``tfrec train --model``."""
    return list(_MODELS)


def model_class(name: str) -> type[Recommender]:
    """The Recommender class registered under ``name``."""
    if name not in _MODELS:
        raise ConfigError(f"unknown model {name!r}; accepted: {', '.join(_MODELS)}")
    module, cls = _MODELS[name].split(":")
    return getattr(importlib.import_module(module), cls)


def get_model(name: str, config: ModelConfig | dict | None = None, **options) -> Recommender:
    """A new, unfitted model.

    Args:
        name: Registered model name, e.g. ``"svd"``.
        config: A config object or dict of options.
        **options: Options set on top of ``config``, e.g. ``k=64``.
    """
    cls = model_class(name)
    if isinstance(config, dict):
        config = cls.Config.from_dict({**config, **options})
        options = {}
    return cls(config, **options)


def load_model(path) -> Recommender:
    """Loads a model saved with :meth:`Recommender.save`."""
    path = Path(path)
    meta_file = path / "model.json"
    if not meta_file.exists():
        raise TfrecError(
            f"{path} holds no saved tfrec model (no model.json); pass the directory "
            "that `tfrec train --out` wrote or `model.save()` created"
        )
    meta = json.loads(meta_file.read_text())
    return model_class(meta["model"])._restore(path, meta)


__all__ = ["Recommender", "ModelConfig", "get_model", "load_model", "model_class", "model_names"]

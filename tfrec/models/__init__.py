"""Model registry: ``get_model(name, **config)`` and ``load_model(path)``.

Models are imported on first use, so that the numpy baselines never pay for
TensorFlow's import.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
from pathlib import Path

from tfrec.errors import ConfigError, TfrecError
from tfrec.models.base import ModelConfig, Recommender

# name -> "module:Class"
_MODELS = {
    "popularity": "tfrec.models.baselines.popularity:Popularity",
    "bias": "tfrec.models.baselines.bias:Bias",
    "svd": "tfrec.models.baselines.svd:SVD",
    "itemknn": "tfrec.models.baselines.itemknn:ItemKNN",
    "ease": "tfrec.models.baselines.ease:EASE",
    "content_knn": "tfrec.models.baselines.content_knn:ContentKNN",
    "content_pop": "tfrec.models.baselines.content_knn:ContentPop",
    "mf": "tfrec.models.factorization.mf:MF",
    "dnn": "tfrec.models.rating.dnn:DNN",
    "hybrid": "tfrec.models.rating.hybrid:Hybrid",
    "blend": "tfrec.models.rating.blend:Blend",
    "dcn": "tfrec.models.ranking.dcn:DCN",
    "cascade": "tfrec.models.ranking.cascade:Cascade",
    "gmf": "tfrec.models.factorization.gmf:GMF",
    "two_tower": "tfrec.models.retrieval.two_tower:TwoTower",
    "lstm": "tfrec.models.sequence.lstm:SequenceRecommender",
    "lstm_retrieval": "tfrec.models.retrieval.lstm_retrieval:LSTMRetrieval",
    # peers: other libraries' models behind the same interface (``.[peers]``)
    "surprise_baseline": "tfrec.models.peers:SurpriseBaseline",
    "surprise_svd": "tfrec.models.peers:SurpriseSVD",
    "surprise_svdpp": "tfrec.models.peers:SurpriseSVDpp",
    "implicit_als": "tfrec.models.peers:ImplicitALS",
    "implicit_bpr": "tfrec.models.peers:ImplicitBPR",
}
# peer name -> (the module it needs, its pip name)
_PEERS = {
    "surprise_baseline": ("surprise", "scikit-surprise"),
    "surprise_svd": ("surprise", "scikit-surprise"),
    "surprise_svdpp": ("surprise", "scikit-surprise"),
    "implicit_als": ("implicit", "implicit"),
    "implicit_bpr": ("implicit", "implicit"),
}
INSTALL_HINT = 'pip install "tfrec[peers]"'


def model_names(peers: bool = True, installed: bool = False) -> list[str]:
    """Names accepted by :func:`get_model` and ``tfrec train --model``.

    Args:
        peers: Include the peer libraries' models, installed or not.
        installed: Only the models whose library is installed: the names a
            message may suggest, or a listing may load with :func:`model_class`.
    """
    return [
        name
        for name in _MODELS
        if (peers or name not in _PEERS) and (not installed or is_available(name))
    ]


def peer_names() -> list[str]:
    """The peer libraries' models (Surprise, implicit), installed or not."""
    return list(_PEERS)


def is_available(name: str) -> bool:
    """Whether the model's library is installed (always, for tfrec's own models)."""
    return name not in _PEERS or importlib.util.find_spec(_PEERS[name][0]) is not None


def available_peers() -> tuple[list[str], str | None]:
    """The peers whose library is installed, and a one-line note about the rest.

    Returns:
        (names, note); note is None when every peer library is installed.
    """
    names = [name for name in _PEERS if is_available(name)]
    missing = [name for name in _PEERS if not is_available(name)]
    if not missing:
        return names, None
    packages = ", ".join(sorted({_PEERS[name][1] for name in missing}))
    return names, f"peers skipped ({', '.join(missing)}): {packages} not installed; {INSTALL_HINT}"


def model_class(name: str) -> type[Recommender]:
    """The Recommender class registered under ``name``."""
    if name not in _MODELS:
        missing = [peer for peer in _PEERS if not is_available(peer)]
        after_install = f" (after {INSTALL_HINT}, also: {', '.join(missing)})" if missing else ""
        raise ConfigError(
            f"unknown model {name!r}; accepted: {', '.join(model_names(installed=True))}"
            + after_install
        )
    if not is_available(name):
        raise ConfigError(
            f"model {name!r} needs {_PEERS[name][1]}, which is not installed; {INSTALL_HINT}"
        )
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


__all__ = [
    "Recommender",
    "ModelConfig",
    "get_model",
    "load_model",
    "model_class",
    "model_names",
    "peer_names",
    "is_available",
    "available_peers",
]

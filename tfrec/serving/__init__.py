"""Serving exported models: TF Serving config and warm-up, clients, a local server.

* :class:`Client`: TF Serving's REST API (``:predict``, status, metadata);
  standard library only.
* :class:`GrpcClient`: TF Serving's gRPC ``PredictionService``.
* :class:`LocalServer`: the same REST API from ``tf.saved_model.load``, for
  machines without TF Serving (``tfrec serve``).
* :func:`write_configs`: ``models.config`` and ``batching.config`` for
  ``tensorflow_model_server`` (``tfrec serving config``).
* :func:`read_warmup`: the warm-up requests every export carries.

This layer reads SavedModels on disk only, never training code. Names are
imported on first use, so ``Client`` does not import TensorFlow.
"""

from importlib import import_module

_NAMES = {
    "Client": "tfrec.serving.rest_client",
    "GrpcClient": "tfrec.serving.grpc_client",
    "LocalServer": "tfrec.serving.server",
    "Batching": "tfrec.serving.config",
    "write_configs": "tfrec.serving.config",
    "model_versions": "tfrec.serving.layout",
    "read_warmup": "tfrec.serving.warmup",
}

__all__ = list(_NAMES)


def __getattr__(name):
    if name in _NAMES:
        return getattr(import_module(_NAMES[name]), name)
    raise AttributeError(f"module 'tfrec.serving' has no attribute {name!r}")

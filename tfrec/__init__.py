"""tfrec: a TensorFlow/Keras toolkit for recommender systems.

Importing ``tfrec`` is cheap: the data, split and evaluation layers use only
numpy, pandas and scipy. TensorFlow is imported by the Keras models and the
export code when they are first used. ``TF_USE_LEGACY_KERAS=1`` is set here
(unless the user set it) before anything imports TensorFlow, because
tensorflow-recommenders needs Keras 2 (``tf_keras``).

The Python API::

    import tfrec
    data = tfrec.load_dataset("synthetic")
    split = tfrec.split(data, "temporal")
    model = tfrec.get_model("svd", k=50).fit(split)
    print(tfrec.evaluate(model, split).metrics)
"""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

from tfrec.version import __version__  # noqa: E402

_API = (
    "load_dataset",
    "split",
    "get_model",
    "evaluate",
    "train",
    "cascade",
    "load_model",
    "run_benchmark",
)

__all__ = ["__version__", *_API]


def __getattr__(name):
    # The API is imported lazily so that `import tfrec` stays light.
    if name in _API:
        from tfrec import api

        return getattr(api, name)
    raise AttributeError(f"module 'tfrec' has no attribute {name!r}")

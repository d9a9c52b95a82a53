"""Item content features, fitted on the training split's items only.

* :func:`genre_multi_hot`: one column per genre seen in training.
* :func:`tag_tfidf`: TF-IDF over each item's tags (top ``max_terms`` terms),
  scaled to [0, 1] per term; vectoriser and scaler are fitted on training items.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import MinMaxScaler, MultiLabelBinarizer


def _rows(items: pd.DataFrame, item_ids: np.ndarray) -> pd.DataFrame:
    """Items frame reindexed to ``item_ids`` (missing items get empty lists)."""
    frame = items.drop_duplicates("item_id").set_index("item_id").reindex(item_ids)
    for column in ("genres", "tags"):
        frame[column] = [v if isinstance(v, list) else [] for v in frame[column]]
    frame["title"] = frame["title"].fillna("").astype(str)
    return frame


def genre_multi_hot(
    items: pd.DataFrame, item_ids: np.ndarray, names: list[str] | None = None
) -> np.ndarray:
    """(len(item_ids), n_genres) float32 multi-hot matrix of the items' genres.

    Args:
        items: An items table.
        item_ids: The items, one row each.
        names: The columns' genres (e.g. :func:`genre_names` of the training
            items, for new items); None: every genre of these items, sorted.
    """
    genres = _rows(items, item_ids)["genres"]
    names = genre_names(items, item_ids) if names is None else names
    if not names:
        return np.zeros((len(item_ids), 1), np.float32)
    binarizer = MultiLabelBinarizer(classes=list(names))
    binarizer.fit([])
    known = set(names)
    return binarizer.transform([[g for g in row if g in known] for row in genres]).astype(
        np.float32
    )


def genre_names(items: pd.DataFrame, item_ids: np.ndarray) -> list[str]:
    """The sorted genres of these items (the columns of :func:`genre_multi_hot`)."""
    return sorted({g for row in _rows(items, item_ids)["genres"] for g in row})


def tag_tfidf(items: pd.DataFrame, item_ids: np.ndarray, max_terms: int = 100) -> np.ndarray:
    """(len(item_ids), <= max_terms) min-max scaled TF-IDF of each item's tags."""
    documents = [
        " ".join(t.replace(" ", "_") for t in tags) for tags in _rows(items, item_ids)["tags"]
    ]
    if not any(documents):
        return np.zeros((len(item_ids), 1), np.float32)
    vectorizer = TfidfVectorizer(max_features=max_terms, token_pattern=r"[^\s]+")
    matrix = vectorizer.fit_transform(documents).toarray()
    return MinMaxScaler().fit_transform(matrix).astype(np.float32)

"""Text vectors for items: pluggable encoders over per-item documents.

A document is the item's title (year removed), genres and tags, plus any
extra text columns the dataset has (e.g. ``overview``, ``director``, ``cast``),
lower-cased, punctuation and English stop words removed.

* :class:`Word2VecEncoder` (default): gensim skip-gram Word2Vec trained on
  the training items' documents; an item's vector is the mean of its tokens'.
  The vectors are cached under :func:`tfrec.io.cache_root` by a hash of the
  documents and settings, so a second run with the same data skips training.
* :class:`TfidfSvdEncoder`: TF-IDF followed by truncated SVD.

Both are fitted on training items only and return float32 (n_items, dim).
"""

from __future__ import annotations

import hashlib
import json
import re
import zlib

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

EXTRA_TEXT_COLUMNS = ("overview", "director", "cast", "keywords", "production_companies")
_TOKEN = re.compile(r"[a-z0-9]+(?:['-][a-z0-9]+)*")


def tokenize(text: str) -> list[str]:
    """Lower-case word tokens without English stop words."""
    return [t for t in _TOKEN.findall(text.lower()) if t not in ENGLISH_STOP_WORDS]


def item_documents(items: pd.DataFrame, item_ids: np.ndarray) -> list[list[str]]:
    """One token list per item in ``item_ids`` order."""
    frame = items.drop_duplicates("item_id").set_index("item_id").reindex(item_ids)
    titles = frame["title"].fillna("").astype(str).str.replace(r"\(\d{4}\)\s*$", "", regex=True)
    parts = [titles]
    for column in ("genres", "tags"):
        parts.append(frame[column].map(lambda v: " ".join(v) if isinstance(v, list) else ""))
    for column in EXTRA_TEXT_COLUMNS:
        if column in frame.columns:
            parts.append(frame[column].fillna("").astype(str))
    text = parts[0]
    for part in parts[1:]:
        text = text + " " + part
    return [tokenize(t) for t in text]


def _stable_hash(text: str) -> int:
    return zlib.crc32(text.encode("utf-8"))


class Word2VecEncoder:
    """Mean of gensim skip-gram Word2Vec token vectors."""

    def __init__(self, dim: int = 32, window: int = 5, epochs: int = 20, seed: int = 0):
        self.dim, self.window, self.epochs, self.seed = dim, window, epochs, seed

    def fit_transform(self, documents: list[list[str]]) -> np.ndarray:
        from tfrec.io import cache_root, write_npy

        root = cache_root()
        path = root / "word2vec" / f"{self._key(documents)}.npy" if root else None
        if path is not None and path.is_file():
            return np.load(path)
        out = self._train(documents)
        if path is not None:
            write_npy(path, out)
        return out

    def _key(self, documents) -> str:
        import gensim

        settings = [self.dim, self.window, self.epochs, self.seed, gensim.__version__]
        text = json.dumps([settings, documents], separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]

    def _train(self, documents) -> np.ndarray:
        from gensim.models import Word2Vec

        out = np.zeros((len(documents), self.dim), np.float32)
        if not any(documents):
            return out
        model = Word2Vec(
            documents,
            vector_size=self.dim,
            window=self.window,
            min_count=1,
            sg=1,
            epochs=self.epochs,
            seed=self.seed,
            workers=1,
            hashfxn=_stable_hash,
        )
        for row, tokens in enumerate(documents):
            if tokens:
                out[row] = model.wv[tokens].mean(axis=0)
        return out


class TfidfSvdEncoder:
    """TF-IDF over the documents, reduced with truncated SVD."""

    def __init__(self, dim: int = 32, seed: int = 0):
        self.dim, self.seed = dim, seed

    def fit_transform(self, documents: list[list[str]]) -> np.ndarray:
        from sklearn.decomposition import TruncatedSVD
        from sklearn.feature_extraction.text import TfidfVectorizer

        texts = [" ".join(tokens) for tokens in documents]
        if not any(texts):
            return np.zeros((len(documents), self.dim), np.float32)
        matrix = TfidfVectorizer(token_pattern=r"[^\s]+").fit_transform(texts)
        dim = min(self.dim, matrix.shape[1] - 1, matrix.shape[0] - 1)
        if dim < 1:
            return np.zeros((len(documents), self.dim), np.float32)
        vectors = TruncatedSVD(dim, random_state=self.seed).fit_transform(matrix)
        return np.pad(vectors, ((0, 0), (0, self.dim - dim))).astype(np.float32)


ENCODERS = {"word2vec": Word2VecEncoder, "tfidf-svd": TfidfSvdEncoder}

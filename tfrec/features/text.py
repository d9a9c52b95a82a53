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
    """Mean of gensim skip-gram Word2Vec token vectors.

    After ``fit_transform``, ``transform`` embeds other documents (e.g. new
    items) with the same token vectors; ``state``/``set_state`` keep them.
    """

    def __init__(self, dim: int = 32, window: int = 5, epochs: int = 20, seed: int = 0):
        self.dim, self.window, self.epochs, self.seed = dim, window, epochs, seed

    def fit_transform(self, documents: list[list[str]]) -> np.ndarray:
        from tfrec.io import cache_root, write_npz

        root = cache_root()
        path = root / "word2vec" / f"{self._key(documents)}.npz" if root else None
        if path is not None and path.is_file():
            with np.load(path) as cached:
                self.set_state(dict(cached))
        else:
            self._train(documents)
            if path is not None:
                write_npz(path, **self.state())
        return self.transform(documents)

    def transform(self, documents: list[list[str]]) -> np.ndarray:
        """Each document's mean token vector (zeros where no token is known)."""
        out = np.zeros((len(documents), self.dim), np.float32)
        for row, tokens in enumerate(documents):
            rows = [self.index_[t] for t in tokens if t in self.index_]
            if rows:
                out[row] = self.vectors_[rows].mean(axis=0)
        return out

    def state(self) -> dict[str, np.ndarray]:
        return {"tokens": self.tokens_, "vectors": self.vectors_}

    def set_state(self, state: dict[str, np.ndarray]) -> None:
        self.tokens_ = np.asarray(state["tokens"], dtype=str)
        self.vectors_ = np.asarray(state["vectors"], dtype=np.float32)
        self.index_ = {str(t): i for i, t in enumerate(self.tokens_)}

    def _key(self, documents) -> str:
        import gensim

        settings = [self.dim, self.window, self.epochs, self.seed, gensim.__version__]
        text = json.dumps([settings, documents], separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]

    def _train(self, documents) -> None:
        from gensim.models import Word2Vec

        if not any(documents):
            self.set_state({"tokens": [], "vectors": np.zeros((0, self.dim))})
            return
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
        self.set_state({"tokens": list(model.wv.index_to_key), "vectors": model.wv.vectors})


class TfidfSvdEncoder:
    """TF-IDF over the documents, reduced with truncated SVD.

    After ``fit_transform``, ``transform`` embeds other documents with the same
    vocabulary, IDF weights and SVD basis; ``state``/``set_state`` keep them.
    """

    def __init__(self, dim: int = 32, seed: int = 0):
        self.dim, self.seed = dim, seed

    def fit_transform(self, documents: list[list[str]]) -> np.ndarray:
        from sklearn.decomposition import TruncatedSVD
        from sklearn.feature_extraction.text import TfidfVectorizer

        texts = [" ".join(tokens) for tokens in documents]
        self.set_state({"tokens": [], "idf": np.zeros(0), "components": np.zeros((0, 0))})
        if any(texts):
            vectorizer = TfidfVectorizer(token_pattern=r"[^\s]+")
            matrix = vectorizer.fit_transform(texts)
            dim = min(self.dim, matrix.shape[1] - 1, matrix.shape[0] - 1)
            if dim >= 1:
                svd = TruncatedSVD(dim, random_state=self.seed).fit(matrix)
                tokens = vectorizer.get_feature_names_out()
                self.set_state(
                    {"tokens": tokens, "idf": vectorizer.idf_, "components": svd.components_}
                )
        return self.transform(documents)

    def transform(self, documents: list[list[str]]) -> np.ndarray:
        """The SVD coordinates of each document's L2-normalised TF-IDF row."""
        import scipy.sparse as sp

        out = np.zeros((len(documents), self.dim), np.float32)
        if not len(self.tokens_):
            return out
        rows, columns = [], []
        for row, tokens in enumerate(documents):
            known = [self.index_[t] for t in tokens if t in self.index_]
            rows += [row] * len(known)
            columns += known
        counts = sp.csr_matrix(
            (np.ones(len(rows)), (rows, columns)), shape=(len(documents), len(self.tokens_))
        )
        tfidf = counts.multiply(self.idf_[None, :]).tocsr()
        norms = np.sqrt(np.asarray(tfidf.multiply(tfidf).sum(axis=1))).ravel()
        tfidf = sp.diags(1 / np.maximum(norms, 1e-12)) @ tfidf
        vectors = tfidf @ self.components_.T
        out[:, : vectors.shape[1]] = vectors
        return out

    def state(self) -> dict[str, np.ndarray]:
        return {"tokens": self.tokens_, "idf": self.idf_, "components": self.components_}

    def set_state(self, state: dict[str, np.ndarray]) -> None:
        self.tokens_ = np.asarray(state["tokens"], dtype=str)
        self.idf_ = np.asarray(state["idf"], dtype=np.float64)
        self.components_ = np.asarray(state["components"], dtype=np.float64)
        self.index_ = {str(t): i for i, t in enumerate(self.tokens_)}


ENCODERS = {"word2vec": Word2VecEncoder, "tfidf-svd": TfidfSvdEncoder}

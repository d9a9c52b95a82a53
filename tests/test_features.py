"""Item text vectors: Word2Vec, its cache, TF-IDF + SVD."""

import numpy as np
import pytest

from tfrec.features.text import TfidfSvdEncoder, Word2VecEncoder

DOCUMENTS = [["space", "war", "rebel"], ["space", "rebel", "empire"], ["romance", "paris"], []]


def test_word2vec_vectors_are_cached_by_content(tmp_path, monkeypatch):
    monkeypatch.setenv("TFREC_CACHE_DIR", str(tmp_path))
    first = Word2VecEncoder(dim=8, epochs=5).fit_transform(DOCUMENTS)
    assert first.shape == (4, 8) and not first[3].any()
    assert len(list((tmp_path / "word2vec").glob("*.npy"))) == 1

    import gensim.models

    def no_training(*args, **kwargs):
        raise AssertionError("Word2Vec retrained despite the cache")

    monkeypatch.setattr(gensim.models, "Word2Vec", no_training)
    np.testing.assert_array_equal(Word2VecEncoder(dim=8, epochs=5).fit_transform(DOCUMENTS), first)
    with pytest.raises(AssertionError, match="retrained"):  # other documents: a new key
        Word2VecEncoder(dim=8, epochs=5).fit_transform(DOCUMENTS[:2])


def test_cache_can_be_turned_off(tmp_path, monkeypatch):
    monkeypatch.setenv("TFREC_CACHE_DIR", "")
    Word2VecEncoder(dim=4, epochs=2).fit_transform(DOCUMENTS)
    assert not any(tmp_path.iterdir())


def test_tfidf_svd_has_the_asked_width():
    vectors = TfidfSvdEncoder(dim=6).fit_transform(DOCUMENTS)
    assert vectors.shape == (4, 6) and vectors.dtype == np.float32

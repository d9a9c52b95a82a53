"""Item text vectors: Word2Vec, its cache, TF-IDF + SVD."""

import numpy as np
import pytest

from tfrec.features.text import TfidfSvdEncoder, Word2VecEncoder

DOCUMENTS = [["space", "war", "rebel"], ["space", "rebel", "empire"], ["romance", "paris"], []]


def test_word2vec_vectors_are_cached_by_content(tmp_path, monkeypatch):
    monkeypatch.setenv("TFREC_CACHE_DIR", str(tmp_path))
    first = Word2VecEncoder(dim=8, epochs=5).fit_transform(DOCUMENTS)
    assert first.shape == (4, 8) and not first[3].any()
    assert len(list((tmp_path / "word2vec").glob("*.npz"))) == 1

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


@pytest.mark.parametrize("encoder", [Word2VecEncoder(dim=8, epochs=5), TfidfSvdEncoder(dim=2)])
def test_encoders_embed_new_documents_as_the_fitted_ones(encoder, monkeypatch):
    monkeypatch.setenv("TFREC_CACHE_DIR", "")
    fitted = encoder.fit_transform(DOCUMENTS)
    np.testing.assert_allclose(encoder.transform(DOCUMENTS), fitted, rtol=1e-5, atol=1e-6)
    again = type(encoder)(dim=encoder.dim)
    again.set_state(encoder.state())
    new = [["space", "unknown", "war"], ["unknown"]]
    np.testing.assert_allclose(again.transform(new), encoder.transform(new))
    assert not again.transform(new)[1].any() and again.transform(new)[0].any()


def test_tfidf_svd_has_the_asked_width():
    vectors = TfidfSvdEncoder(dim=6).fit_transform(DOCUMENTS)
    assert vectors.shape == (4, 6) and vectors.dtype == np.float32


def test_item_categories_and_numbers_known_answer():
    import pandas as pd

    from tfrec.features.item_features import item_categories, item_numbers

    items = pd.DataFrame(
        {
            "item_id": [10, 20, 30],
            "genres": [["Drama"], ["Drama", "Comedy"], ["(no genres listed)"]],
            "production_companies": ["Pixar|Disney", "Pixar", ""],
            "runtime": [95.0, np.nan, 160.0],
            "vote_count": [np.e - 1, np.nan, np.e**3 - 1],
        }
    )
    categories = item_categories(items, np.array([30, 10, 20]))
    # Only categories on >= 2 items survive: Drama and Pixar.
    assert categories.vocabulary == ["company:Pixar", "genre:Drama"]
    assert categories.table.tolist() == [[0, 0], [2, 1], [2, 1]]
    everything = item_categories(items, np.array([10, 20, 30]), min_count=1)
    assert "runtime:2" in everything.vocabulary and "runtime:7" in everything.vocabulary
    numbers = item_numbers(items, np.array([10, 20, 30]))
    # runtime and log1p(vote_count) standardised over known values; unknown -> 0.
    np.testing.assert_allclose(numbers, [[-1, -1], [0, 0], [1, 1]], atol=1e-6)
    assert item_numbers(items[["item_id", "genres"]], np.array([10])) is None

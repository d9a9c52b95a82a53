"""The export scorers against the numpy products they stand for."""

import numpy as np
import scipy.sparse as sp

from tfrec.models.scorers import SparseProductScorer
from tfrec.signatures import SeenItems


def test_a_sparse_product_reads_the_rows_the_users_touch():
    """x_u W with x_u a user's rated items: the same as the dense product,
    users without items and items shared by users included."""
    rng = np.random.default_rng(0)
    seen = sp.random(6, 40, density=0.15, format="lil", random_state=1, dtype=np.float32)
    seen[5] = 0  # a user without items
    seen = seen.tocsr()
    seen.eliminate_zeros()
    weights = sp.random(40, 40, density=0.2, format="csr", random_state=2, dtype=np.float32)
    users = np.array([0, 3, 5, 3], np.int64)
    for binary in (True, False):
        scorer = SparseProductScorer(SeenItems(seen), [weights], binary=binary)
        x = (seen > 0).astype(np.float32) if binary else seen
        expected = (x @ weights).toarray()[users]
        np.testing.assert_allclose(scorer.score(users).numpy(), expected, rtol=1e-5, atol=1e-6)
    # Two factors with unit rows between them (content_knn's cosine).
    second = sp.csr_matrix(rng.random((40, 40)).astype(np.float32) * (rng.random((40, 40)) < 0.1))
    scorer = SparseProductScorer(SeenItems(seen), [weights, second], unit_rows=True)
    first = ((seen > 0).astype(np.float32) @ weights).toarray()
    unit = first / np.maximum(np.linalg.norm(first, axis=1, keepdims=True), 1e-12)
    np.testing.assert_allclose(
        scorer.score(users).numpy(), (unit @ second)[users], rtol=1e-5, atol=1e-6
    )


def test_scoring_a_few_items_equals_scoring_the_catalogue():
    """score_items(users, columns) is score(users) at the columns (a cascade's
    candidates), for the sparse products and the item neighbours alike."""
    from tfrec.models.scorers import NeighbourScorer

    seen = sp.random(5, 30, density=0.2, format="csr", random_state=3, dtype=np.float32)
    weights = sp.random(30, 30, density=0.3, format="csr", random_state=4, dtype=np.float32)
    users = np.array([4, 0, 2], np.int64)
    columns = np.random.default_rng(0).integers(0, 30, (3, 7)).astype(np.int64)
    scorers = [
        SparseProductScorer(SeenItems(seen), [weights], binary=False),
        SparseProductScorer(SeenItems(seen), [weights, weights.T.tocsr()], unit_rows=True),
        NeighbourScorer(weights, SeenItems(seen), np.zeros(5, np.float32), rates=False),
    ]
    for scorer in scorers:
        scorer.enable_item_scoring()
        expected = np.take_along_axis(scorer.score(users).numpy(), columns, 1)
        got = scorer.score_items(users, columns).numpy()
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_a_batch_touching_more_than_w_holds_reads_w_whole():
    """Three users who all rated the one item whose row holds W's weights touch
    W three times over: the product falls back to the whole matrix, equal."""
    seen = sp.csr_matrix(np.array([[1, 0, 2], [3, 0, 0], [1, 1, 0]], np.float32))
    weights = sp.csr_matrix(np.array([[0.5, 2, 1], [0, 0, 0], [0, 0, 0]], np.float32))
    scorer = SparseProductScorer(SeenItems(seen), [weights], binary=False)
    users = np.array([0, 1, 2], np.int64)
    np.testing.assert_allclose(scorer.score(users).numpy(), (seen @ weights).toarray())

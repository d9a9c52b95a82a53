"""TensorFlow versions of the numpy baselines' scoring, for SavedModel export.

A scorer is a ``tf.Module`` with two methods over internal row indices:
``score(users) -> [batch, n_items]`` and ``predict(users, items) -> [batch]``.
:mod:`tfrec.export` wraps a scorer with ID lookup, fallbacks, seen-item
exclusion and named signatures.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import tensorflow as tf


def _constant(values, dtype):
    return tf.Variable(np.asarray(values), dtype=dtype, trainable=False)


def _sums(ids, values, size):
    """(size,) the sums of ``values`` by int64 ``ids`` (repeats added):
    ``tf.math.bincount`` with weights, which summed ease's rows 4-8 times
    faster than ``scatter_nd`` and 2 times faster than
    ``unsorted_segment_sum`` (8k items, 0.1-2M entries, 2026-12-05)."""
    return tf.math.bincount(ids, weights=values, minlength=size, maxlength=size)


def _row_sums(index, values, batch, indices, weights, splits, n_columns):
    """[batch, n_columns] x W for sparse rows x given as ``index`` ([nnz, 2]:
    batch row, row i of W) and ``values``, W's rows being the lists of
    (column, weight) in ``indices`` and ``weights`` cut at ``splits``: reads
    only the rows x touches (a user's items)."""
    touched = index[:, 1]
    targets = tf.gather(tf.RaggedTensor.from_row_splits(indices, splits, validate=False), touched)
    found = tf.gather(tf.RaggedTensor.from_row_splits(weights, splits, validate=False), touched)
    entry = targets.value_rowids()
    rows = tf.gather(index[:, 0], entry)
    products = found.flat_values * tf.gather(values, entry)
    sums = _sums(rows * n_columns + targets.flat_values, products, batch * n_columns)
    return tf.reshape(sums, tf.stack([batch, n_columns]))


def _list_sums(x, indices, weights, splits, columns):
    """[batch, N]: for c = columns[b, n], the sum of x[b, i] · w over c's list
    of (i, w), the lists being ``indices`` and ``weights`` cut at ``splits``
    (a sparse matrix's columns, or each item's neighbours)."""
    flat = tf.reshape(columns, [-1])
    found = tf.gather(tf.RaggedTensor.from_row_splits(indices, splits, validate=False), flat)
    entry = found.value_rowids()
    batch = entry // tf.shape(columns, out_type=tf.int64)[1]
    values = tf.gather_nd(x, tf.stack([batch, found.flat_values], axis=1))
    lists = tf.RaggedTensor.from_row_splits(weights, splits, validate=False)
    weights = tf.gather(lists, flat).flat_values
    products = values * weights
    return tf.reshape(_sums(entry, products, tf.size(flat, out_type=tf.int64)), tf.shape(columns))


class FactorScorer(tf.Module):
    """score(u, i) = link(user_bias[u] + item_bias[i] + user_vectors[u] . item_vectors[i]).

    Covers popularity (item bias only), the bias baseline (no vectors), SVD,
    MF and GMF (``link="sigmoid"``). The item vectors are held transposed,
    [dim, n_items]: TensorFlow's CPU matmul of a user's row with them took
    1.2 ms at 63k items x 128 dims, against 2.9 ms with ``transpose_b`` on
    the [n_items, dim] matrix (one request, 2-core host, 2026-12-04).
    """

    def __init__(self, user_bias, item_bias, user_vectors=None, item_vectors=None, link="identity"):
        super().__init__(name="factor_scorer")
        self.link = tf.sigmoid if link == "sigmoid" else tf.identity
        n_users, n_items = len(user_bias), len(item_bias)
        if user_vectors is None:
            user_vectors = np.zeros((n_users, 0), np.float32)
            item_vectors = np.zeros((n_items, 0), np.float32)
        self.user_bias = _constant(user_bias, tf.float32)
        self.item_bias = _constant(item_bias, tf.float32)
        self.user_vectors = _constant(user_vectors, tf.float32)
        self.item_columns = _constant(np.ascontiguousarray(np.asarray(item_vectors).T), tf.float32)

    def score(self, users):
        dot = tf.matmul(tf.gather(self.user_vectors, users), self.item_columns)
        return self.link(dot + tf.gather(self.user_bias, users)[:, None] + self.item_bias[None, :])

    def predict(self, users, items, extra=None):
        dot = tf.reduce_sum(
            tf.transpose(tf.gather(self.user_vectors, users))
            * tf.gather(self.item_columns, items, axis=1),
            axis=0,
        )
        return self.link(dot + tf.gather(self.user_bias, users) + tf.gather(self.item_bias, items))


class NeighbourScorer(tf.Module):
    """Item KNN: score(u, j) = sum_i r_ui s(j, i) over the neighbours i of j;
    predict(u, j) is that sum divided by sum_i s(j, i) over the rated ones,
    or the user's mean when none was rated; the score itself on implicit data
    (``rates=False``)."""

    def __init__(self, neighbours: sp.csr_matrix, seen, user_means, rates: bool = True):
        super().__init__(name="neighbour_scorer")
        self.n_items = neighbours.shape[0]
        self.neighbour_weight = _constant(neighbours.data, tf.float32)
        self.neighbour_items = _constant(neighbours.indices.astype(np.int64), tf.int64)
        self.neighbour_splits = _constant(neighbours.indptr.astype(np.int64), tf.int64)
        # Row i of the transpose: the items j that have i as a neighbour, s(j, i).
        reverse = neighbours.T.tocsr()
        self.reverse_weight = _constant(reverse.data, tf.float32)
        self.reverse_items = _constant(reverse.indices.astype(np.int64), tf.int64)
        self.reverse_splits = _constant(reverse.indptr.astype(np.int64), tf.int64)
        self.seen = seen
        self.user_means = _constant(user_means, tf.float32)
        self.rates = rates

    def score(self, users):
        """Touches only the items that neighbour the users' rated items."""
        index, ratings = self.seen.index(users)  # (batch row, rated item i), r_ui
        batch = tf.shape(users, out_type=tf.int64)[0]
        reverse = (self.reverse_items, self.reverse_weight, self.reverse_splits)
        n = tf.constant(self.n_items, tf.int64)
        return _row_sums(index, ratings, batch, *reverse, n)

    def enable_item_scoring(self) -> None:
        """Nothing to prepare: :meth:`score_items` reads the neighbour lists."""

    def score_items(self, users, columns):
        """[batch, N] ``score(users)`` at ``columns``: each item's neighbours
        read in the users' ratings (a cascade's candidates)."""
        lists = (self.neighbour_items, self.neighbour_weight, self.neighbour_splits)
        return _list_sums(self.seen.dense(users), *lists, columns)

    def predict(self, users, items, extra=None):
        if not self.rates:
            return tf.gather(self.score(users), items[:, None], batch_dims=1)[:, 0]
        ratings = self.seen.dense(users)
        rows = tf.RaggedTensor.from_row_splits(self.neighbour_items, self.neighbour_splits)
        # COO from a CSR matrix is row-major: the weights are in CSR order.
        weights = tf.RaggedTensor.from_row_splits(self.neighbour_weight, rows.row_splits)
        pair_items = tf.gather(rows, items)
        pair_weights = tf.gather(weights, items)
        pair_rows = tf.cast(pair_items.value_rowids(), tf.int64)
        rated = tf.gather_nd(ratings, tf.stack([pair_rows, pair_items.flat_values], axis=1))
        n = tf.shape(items, out_type=tf.int64)[0]
        numerator = tf.math.unsorted_segment_sum(pair_weights.flat_values * rated, pair_rows, n)
        used = pair_weights.flat_values * tf.cast(rated > 0, tf.float32)
        denominator = tf.math.unsorted_segment_sum(used, pair_rows, n)
        fallback = tf.gather(self.user_means, users)
        return tf.where(denominator > 0, numerator / tf.maximum(denominator, 1e-12), fallback)


class BlendScorer(tf.Module):
    """w_0 + sum_c w_c * component_c, for scores and predictions alike."""

    def __init__(self, scorers, weights):
        super().__init__(name="blend_scorer")
        self.scorers = list(scorers)
        self.weights = [float(w) for w in weights]

    def score(self, users):
        total = self.weights[0]
        for weight, scorer in zip(self.weights[1:], self.scorers, strict=True):
            total += weight * scorer.score(users)
        return total

    def predict(self, users, items, extra=None):
        total = self.weights[0]
        for weight, scorer in zip(self.weights[1:], self.scorers, strict=True):
            total += weight * scorer.predict(users, items, extra)
        return total


class CascadeScorer(tf.Module):
    """A cascade's score (:mod:`tfrec.models.ranking.cascade`) over its stages' scorers:
    the retriever's top ``candidates`` unseen items, scored by θ · x, x the
    candidates' standardised features (:func:`tfrec.models.ranking.stacking.features`),
    the ``signals`` scorers' scores of the candidates among them.

    ``retrieve`` answers the export's ``recommend`` from the candidates and
    the retriever's next items alone, without writing a score for every item
    of the catalogue as ``score`` does, and drops the seen items the
    signature looked up (``takes_seen``)."""

    takes_seen = True  # retrieve(users, k, seen): seen items dropped, no second lookup

    def __init__(
        self, retrieval, ranking, seen, candidates: int, theta, retrieval_context=None, signals=()
    ):
        from tfrec.models.ranking.stacking import position_features

        super().__init__(name="cascade_scorer")
        self.retrieval, self.ranking, self.seen = retrieval, ranking, seen
        self.signals = list(signals)
        for signal in self.signals:  # those that can score the candidates alone
            if hasattr(signal, "enable_item_scoring"):
                signal.enable_item_scoring()
        self.candidates = candidates
        self.theta = [float(w) for w in np.asarray(theta, np.float32)]
        # The same float32 values as numpy's: the order of near-ties agrees.
        self.positions = _constant(position_features(candidates)[0], tf.float32)
        # The request context either stage reads: the retriever's as a term of
        # its scores (``context_scores``), the ranker's in its pair scores.
        self.retrieval_context = retrieval_context
        specs = getattr(retrieval_context, "context_specs", {})
        self.context_specs = {**specs, **getattr(ranking, "context_specs", {})}

    def _retrieved(self, users, depth, seen=None, context=None):
        """The retriever's scores r and its top ``depth`` (>= candidates) unseen
        items; ``seen``: the users' (row, item) pairs, looked up when None;
        ``context``: the request's, when the retriever reads it."""
        retrieval = self.retrieval.score(users)
        if context and self.retrieval_context is not None:
            retrieval += self.retrieval_context.context_scores(context)
        if seen is None:
            seen, _ = self.seen.index(users)
        minus_inf = tf.fill(tf.shape(seen)[:1], tf.constant(-np.inf, tf.float32))
        masked = tf.tensor_scatter_nd_update(retrieval, seen, minus_inf)
        return retrieval, tf.math.top_k(masked, depth)

    def _combined(self, users, values, columns, context=None):
        """t = θ · x of each user's candidates (``columns``, retrieval scores
        ``values``), ranked in each user's request ``context`` when given."""
        flat_users = tf.repeat(users, self.candidates)
        extra = {k: tf.repeat(v, self.candidates) for k, v in context.items()} if context else None
        ranked = tf.reshape(
            self.ranking.predict(flat_users, tf.reshape(columns, [-1]), extra), tf.shape(columns)
        )
        features = [_standardised(ranked), _standardised(_finite(values))]
        features += [self.positions[None, :, 0], self.positions[None, :, 1]]
        for signal in self.signals:
            if hasattr(signal, "score_items"):
                scores = signal.score_items(users, columns)
            else:
                scores = tf.gather(signal.score(users), columns, batch_dims=1)
            features.append(_standardised(_finite(scores)))
        combined = tf.zeros_like(ranked)
        for weight, feature in zip(self.theta, features, strict=True):
            combined += weight * feature
        return combined

    @staticmethod
    def _below(combined, retrieval, best):
        """Scores of items outside the candidates: under every candidate's, in the
        retriever's order (``best``: each row's best retrieval score)."""
        below = tf.minimum(retrieval - best, 0.0)
        below = tf.where(tf.math.is_nan(below), 0.0, below)  # both -inf
        return tf.reduce_min(combined, axis=1, keepdims=True) - 1.0 + below

    def score(self, users, context=None):
        retrieval, top = self._retrieved(users, self.candidates, context=context)
        columns = tf.cast(top.indices, tf.int64)
        combined = self._combined(users, top.values, columns, context)
        out = self._below(combined, retrieval, top.values[:, :1])
        rows = tf.repeat(tf.range(tf.shape(users, out_type=tf.int64)[0]), self.candidates)
        pairs = tf.stack([rows, tf.reshape(columns, [-1])], 1)
        return tf.tensor_scatter_nd_update(out, pairs, tf.reshape(combined, [-1]))

    def retrieve(self, users, k, seen):
        """The top ``k`` (scores, item columns) of each user row, best first, as
        ``score`` ranks them: the candidates by t, then the retriever's next
        unseen items (seen items only when too few are left, at -inf);
        ``seen``: the users' (row, item) pairs."""
        n = self.candidates
        _, top = self._retrieved(users, tf.maximum(k, n), seen)
        columns = tf.cast(top.indices, tf.int64)
        combined = self._combined(users, top.values[:, :n], columns[:, :n])
        # Candidates by column first, so that ties go to the lower column, as
        # the top k of ``score`` (and numpy's) break them.
        by_column = tf.argsort(columns[:, :n], axis=1, stable=True)
        candidates = tf.gather(columns[:, :n], by_column, batch_dims=1)
        order = tf.math.top_k(tf.gather(combined, by_column, batch_dims=1), n)
        rest = self._below(combined, top.values[:, n:], top.values[:, :1])
        values = tf.concat([order.values, rest], 1)
        columns = tf.concat([tf.gather(candidates, order.indices, batch_dims=1), columns[:, n:]], 1)
        return values[:, :k], columns[:, :k]

    def predict(self, users, items, extra=None):
        return self.ranking.predict(users, items, extra)


class SparseMatrix(tf.Module):
    """A scipy sparse matrix held in variables, read as a tf.SparseTensor.

    The int64 (row, column) pairs are stored as such: building them from CSR
    row splits, or casting int32 ones, took 230 ms and 33 ms per request on
    ml-latest-small's B, whose product with a user's row then takes 14 ms.
    """

    def __init__(self, matrix: sp.spmatrix):
        super().__init__(name="sparse_matrix")
        csr = sp.csr_matrix(matrix).sorted_indices()
        coo = csr.tocoo()  # row-major, as tf.SparseTensor wants
        self.n_rows, self.n_columns = (int(n) for n in coo.shape)
        self.index = tf.Variable(
            np.stack([coo.row, coo.col], axis=1).astype(np.int64), trainable=False
        )
        self.values = tf.Variable(coo.data.astype(np.float32), trainable=False)
        self.row_splits = tf.Variable(csr.indptr.astype(np.int64), trainable=False)
        self.row_columns = tf.Variable(csr.indices.astype(np.int64), trainable=False)
        self.row_lengths = tf.Variable(np.diff(csr.indptr).astype(np.int64), trainable=False)
        self.nnz = int(csr.nnz)
        self.column_splits = None  # the columns, once ``enable_columns`` made them

    def enable_columns(self) -> None:
        """Holds the matrix by column too (a second copy), for :meth:`columns_product`."""
        if self.column_splits is not None:
            return
        rows, columns = self.index.numpy().T
        csc = sp.csc_matrix((self.values.numpy(), (rows, columns)), (self.n_rows, self.n_columns))
        csc.sort_indices()
        self.column_splits = tf.Variable(csc.indptr.astype(np.int64), trainable=False)
        self.column_rows = tf.Variable(csc.indices.astype(np.int64), trainable=False)
        self.column_values = tf.Variable(csc.data.astype(np.float32), trainable=False)

    def columns_product(self, x, columns):
        """[batch, N] x_b · W[:, columns[b, n]] for a dense x [batch, n_rows]:
        reads only the N columns of each row (:meth:`enable_columns` first)."""
        lists = (self.column_rows, self.column_values, self.column_splits)
        return _list_sums(x, *lists, columns)

    def tensor(self) -> tf.SparseTensor:
        return tf.SparseTensor(self.index, self.values, [self.n_rows, self.n_columns])

    def rows_product(self, index, values, batch):
        """x W for sparse rows x given as ``index`` ([nnz, 2]: batch row, column)
        and ``values``: reads only the rows of W that x touches (a user's
        history), where ``sparse_dense_matmul`` of a dense x reads all of W;
        the latter when x touches more entries of W than W holds (a batch of
        long histories of popular items), so memory stays W's size."""
        touched = tf.reduce_sum(tf.gather(self.row_lengths, index[:, 1]))

        def by_rows():
            rows = (self.row_columns, self.values, self.row_splits)
            return _row_sums(index, values, batch, *rows, tf.constant(self.n_columns, tf.int64))

        def whole():
            x = tf.scatter_nd(index, values, tf.stack([batch, tf.constant(self.n_rows, tf.int64)]))
            return tf.sparse.sparse_dense_matmul(x, self.tensor())

        return tf.cond(touched > self.nnz, whole, by_rows)


class SparseProductScorer(tf.Module):
    """Scores that are a product of sparse matrices, for export:

        score(u, .) = x_u W_1 ... W_m

    x_u is the user's row of training items (their ratings, or 1 per item with
    ``binary``); with ``unit_rows`` each intermediate row is scaled to unit
    length (content_knn's cosine). ``predict`` picks the pairs' entries.
    """

    def __init__(self, seen, factors, binary: bool = True, unit_rows: bool = False):
        super().__init__(name="sparse_product_scorer")
        self.seen, self.binary, self.unit_rows = seen, binary, unit_rows
        self.factors = [SparseMatrix(f) for f in factors]

    def score(self, users):
        return self._product(users, self.factors)

    def _product(self, users, factors):
        """x_u times ``factors`` (the first read by the rows x_u touches)."""
        index, values = self.seen.index(users)
        if self.binary:
            values = tf.ones_like(values)
        batch = tf.shape(users, out_type=tf.int64)[0]
        if not factors:
            return tf.scatter_nd(index, values, tf.stack([batch, self.seen.n_items]))
        first, *others = factors
        x = first.rows_product(index, values, batch)
        for factor in others:
            if self.unit_rows:
                x = tf.math.l2_normalize(x, axis=1)
            x = tf.sparse.sparse_dense_matmul(x, factor.tensor())
        return x

    def enable_item_scoring(self) -> None:
        """Prepares :meth:`score_items` (the last factor by column)."""
        self.factors[-1].enable_columns()

    def score_items(self, users, columns):
        """[batch, N] ``score(users)`` at ``columns``, reading only those
        columns of the last factor (a cascade's candidates)."""
        x = self._product(users, self.factors[:-1])
        if self.unit_rows and len(self.factors) > 1:
            x = tf.math.l2_normalize(x, axis=1)
        return self.factors[-1].columns_product(x, columns)

    def predict(self, users, items, extra=None):
        return tf.gather(self.score(users), items, batch_dims=1)


class FoldInScorer(tf.Module):
    """Scores of new users from their items, for export's ``recommend_history``:

        score(x) = x W_1 ... W_m + b

    x is the [batch, n_items] multi-hot row of the items a user brings
    (EASE: ``x B``; item KNN: ``x U U^T``, U the unit item vectors); with no
    factors, ``b`` alone (popularity).
    """

    def __init__(self, factors, bias=None):
        super().__init__(name="fold_in_scorer")
        self.factors = [SparseMatrix(f) for f in factors]
        self.bias = (
            None if bias is None else tf.Variable(np.asarray(bias, np.float32), trainable=False)
        )

    def score(self, x):
        out = tf.zeros_like(x) if not self.factors else x
        for factor in self.factors:
            out = tf.sparse.sparse_dense_matmul(out, factor.tensor())
        return out if self.bias is None else out + self.bias[None, :]


def _finite(scores):
    """Each row's -inf (seen items among too few candidates) raised to the row's
    lowest finite score (0 when none is), as the cascade's numpy code."""
    finite = tf.math.is_finite(scores)
    lowest = tf.reduce_min(tf.where(finite, scores, np.inf), axis=1, keepdims=True)
    lowest = tf.where(tf.math.is_finite(lowest), lowest, 0.0)
    return tf.where(finite, scores, lowest)


def _standardised(scores):
    """Each row minus its mean, over its standard deviation (as the cascade's numpy code)."""
    centred = scores - tf.reduce_mean(scores, axis=1, keepdims=True)
    spread = tf.sqrt(tf.reduce_mean(centred * centred, axis=1, keepdims=True))
    return centred / (spread + 1e-6)

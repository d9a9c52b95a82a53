"""LazyAdam: tf_keras's Adam on dense gradients, row-sparse on embedding gradients."""

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from tfrec.models.training.lazy_adam import LazyAdam


def _table():
    return tf.Variable(np.arange(12, dtype=np.float32).reshape(4, 3) / 10.0)


def _sparse(values, rows):
    return tf.IndexedSlices(tf.constant(values, tf.float32), tf.constant(rows), tf.constant([4, 3]))


def test_dense_gradients_follow_keras_adam():
    lazy, reference = _table(), _table()
    gradient = tf.constant(np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3))
    lazy_opt, adam = LazyAdam(0.1), keras.optimizers.Adam(0.1)
    for _ in range(3):
        lazy_opt.apply_gradients([(gradient, lazy)])
        adam.apply_gradients([(gradient, reference)])
    np.testing.assert_allclose(lazy.numpy(), reference.numpy(), rtol=1e-6)


def test_sparse_gradients_touch_only_their_rows():
    table = _table()
    before = table.numpy()
    optimizer = LazyAdam(0.1)
    optimizer.apply_gradients([(_sparse([[1.0, 1.0, 1.0]], [1]), table)])
    optimizer.apply_gradients([(_sparse([[-1.0, 2.0, 0.5]], [2]), table)])
    after = table.numpy()
    np.testing.assert_array_equal(after[[0, 3]], before[[0, 3]])
    # Adam's first step moves each coordinate by the learning rate against the sign.
    np.testing.assert_allclose(after[1] - before[1], [-0.1, -0.1, -0.1], rtol=1e-4)
    # Row 2's first update comes at the optimizer's second step: bias correction at
    # step 2, m = 0.1 g and v = 0.001 g^2 for that row alone.
    alpha = 0.1 * np.sqrt(1 - 0.999**2) / (1 - 0.9**2)
    g = np.array([-1.0, 2.0, 0.5])
    expected = -alpha * 0.1 * g / (np.sqrt(0.001 * g**2) + 1e-7)
    np.testing.assert_allclose(after[2] - before[2], expected, rtol=1e-4)
    # Row 1's moments were left alone at the second step (keras Adam would decay them).
    m = optimizer._momentums[0].numpy()
    np.testing.assert_allclose(m[1], [0.1, 0.1, 0.1], rtol=1e-6)


def test_repeated_rows_are_summed_once():
    """Two slices for one row act as their summed gradient, as keras Adam's do."""
    lazy, reference = _table(), _table()
    LazyAdam(0.1).apply_gradients([(_sparse([[1.0, 0.0, 0.0], [2.0, 0.0, 0.0]], [3, 3]), lazy)])
    dense = np.zeros((4, 3), np.float32)
    dense[3, 0] = 3.0
    keras.optimizers.Adam(0.1).apply_gradients([(tf.constant(dense), reference)])
    np.testing.assert_allclose(lazy.numpy(), reference.numpy(), rtol=1e-6)


def test_amsgrad_is_refused():
    with pytest.raises(ValueError, match="amsgrad"):
        LazyAdam(0.1, amsgrad=True)


def test_keras_embedding_gradients_reach_it_sparse():
    """Through model.fit, an Embedding's rows that no batch reads stay as they were."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.layers.Embedding(10, 4), keras.layers.Dense(1)])
    model.compile(optimizer=LazyAdam(0.05), loss="mse")
    ids = np.array([[1], [2], [3], [1]])
    model.build((None, 1))
    before = model.layers[0].get_weights()[0]
    model.fit(ids, np.ones((4, 1, 1)), epochs=3, verbose=0)
    after = model.layers[0].get_weights()[0]
    np.testing.assert_array_equal(after[[0, 4, 5, 6, 7, 8, 9]], before[[0, 4, 5, 6, 7, 8, 9]])
    assert not np.allclose(after[[1, 2, 3]], before[[1, 2, 3]])

"""Adam whose sparse updates touch only the rows in the batch ("lazy" Adam).

tf_keras's Adam decays both moment tables densely at every step, even for an
embedding table's sparse (``tf.IndexedSlices``) gradient:
``m.assign_add(-m * (1 - beta_1))`` reads and writes every row. For a
162k-user table that is the whole table per step, which made one two-tower
epoch at ML-25M size take hours. Here a sparse gradient updates ``m``, ``v``
and the variable on the gathered rows only, as TensorFlow Addons' LazyAdam
did (Addons is no longer maintained); rows not in the batch keep their
moments until they next appear. Dense gradients follow tf_keras's Adam
exactly.

The optimizer's base class sums duplicate indices before ``update_step``,
so each row is updated once per step.
"""

from __future__ import annotations

import tensorflow as tf
import tf_keras as keras


class LazyAdam(keras.optimizers.Adam):
    """``tf_keras.optimizers.Adam`` with row-sparse updates for sparse gradients."""

    def __init__(self, learning_rate=0.001, **kwargs):
        if kwargs.get("amsgrad"):
            raise ValueError("LazyAdam does not support amsgrad; got amsgrad=True")
        kwargs.setdefault("name", "LazyAdam")
        super().__init__(learning_rate=learning_rate, **kwargs)

    def update_step(self, gradient, variable):
        if not isinstance(gradient, tf.IndexedSlices):
            return super().update_step(gradient, variable)
        dtype = variable.dtype
        step = tf.cast(self.iterations + 1, dtype)
        beta_1 = tf.cast(self.beta_1, dtype)
        beta_2 = tf.cast(self.beta_2, dtype)
        beta_2_power = tf.pow(beta_2, step)
        alpha = (
            tf.cast(self.learning_rate, dtype)
            * tf.sqrt(1 - beta_2_power)
            / (1 - tf.pow(beta_1, step))
        )
        epsilon = self.epsilon
        if self.adaptive_epsilon:
            epsilon = epsilon * tf.sqrt(1 - beta_2_power)
        index = self._index_dict[self._var_key(variable)]
        m, v = self._momentums[index], self._velocities[index]
        rows, values = gradient.indices, gradient.values
        m_rows = beta_1 * tf.gather(m, rows) + (1 - beta_1) * values
        v_rows = beta_2 * tf.gather(v, rows) + (1 - beta_2) * tf.square(values)
        m.scatter_update(tf.IndexedSlices(m_rows, rows))
        v.scatter_update(tf.IndexedSlices(v_rows, rows))
        variable.scatter_sub(tf.IndexedSlices(alpha * m_rows / (tf.sqrt(v_rows) + epsilon), rows))

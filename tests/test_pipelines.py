"""tf.data training input: seeded epochs that gather each batch's rows."""

import numpy as np

from tfrec.pipelines import epoch_order, training_dataset


def test_epochs_are_the_seeded_order_in_batches_with_the_columns_dtypes():
    columns = {
        "user": np.arange(10, dtype=np.int64) * 3,
        "big": np.arange(10, dtype=np.int64) + 2**40,  # does not fit int32
        "rating": np.linspace(0, 1, 10, dtype=np.float32),
    }
    batches = list(training_dataset(columns, batch_size=4, seed=7, epochs=2))
    assert [len(b["user"]) for b in batches] == [4, 4, 2] * 2  # the rest last
    for epoch in range(2):
        order = epoch_order(10, 7, epoch).numpy()
        epoch_batches = batches[3 * epoch : 3 * epoch + 3]
        for name, values in columns.items():
            got = np.concatenate([b[name].numpy() for b in epoch_batches])
            np.testing.assert_array_equal(got, values[order])
            assert got.dtype == values.dtype  # int64 held as int32, served as int64
    assert not np.array_equal(batches[0]["user"], batches[3]["user"])

"""Training windows and user sequences (tfrec.sequences)."""

import numpy as np
import pytest

from tfrec.sequences import UserSequences


@pytest.mark.parametrize("first_targets", [False, True])
@pytest.mark.parametrize("stride", [1, 2, 3, 4])
def test_windows_make_every_item_a_target_once(stride, first_targets):
    """Each item after a user's first (every item, with ``first_targets``) is
    the weighted target of exactly one window, read after the items just
    before it: at least ``length - stride + 1`` of them, or all of the
    user's earlier items. Stride 1 keeps the targets in sequence order."""
    from tfrec.sequences import target_windows

    rng = np.random.default_rng(stride)
    lengths = rng.integers(0, 9, size=30)
    users = np.repeat(np.arange(30), lengths)
    ends = np.cumsum(lengths)
    items = rng.integers(0, 50, size=len(users))
    sequences = UserSequences(users, items, ends - lengths, ends)
    length = 4
    windows = sequences.windows(stride, first_targets)
    tensors = target_windows(
        items, windows["last"], windows["start"], length, stride, first_targets
    )
    inputs, mask, targets, weights = (t.numpy() for t in tensors)
    seen = []
    for row, last in enumerate(windows["last"]):
        for j in np.flatnonzero(weights[row]):
            position = last - (length - 1 - j)  # the target's position
            start = windows["start"][row]
            assert targets[row, j] == items[position]
            assert j + 1 >= length - stride + 1
            history = inputs[row, : j + 1][mask[row, : j + 1] > 0]
            expected = items[max(start, position - (j + 1)) : position]
            assert history.tolist() == expected.tolist()
            seen.append(position)
    first = np.arange(len(users)) == (ends - lengths)[users]
    expected = np.flatnonzero(~first | first_targets).tolist()
    assert sorted(seen) == expected
    if stride == 1:
        assert seen == expected


def test_user_sequences_are_time_ordered():
    from types import SimpleNamespace

    data = SimpleNamespace(
        users=np.array([1, 0, 1, 0]),
        items=np.array([5, 6, 7, 8]),
        timestamps=np.array([30, 20, 10, 10]),
        user_ids=np.array([10, 11]),
    )
    sequences = UserSequences.from_interactions(data)
    assert sequences.items.tolist() == [8, 6, 7, 5]
    assert sequences.starts.tolist() == [0, 2] and sequences.ends.tolist() == [2, 4]


def _sequence_of_each_user(sequences, times):
    return {
        u: (
            sequences.items[start:end].tolist(),
            sequences.by_position(times)[start:end].tolist(),
        )
        for u, (start, end) in enumerate(zip(sequences.starts, sequences.ends, strict=True))
    }


def test_rows_grouped_by_user_in_time_order_are_used_as_they_are():
    """A prepared directory's train rows (grouped by user, in time order, users
    in hash order) become the sequences without a sorted copy: position p is
    row p, and every user's sequence equals the one sorted from a shuffled
    copy of the same rows."""
    from types import SimpleNamespace

    users = np.array([2, 2, 0, 0, 0, 3, 1])  # user 4 has no rows
    times = np.array([5, 5, 1, 2, 9, 4, 7])
    data = SimpleNamespace(
        users=users, items=np.arange(7) + 10, timestamps=times, user_ids=np.arange(5)
    )
    grouped = UserSequences.from_interactions(data)
    assert grouped.order is None and grouped.users is users
    assert grouped.starts.tolist() == [2, 6, 0, 5, 0]
    assert grouped.ends.tolist() == [5, 7, 2, 6, 0]
    assert grouped.positions().tolist() == list(range(7))
    shuffle = np.random.default_rng(0).permutation(7)
    sorted_ = UserSequences.from_interactions(
        SimpleNamespace(
            users=users[shuffle],
            items=data.items[shuffle],
            timestamps=times[shuffle],
            user_ids=data.user_ids,
        )
    )
    assert sorted_.order is not None
    assert _sequence_of_each_user(grouped, times) == _sequence_of_each_user(sorted_, times[shuffle])
    assert (sorted_.by_position(shuffle) == shuffle[sorted_.order]).all()
    assert (sorted_.order[sorted_.positions()] == np.arange(7)).all()


@pytest.mark.parametrize(
    "users, times",
    [([0, 1, 0], [1, 2, 3]), ([0, 0, 1], [2, 1, 3])],  # a user split in two; out of time order
)
def test_rows_not_grouped_in_time_order_are_sorted(users, times):
    from types import SimpleNamespace

    data = SimpleNamespace(
        users=np.array(users), items=np.arange(3), timestamps=np.array(times), user_ids=np.arange(2)
    )
    assert UserSequences.from_interactions(data).order is not None

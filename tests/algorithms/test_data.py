"""Interactions and RecBole's ratio split."""

from __future__ import annotations

import numpy as np

from recommender.algorithms.data import Interactions, Profile, one_event_per_item, resolve_history, split_per_user


def test_from_arrays_keeps_unrated_catalogue_items() -> None:
    data = Interactions.from_arrays(["a", "a", "b"], ["x", "y", "x"], [5, 3, 4], [3, 1, 2], all_items=["z", "x"])
    assert data.item_ids[:2] == ["z", "x"] and data.n_items == 3
    assert data.item_counts().tolist() == [0.0, 2.0, 1.0]
    assert data.history(data.user_index("a")) == [(2, 3.0, 1), (1, 5.0, 3)]  # oldest first


def test_duplicates_keep_the_latest_rating() -> None:
    data = Interactions.from_arrays(["a", "a"], ["x", "x"], [1, 5], [10, 20])
    assert data.csr().toarray().tolist() == [[5.0]]


def test_resolve_history_drops_unknown_items_and_uses_onboarding() -> None:
    data = Interactions.from_arrays(["a"], ["x"], [5], [1], all_items=["x", "y"])
    assert resolve_history(data, [(1, 4.0, 5), (99, 5.0, 6)]) == [(1, 4.0, 5)]
    assert resolve_history(data, Profile(onboarding=[1])) == [(1, 1.0, 0)]
    assert resolve_history(data, 7) == []


def test_recbole_ratio_split_counts() -> None:
    n = 23
    data = Interactions.from_arrays(["u"] * n, [f"i{i}" for i in range(n)], [4] * n, list(range(n)))
    train, valid, test = split_per_user(data, [0.8, 0.1, 0.1], seed=1)
    # RecBole: int(0.1 * 23) = 2 each for valid and test, the rest (19) for training
    assert (len(train), len(valid), len(test)) == (19, 2, 2)
    temporal = split_per_user(data, [0.8, 0.1, 0.1], temporal=True)
    assert temporal[2].timestamps.min() > temporal[0].timestamps.max()
    # the split is reproducible and a partition
    again = split_per_user(data, [0.8, 0.1, 0.1], seed=1)
    assert np.array_equal(again[2].items, test.items)
    assert sorted(np.concatenate([train.items, valid.items, test.items]).tolist()) == list(range(n))


def test_one_event_per_item_takes_the_rating_else_the_strongest_signal_at_the_newest_time() -> None:
    events = [
        (1, 1.0, 100, True), (1, 4.5, 300, False), (1, 3.5, 200, False),  # rated 1, bought later: the rating
        (2, 3.5, 50, False), (2, 4.5, 60, False), (2, 4.5, 90, False), (2, 3.5, 120, False),  # strongest, newest
        (3, 3.5, 10, False),
    ]
    assert one_event_per_item(events) == {1: (0, 300), 2: (5, 120), 3: (7, 10)}
    assert one_event_per_item([]) == {}

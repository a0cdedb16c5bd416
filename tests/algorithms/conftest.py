"""Fixtures for the algorithm tests: a small synthetic catalogue and the real MovieLens-100K.

No database: these tests run with ``-p no:django``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from recommender.algorithms.data import Interactions

N_USERS, N_ITEMS, CLUSTER = 40, 24, 12


def synthetic(seed: int = 0) -> tuple[Interactions, np.ndarray, list[tuple[str, str, str]]]:
    """Two taste clusters: users mostly rate items of their cluster; item vectors and KG facts follow."""
    rng = np.random.default_rng(seed)
    users, items, ratings, stamps = [], [], [], []
    for u in range(N_USERS):
        home = u % 2
        pool = np.arange(CLUSTER) + home * CLUSTER
        chosen = list(rng.choice(pool, 6, replace=False)) + list(rng.choice(np.arange(N_ITEMS), 2, replace=False))
        for t, i in enumerate(dict.fromkeys(int(x) for x in chosen)):
            users.append(f"u{u}")
            items.append(f"i{i}")
            ratings.append(float(rng.integers(3, 6)) if i // CLUSTER == home else float(rng.integers(1, 3)))
            stamps.append(1_000_000 + u * 1000 + t * 60)
    catalogue = [f"i{i}" for i in range(N_ITEMS + 2)]  # two items nobody rated yet
    data = Interactions.from_arrays(users, items, ratings, stamps, all_items=catalogue)
    centres = rng.normal(size=(2, 16))
    vectors = np.vstack([centres[min(int(x[1:]), N_ITEMS - 1) // CLUSTER] + 0.3 * rng.normal(size=16)
                         for x in data.item_ids]).astype(np.float32)
    kg = [(f"i{i}", "directed_by", f"director{i // CLUSTER}") for i in range(N_ITEMS + 2)]
    kg += [(f"i{i}", "actor", f"actor{i % 5}") for i in range(N_ITEMS + 2)]
    return data, vectors, kg


@pytest.fixture(scope="session")
def tiny() -> tuple[Interactions, np.ndarray, list[tuple[str, str, str]]]:
    return synthetic()


@pytest.fixture(scope="session")
def movielens():
    from catalog.datasets import load_movielens_100k, recbole_wheel

    wheel = recbole_wheel(Path(os.environ.get("RECSITE_DATA_DIR", "var/data")))
    return load_movielens_100k(wheel)

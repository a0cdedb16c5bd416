"""Large catalogues: which components are used, and the sparse / no-sort paths agree with the dense ones."""

from __future__ import annotations

import numpy as np
import pytest

from recommender.algorithms import Hybrid, ItemKNN
from recommender.algorithms import base as base_module
from recommender.algorithms.base import LARGE_CATALOG_ITEMS, ranks_at, top_stable, zscore_at, zscore_rows
from recommender.algorithms.hybrid import usable


def test_ease_only_up_to_the_large_catalog_threshold() -> None:
    assert usable("ease", {}, n_items=1682)
    assert usable("ease", {}, n_items=LARGE_CATALOG_ITEMS)
    assert not usable("ease", {}, n_items=LARGE_CATALOG_ITEMS + 1)
    for name in ("itemknn", "tknn", "als", "session", "pop"):
        assert usable(name, {}, n_items=1_000_000)


@pytest.fixture
def large(monkeypatch):
    """Treat every catalogue as large (the threshold is read at call time)."""
    monkeypatch.setattr(base_module, "LARGE_CATALOG_ITEMS", 5)


def test_hybrid_on_a_large_catalogue_has_no_ease_and_recommends(large, tiny) -> None:
    data, vectors, kg = tiny
    model = Hybrid(seed=3, num_threads=1).fit(data, item_vectors=vectors, kg=kg)
    assert "ease" not in model.components
    assert {"itemknn", "als", "content"} <= set(model.components)
    assert model.components["itemknn"].k_ == 50  # fixed, no grid search
    idx, scores = model.recommend(0, k=5)
    assert len(idx) == 5 and np.all(np.isfinite(scores))


def test_sparse_itemknn_equals_the_dense_one(monkeypatch, tiny) -> None:
    data = tiny[0]
    dense = ItemKNN(k=100, shrink=10.0).fit(data).weights.toarray()
    monkeypatch.setattr(base_module, "LARGE_CATALOG_ITEMS", 5)
    sparse = ItemKNN(k=100, shrink=10.0).fit(data).weights.toarray()
    np.testing.assert_allclose(sparse, dense, rtol=1e-5, atol=1e-7)


def test_ranks_at_equals_a_stable_descending_sort() -> None:
    rng = np.random.default_rng(0)
    for trial in range(150):
        n = int(rng.integers(1, 200)) if trial % 3 else int(rng.integers(200, 3000))
        # few tied values (scanned for), many (one argsort), none
        values = [rng.standard_normal(n), rng.integers(0, 4, n).astype(float),
                  rng.integers(0, 300, n).astype(float)][trial % 3]
        values[rng.random(n) < 0.2] = -np.inf
        columns = rng.choice(n, int(rng.integers(1, n + 1)), replace=False)
        ranks = np.empty(n, dtype=np.int64)
        ranks[np.argsort(-values, kind="stable")] = np.arange(n)
        np.testing.assert_array_equal(ranks_at(values, columns), ranks[columns])


def test_zscore_at_equals_zscore_rows() -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((5, 40))
    x[rng.random(x.shape) < 0.3] = np.nan
    x[2], x[3] = np.nan, 1.0  # an all-NaN and a constant row
    rows, cols = np.nonzero(rng.random(x.shape) < 0.5)
    np.testing.assert_array_equal(zscore_at(x, rows, cols), zscore_rows(x)[rows, cols])


def test_hybrid_features_do_not_depend_on_the_rank_path(monkeypatch, tiny) -> None:
    data, vectors, kg = tiny
    model = Hybrid(seed=3, num_threads=1).fit(data, item_vectors=vectors, kg=kg)
    users = [0, 1, 2, 3]
    histories = [data.history(u) for u in users]
    dense = model._features(users, histories, None)[0]
    monkeypatch.setattr(base_module, "LARGE_CATALOG_ITEMS", 5)
    fast = model._features(users, histories, None)[0]
    np.testing.assert_array_equal(fast.items, dense.items)
    # float32 scores (content cosine, ALS dot products) summed in another order differ in the
    # last bits: a CI run saw 3e-8 on a cosine of 0.027, so float32 precision, not 1e-6 relative
    np.testing.assert_allclose(fast.features, dense.features, rtol=1e-5, atol=1e-6, equal_nan=True)


def test_top_stable_equals_a_stable_argsort() -> None:
    rng = np.random.default_rng(2)
    for trial in range(100):
        n = int(rng.integers(1, 100))
        scores = rng.integers(0, 3, n).astype(float) if trial % 2 else rng.standard_normal(n)
        scores[rng.integers(0, n)] = -np.inf
        k = int(rng.integers(0, n + 3))
        np.testing.assert_array_equal(top_stable(scores, k), np.argsort(-scores, kind="stable")[:k])


def test_content_rows_on_a_large_catalogue_match_the_dense_path(monkeypatch, tiny) -> None:
    from recommender.algorithms import Content

    data, vectors, _kg = tiny
    model = Content().fit(data, item_vectors=vectors)
    users = np.arange(6)
    dense = model.score_users(users)
    monkeypatch.setattr(base_module, "LARGE_CATALOG_ITEMS", 5)
    np.testing.assert_allclose(model.score_users(users), dense, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.score(0), dense[0], rtol=1e-5, atol=1e-6)


def test_batching_users_does_not_change_results(monkeypatch, tiny) -> None:
    from recommender.algorithms import hybrid as hybrid_module

    data, vectors, kg = tiny
    model = Hybrid(seed=3, num_threads=1).fit(data, item_vectors=vectors, kg=kg)
    users = np.arange(6)
    histories = [data.history(int(u)) for u in users]
    whole = model._features_chunked(list(users), histories), model.recommend_users(users, k=5)
    monkeypatch.setattr(hybrid_module, "FEATURE_CELLS", model.n_items * 2)  # two users per batch
    assert model._users_per_batch() == 2
    chunked = model._features_chunked(list(users), histories), model.recommend_users(users, k=5)
    np.testing.assert_array_equal(chunked[0].rows, whole[0].rows)
    np.testing.assert_array_equal(chunked[0].items, whole[0].items)
    # float32 features: a batch of another shape may round the last bit of a BLAS product differently
    np.testing.assert_allclose(chunked[0].features, whole[0].features, rtol=1e-5, atol=1e-5, equal_nan=True)
    np.testing.assert_array_equal(chunked[1][0], whole[1][0])
    np.testing.assert_allclose(chunked[1][1], whole[1][1], rtol=1e-5, atol=1e-5)

"""BPMF's Gibbs sweep: the per-row sums it keeps equal the direct ones, and so does the
squared residual it derives from them."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from recommender.algorithms.rating import BPMF


def test_the_sweep_sums_and_squared_residuals_equal_the_direct_ones() -> None:
    rng = np.random.default_rng(7)
    ratings = sp.random(30, 40, density=0.2, random_state=7, format="csr",
                        data_rvs=lambda n: rng.integers(1, 6, n) - 3.0)
    u, v = rng.standard_normal((30, 5)), rng.standard_normal((40, 5))
    _, gram, rv = BPMF._sample_side(rng, ratings, v, np.zeros(5), np.eye(5), alpha=2.0)
    # a stored 0 is a rating too (a centred rating equal to the mean): the structure, not nonzero()
    for i in range(30):
        rated, values = ratings[i].indices, ratings[i].data
        np.testing.assert_allclose(gram[i], v[rated].T @ v[rated], atol=1e-12)
        np.testing.assert_allclose(rv[i], values @ v[rated], atol=1e-12)
    rows = np.repeat(np.arange(30), np.diff(ratings.indptr))
    direct = float(np.sum((ratings.data - np.sum(u[rows] * v[ratings.indices], axis=1)) ** 2))
    total = float(ratings.data @ ratings.data)
    assert np.isclose(BPMF._squared_residuals(total, u, gram, rv), direct, rtol=1e-10)

"""Metrics against hand-computed examples."""

from __future__ import annotations

import math

import numpy as np
import pytest

from recommender.evaluation import metrics as m


def test_ndcg() -> None:
    # hits at ranks 1 and 3 of 3 relevant items, k = 3
    dcg = 1 + 1 / math.log2(4)
    idcg = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert m.ndcg_at_k([1, 9, 2], {1, 2, 3}, 3) == pytest.approx(dcg / idcg)
    # one relevant item at rank 2: 1/log2(3) over an ideal of 1
    assert m.ndcg_at_k([5, 7, 8], {7}, 3) == pytest.approx(1 / math.log2(3))
    assert m.ndcg_at_k([5, 6], set(), 2) == 0.0


def test_recall_precision_hit_mrr() -> None:
    ranked, relevant = [4, 2, 8, 1], {1, 2, 3}
    assert m.recall_at_k(ranked, relevant, 2) == pytest.approx(1 / 3)
    assert m.recall_at_k(ranked, relevant, 4) == pytest.approx(2 / 3)
    assert m.precision_at_k(ranked, relevant, 4) == pytest.approx(0.5)
    assert m.hit_at_k(ranked, relevant, 1) == 0.0
    assert m.hit_at_k(ranked, relevant, 2) == 1.0
    assert m.mrr_at_k(ranked, relevant, 4) == pytest.approx(0.5)
    assert m.mrr_at_k([9, 9], relevant, 2) == 0.0


def test_gini() -> None:
    assert m.gini([1, 1, 1, 1]) == pytest.approx(0.0)
    assert m.gini([0, 0, 0, 4]) == pytest.approx(0.75)
    # sorted (1, 2, 3): sum (2i - n - 1) x_i = -2 + 0 + 6 = 4; / (3 * 6)
    assert m.gini([3, 1, 2]) == pytest.approx(4 / 18)
    # exposure: item 0 shown twice, item 1 once, items 2 and 3 never
    assert m.exposure_gini([[0, 1], [0]], 4) == pytest.approx(m.gini([2, 1, 0, 0]))


def test_coverage_novelty_popularity() -> None:
    lists = [[0, 1], [1, 2]]
    assert m.catalog_coverage(lists, 10) == pytest.approx(0.3)
    pop = np.array([50.0, 25.0, 100.0])
    # p = pop / 100 users: -log2 of 0.5, 0.25, 0.25, 1.0
    assert m.novelty(lists, pop, 100) == pytest.approx((1 + 2 + 2 + 0) / 4)
    assert m.average_popularity(lists, pop) == pytest.approx((50 + 25 + 25 + 100) / 4)


def test_intra_list_diversity() -> None:
    sim = np.array([[1.0, 0.2, 0.0], [0.2, 1.0, 0.6], [0.0, 0.6, 1.0]])
    # pairs (0,1), (0,2), (1,2): dissimilarities 0.8, 1.0, 0.4
    assert m.intra_list_diversity([[0, 1, 2]], sim) == pytest.approx((0.8 + 1.0 + 0.4) / 3)
    assert m.intra_list_diversity([[0]], sim) == 0.0


def test_rmse_mae() -> None:
    assert m.rmse([3, 4, 5], [4, 4, 3]) == pytest.approx(math.sqrt((1 + 0 + 4) / 3))
    assert m.mae([3, 4, 5], [4, 4, 3]) == pytest.approx(1.0)

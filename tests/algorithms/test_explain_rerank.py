"""Pure explanation builder and the re-rankers."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from recommender.algorithms.explain import SIGNAL_LABELS, build_explanation
from recommender.algorithms.rerank import (
    ExposurePrices,
    exposure_prices,
    fairness_rerank,
    genre_similarity,
    mmr,
    mmr_rerank,
    standardise_rows,
)
from recommender.evaluation.metrics import exposure_gini


def test_sentence_names_the_largest_contribution_and_its_anchor() -> None:
    explanation = build_explanation(
        7, {"baseline": -1.0, "ease": 0.4, "kg": 0.9, "pop": 0.2},
        titles={1: "Star Wars (1977)", 2: "Alien (1979)"},
        anchors={"ease": [(2, 0.3)]}, ratings={1: 5.0, 2: 4.0},
        kg_links=[{"relation": "directed_by", "entity": "m.0xyz", "item": 1, "contribution": 0.5}],
    )
    assert explanation["top_signal"] == "kg"
    assert explanation["score"] == pytest.approx(0.5)
    assert explanation["sentence"] == (
        f"Because you rated Star Wars (1977) 5 stars and it shares a director with it ({SIGNAL_LABELS['kg']})."
    )
    assert [s["signal"] for s in explanation["signals"]] == ["kg", "ease", "pop"]


def test_named_entity_and_collaborative_anchor() -> None:
    explanation = build_explanation(
        3, {"itemknn": 1.0, "content": 0.1}, titles={4: "Heat (1995)"}, anchors={"itemknn": [(4, 0.8)]},
        ratings={4: 4.0}, kg_links=[{"relation": "actor", "entity": "e1", "item": 4, "contribution": 0.1}],
        entity_names={"e1": "Al Pacino"},
    )
    expected = "Because you rated Heat (1995) 4 stars and it shares an actor (Al Pacino)"
    assert explanation["sentence"].startswith(expected)
    assert SIGNAL_LABELS["itemknn"] in explanation["sentence"]


def test_item_level_signal_sentence() -> None:
    explanation = build_explanation(1, {"trending": 2.0, "content": 0.5})
    assert SIGNAL_LABELS["trending"] in explanation["sentence"]


def test_mmr_lambda_one_is_identity_order() -> None:
    items, scores = [10, 11, 12, 13], [0.2, 0.9, 0.5, 0.7]
    sim = np.ones((20, 20))
    assert mmr(items, scores, sim, k=4, lam=1.0) == [11, 13, 12, 10]


def test_mmr_diversifies() -> None:
    genres = [("Action",), ("Action",), ("Drama",), ("Comedy",)]
    sim = genre_similarity(genres)
    picked = mmr([0, 1, 2, 3], [1.0, 0.95, 0.5, 0.4], sim, k=3, lam=0.5)
    assert picked[0] == 0 and 1 not in picked[:2]
    vectors = np.eye(4)[[0, 0, 1, 2]]
    assert mmr_rerank([0, 1, 2, 3], [1.0, 0.95, 0.5, 0.4], vectors, k=2, lam=0.5) == [0, 2]


def _synthetic_pools(n_users: int = 300, n_items: int = 200, pool: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """Candidate lists where popular items score higher (a popularity-biased model)."""
    rng = np.random.default_rng(0)
    popularity = rng.pareto(1.5, n_items) + 1
    items = np.zeros((n_users, pool), dtype=np.int64)
    scores = np.zeros((n_users, pool))
    for u in range(n_users):
        cand = rng.choice(n_items, pool, replace=False, p=popularity / popularity.sum())
        s = np.log(popularity[cand]) + rng.normal(0, 0.5, pool)
        order = np.argsort(-s)
        items[u], scores[u] = cand[order], s[order]
    return items, scores


def test_fairness_strength_zero_is_identity_and_strength_is_checked() -> None:
    items, scores = [5, 6, 7, 8], [0.1, 0.4, 0.3, 0.2]
    prices = ExposurePrices(strengths=np.array([0.0, 1.0]), prices=np.array([np.zeros(9), np.arange(9.0)]))
    assert fairness_rerank(items, scores, prices.of(items, 0.0), k=2) == [6, 7, 8, 5]
    assert fairness_rerank(items, scores, [0, 0, 0, 0], k=4) == [6, 7, 8, 5]
    for bad in (-0.1, 1.5):
        with pytest.raises(ValueError):
            prices.at(bad)
    assert prices.of([2, -1, 99], 0.5).tolist() == [1.0, 0.0, 0.0]  # interpolated; unknown items are free


def test_fairness_rerank_chooses_by_price_and_shows_by_score() -> None:
    items, scores = [10, 11, 12, 13], [4.0, 3.0, 2.9, 0.0]
    # k=2: the best one is free; 11 is expensive, so 12 (a near tie) takes its place, shown below 10
    assert fairness_rerank(items, scores, [5.0, 1.0, 0.0, 0.0], k=2) == [10, 12, 11, 13]


def test_exposure_prices_sink_the_item_everyone_is_shown() -> None:
    # three users; item 0 tops every list, item 1 is a near tie, item 2 is far behind
    items = np.array([[0, 1, 2]] * 3)
    scores = np.array([[1.0, 0.9, 0.0]] * 3)
    prices = exposure_prices(items, scores, n_items=4, k=1)
    assert np.all(prices.at(0.0) == 0)
    assert prices.at(1.0)[0] > prices.at(1.0)[1] >= prices.at(1.0)[2] == prices.at(1.0)[3] == 0
    lists = [fairness_rerank(row.tolist(), s, prices.of(row, 1.0), k=1)[:1]
             for row, s in zip(items, scores, strict=True)]
    assert [1] in lists


def test_fairness_gini_does_not_grow_with_strength() -> None:
    n_items = 200
    items, scores = _synthetic_pools(n_items=n_items)
    prices = exposure_prices(items, scores, n_items=n_items, k=10)
    ginis = []
    for strength in (0.0, 0.1, 0.25, 0.5, 0.75, 1.0):
        lists = [fairness_rerank(row.tolist(), s, prices.of(row, strength), k=10)[:10]
                 for row, s in zip(items, scores, strict=True)]
        ginis.append(exposure_gini(lists, n_items))
    assert all(b <= a + 1e-9 for a, b in itertools.pairwise(ginis))
    assert ginis[-1] < 0.9 * ginis[0]


def test_standardise_rows_keeps_nan_and_handles_constant_rows() -> None:
    z = standardise_rows(np.array([[1.0, 2.0, 3.0, np.nan], [2.0, 2.0, np.nan, np.nan], [np.nan] * 4]))
    assert z[0, :3] == pytest.approx([-1.2247, 0.0, 1.2247], abs=1e-4) and np.isnan(z[0, 3])
    assert z[1, :2].tolist() == [0.0, 0.0] and np.isnan(z[2]).all()

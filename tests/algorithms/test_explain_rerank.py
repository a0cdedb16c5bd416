"""Pure explanation builder and the re-rankers."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from recommender.algorithms.explain import SIGNAL_LABELS, build_explanation
from recommender.algorithms.rerank import fairness_rerank, genre_similarity, mmr, mmr_rerank
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


def test_fairness_strength_zero_is_identity() -> None:
    items, scores, pop = [5, 6, 7, 8], [0.1, 0.4, 0.3, 0.2], [50, 1, 10, 3]
    assert fairness_rerank(items, scores, pop, strength=0.0) == [6, 7, 8, 5]
    with pytest.raises(ValueError):
        fairness_rerank(items, scores, pop, strength=1.5)


def test_fairness_gini_does_not_grow_with_strength() -> None:
    rng = np.random.default_rng(0)
    n_items = 200
    popularity = rng.pareto(1.5, n_items) + 1
    pools = []
    for _ in range(300):
        pool = rng.choice(n_items, 40, replace=False, p=popularity / popularity.sum())
        pools.append((pool.tolist(), (np.log(popularity[pool]) + rng.normal(0, 0.5, 40)).tolist()))
    ginis = []
    for strength in (0.0, 0.25, 0.5, 0.75, 1.0):
        lists = [fairness_rerank(p, s, popularity[p], strength=strength, k=10) for p, s in pools]
        ginis.append(exposure_gini(lists, n_items))
    assert all(b <= a + 1e-9 for a, b in itertools.pairwise(ginis))
    assert ginis[-1] < ginis[0]

"""Re-rankers applied to a scored candidate list: MMR diversity and exposure fairness."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

Similarity = np.ndarray | Callable[[int, int], float]
# Candidates per list that are re-ranked: serving scores this many, and the exposure prices are
# fitted (training, offline evaluation) on lists of the same length.
CANDIDATE_POOL = 200
FAIRNESS_GRID = tuple(round(0.1 * i, 1) for i in range(11))  # strengths prices are fitted at
PRICE_WEIGHT = 1.0  # price per log-unit of over-exposure at strength 1, in standard deviations of a list's scores
PRICE_ROUNDS = 40
PRICE_DAMPING = 0.3
FREE_SHARE = 0.5  # the best half of each top-k never pays a price: fairness only reshapes the bottom


def _normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    span = x.max() - x.min() if len(x) else 0.0
    return (x - x.min()) / span if span > 0 else np.ones_like(x)


def mmr(items: Sequence[int], scores: Sequence[float], similarity: Similarity, k: int,
        lam: float = 0.7) -> list[int]:
    """Maximal marginal relevance: ``lam * relevance - (1 - lam) * max similarity to picks``.

    ``similarity`` is an item x item matrix (e.g. cosine of embeddings or genre vectors) or a
    function. ``lam = 1`` keeps the order by score.
    """
    items = list(items)
    rel = _normalise(np.asarray(scores, dtype=np.float64))
    sim = similarity if callable(similarity) else (lambda a, b: float(similarity[a, b]))
    order = sorted(range(len(items)), key=lambda i: (-rel[i], i))
    if lam >= 1.0:
        return [items[i] for i in order[:k]]
    chosen: list[int] = []
    max_sim = np.zeros(len(items))
    remaining = list(order)
    while remaining and len(chosen) < k:
        best = max(remaining, key=lambda i: (lam * rel[i] - (1 - lam) * max_sim[i], -order.index(i)))
        remaining.remove(best)
        chosen.append(best)
        for i in remaining:
            max_sim[i] = max(max_sim[i], sim(items[i], items[best]))
    return [items[i] for i in chosen]


def mmr_rerank(items: Sequence[int], scores: Sequence[float], vectors: np.ndarray, k: int,
               lam: float = 0.7) -> list[int]:
    """MMR with cosine similarity of ``vectors`` (one row per entry of ``items``, same order)."""
    v = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    v = v / np.maximum(norms, 1e-12)
    sim = v @ v.T
    position = {item: row for row, item in enumerate(items)}
    return mmr(items, scores, lambda a, b: float(sim[position[a], position[b]]), k, lam)


def genre_similarity(genres: Sequence[Sequence[str]]) -> np.ndarray:
    """Cosine of multi-hot genre vectors (item x item)."""
    names = sorted({g for gs in genres for g in gs})
    index = {g: i for i, g in enumerate(names)}
    x = np.zeros((len(genres), max(len(names), 1)))
    for row, gs in enumerate(genres):
        for g in gs:
            x[row, index[g]] = 1.0
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    x = x / np.maximum(norms, 1e-12)
    return x @ x.T


# ------------------------------------------------------------------ fairness
def standardise_rows(scores: np.ndarray) -> np.ndarray:
    """Per-list z-scores of candidate scores (NaN stays NaN): relevance on a scale comparable
    across users and scorers, unlike min-max, which stretches any gap to the whole range."""
    s = np.asarray(scores, dtype=np.float64)
    s = np.where(np.isfinite(s), s, np.nan)
    with np.errstate(invalid="ignore"):
        mean = np.nanmean(np.where(np.isnan(s).all(axis=1, keepdims=True), 0.0, s), axis=1, keepdims=True)
        sd = np.nanstd(np.where(np.isnan(s).all(axis=1, keepdims=True), 0.0, s), axis=1, keepdims=True)
    return (s - mean) / np.where(sd > 0, sd, 1.0)


def _check_strength(strength: float) -> float:
    if not 0.0 <= strength <= 1.0:
        raise ValueError("strength must be in [0, 1]")
    return float(strength)


@dataclass(frozen=True)
class ExposurePrices:
    """Per-item exposure prices at a grid of fairness strengths (row ``g`` for ``strengths[g]``).

    An item's price is what its relevance (a z-score within the user's candidate list) loses at
    that strength. :meth:`at` interpolates between grid points; strength 0 is all zeros.
    """

    strengths: np.ndarray  # (g,), increasing, from 0 to 1
    prices: np.ndarray  # (g, n_items)

    @property
    def n_items(self) -> int:
        return self.prices.shape[1]

    def at(self, strength: float) -> np.ndarray:
        strength = _check_strength(strength)
        g = int(np.searchsorted(self.strengths, strength, side="right")) - 1
        if g >= len(self.strengths) - 1:
            return self.prices[-1]
        lo, hi = self.strengths[g], self.strengths[g + 1]
        w = (strength - lo) / (hi - lo)
        return (1 - w) * self.prices[g] + w * self.prices[g + 1]

    def of(self, items: Sequence[int], strength: float) -> np.ndarray:
        """Prices of ``items`` (indices; negative or unknown indices, e.g. items newer than the
        prices, cost nothing)."""
        price = self.at(strength)
        idx = np.asarray(items, dtype=np.int64)
        known = (idx >= 0) & (idx < self.n_items)
        return np.where(known, price[np.where(known, idx, 0)], 0.0)


def _free(k: int) -> int:
    return int(FREE_SHARE * k)


def gini(values: Sequence[float] | np.ndarray) -> float:
    """Gini coefficient of non-negative values (0 = all equal, towards 1 = concentrated): here,
    how unevenly exposure is spread over the catalogue."""
    x = np.sort(np.asarray(values, dtype=float))
    n = len(x)
    if n == 0 or x.sum() == 0:
        return 0.0
    index = np.arange(1, n + 1)
    return float((2 * index - n - 1) @ x / (n * x.sum()))


def _top_rows(relevance: np.ndarray, items: np.ndarray, price: np.ndarray, k: int) -> np.ndarray:
    """Each row's top-``k`` items by :func:`fairness_scores` (-1 where a row runs out); rows
    must be sorted by relevance (NaN last), so the first columns are the free ones."""
    cost = price[np.maximum(items, 0)]
    cost[:, :_free(k)] = 0.0
    adjusted = np.where(np.isnan(relevance) | (items < 0), -np.inf, relevance - cost)
    order = np.argsort(-adjusted, axis=1, kind="stable")[:, :k]
    chosen = np.take_along_axis(items, order, axis=1)
    return np.where(np.isfinite(np.take_along_axis(adjusted, order, axis=1)), chosen, -1)


def exposure_prices(items: np.ndarray, scores: np.ndarray, *, n_items: int, k: int,
                    strengths: Sequence[float] = FAIRNESS_GRID, rounds: int = PRICE_ROUNDS) -> ExposurePrices:
    """Exposure prices that spread top-``k`` exposure over the catalogue, fitted on many users'
    candidate lists at once (``items``/``scores``: one row per user, -1 / NaN pads).

    The price of item ``i`` at strength ``s`` is the fixed point of
    ``price_i = s * PRICE_WEIGHT * log(1 + e_i / t)``, where ``e_i`` is how many top-``k`` lists
    item ``i`` is in when every list is ranked by ``relevance - price`` and ``t`` the exposure
    each item would get if all slots were spread evenly. It is the Lagrangian view of "maximise
    relevance, paying a convex cost for concentrating exposure": a few rounds of damped dual
    ascent, deterministic, over the whole user base, so the same prices serve every request
    statelessly. Items shown much more than their share sink where the relevance given up is
    small; items seldom shown keep a price near 0. A strength whose prices would concentrate
    exposure more (exposure Gini on these lists) than the weaker one keeps the weaker one's
    prices, so more fairness never means less. Compute it from training data only.
    """
    relevance = standardise_rows(scores)
    by_relevance = np.argsort(-np.nan_to_num(relevance, nan=-np.inf), axis=1, kind="stable")
    relevance = np.take_along_axis(relevance, by_relevance, axis=1)
    items = np.take_along_axis(np.asarray(items, dtype=np.int64), by_relevance, axis=1)
    grid = np.asarray(strengths, dtype=np.float64)
    if len(grid) < 2 or grid[0] != 0.0 or np.any(np.diff(grid) <= 0) or grid[-1] > 1.0:
        raise ValueError("strengths must increase from 0 to at most 1")
    fair_share = max(len(items) * k / max(n_items, 1), 1e-9)
    table = np.zeros((len(grid), n_items))

    def exposure(price: np.ndarray) -> np.ndarray:
        top = _top_rows(relevance, items, price, k)
        return np.bincount(top[top >= 0], minlength=n_items)

    concentration = gini(exposure(table[0]))
    for g, strength in enumerate(grid):
        price = table[g - 1].copy() if g else np.zeros(n_items)  # warm start from the weaker strength
        for _ in range(rounds if strength > 0 else 0):
            target = strength * PRICE_WEIGHT * np.log1p(exposure(price) / fair_share)
            price = (1 - PRICE_DAMPING) * price + PRICE_DAMPING * target
        # a stronger setting never concentrates exposure more than a weaker one on these lists:
        # where exposure is already even, the rounds can overshoot; the weaker prices then stay
        if g and (g_concentration := gini(exposure(price))) <= concentration:
            table[g], concentration = price, g_concentration
        elif g:
            table[g] = table[g - 1]
    return ExposurePrices(strengths=grid, prices=table)


def fairness_scores(scores: Sequence[float], prices: Sequence[float], k: int) -> np.ndarray:
    """Fairness-adjusted relevance of one candidate list: z-score minus the item's price, where
    the best ``FREE_SHARE * k`` candidates by score pay nothing (prices are never negative, so
    they stay on top)."""
    relevance = standardise_rows(np.asarray(scores, dtype=np.float64)[None])[0]
    cost = np.asarray(prices, dtype=np.float64).copy()
    order = np.lexsort((np.arange(len(relevance)), -np.nan_to_num(relevance, nan=-np.inf)))
    cost[order[:_free(k)]] = 0.0
    return relevance - cost


def fairness_rerank(items: Sequence[int], scores: Sequence[float], prices: Sequence[float], *,
                    k: int) -> list[int]:
    """Exposure-priced re-ranking of one candidate list (give it more than ``k`` to have room).

    ``prices`` are aligned with ``items``: :meth:`ExposurePrices.of` at the wanted strength
    (all zeros, i.e. strength 0, keeps the order by score). The ``k`` best by
    :func:`fairness_scores` make the list and are shown in score order (fairness decides who is
    shown, relevance where); the rest follow by adjusted score. Ties keep the input order.
    """
    items = list(items)
    position = np.arange(len(items))
    raw = np.nan_to_num(np.asarray(scores, dtype=np.float64), nan=-np.inf)
    adjusted = np.nan_to_num(fairness_scores(scores, prices, k), nan=-np.inf)
    order = np.lexsort((position, -adjusted))
    head = order[:k][np.lexsort((order[:k], -raw[order[:k]]))]
    return [items[i] for i in np.concatenate([head, order[k:]])]

"""Bias and fairness metrics of recommendation lists (plain numpy; audits and offline runs).

Lists hold item indices; popularity is each item's interaction count.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

CALIBRATION_ALPHA = 0.01  # Steck (2018): mix a little of the history into q so KL stays finite


def exposure_counts(lists: Sequence[Sequence[int]], n_items: int) -> np.ndarray:
    counts = np.zeros(n_items)
    for lst in lists:
        for i in lst:
            counts[i] += 1
    return counts


def lorenz_curve(values: Sequence[float] | np.ndarray, points: int = 21) -> list[tuple[float, float]]:
    """(share of items, share of exposure) with items sorted from least to most exposed."""
    x = np.sort(np.asarray(values, dtype=float))
    if len(x) == 0 or x.sum() == 0:
        return [(q, q) for q in np.linspace(0, 1, points)]
    cumulative = np.concatenate([[0.0], np.cumsum(x) / x.sum()])
    shares = np.linspace(0, 1, points)
    return [(float(q), float(np.interp(q * len(x), np.arange(len(x) + 1), cumulative))) for q in shares]


def long_tail_mask(popularity: np.ndarray, head_share: float = 0.2) -> np.ndarray:
    """True for long-tail items: all but the ``head_share`` most popular items with interactions."""
    pop = np.asarray(popularity, dtype=float)
    order = np.argsort(-pop, kind="stable")
    n_head = int(np.ceil(head_share * np.count_nonzero(pop)))
    tail = np.ones(len(pop), dtype=bool)
    tail[order[:n_head]] = False
    return tail


def long_tail_share(lists: Sequence[Sequence[int]], tail: np.ndarray) -> float:
    shown = [i for lst in lists for i in lst]
    return float(np.mean(tail[shown])) if shown else 0.0


def popularity_decile_exposure(lists: Sequence[Sequence[int]], popularity: np.ndarray) -> list[float]:
    """Share of all recommendations that fall in each popularity decile of the catalogue
    (decile 1 = least popular tenth of items, 10 = most popular)."""
    pop = np.asarray(popularity, dtype=float)
    order = np.argsort(pop, kind="stable")
    decile = np.empty(len(pop), dtype=int)
    decile[order] = np.minimum((np.arange(len(pop)) * 10) // max(len(pop), 1), 9)
    counts = np.zeros(10)
    for lst in lists:
        for i in lst:
            counts[decile[i]] += 1
    return (counts / counts.sum()).tolist() if counts.sum() else counts.tolist()


def genre_distribution(items: Sequence[int], item_genres: Sequence[Sequence[str]],
                       weights: Sequence[float] | None = None) -> dict[str, float]:
    """Each genre's share, an item's weight split evenly over its genres."""
    dist: dict[str, float] = {}
    for n, i in enumerate(items):
        genres = item_genres[i] or ("(none)",)
        w = 1.0 if weights is None else float(weights[n])
        for g in genres:
            dist[g] = dist.get(g, 0.0) + w / len(genres)
    total = sum(dist.values())
    return {g: v / total for g, v in dist.items()} if total else {}


def calibration_kl(history: Mapping[str, float], recommended: Mapping[str, float],
                   alpha: float = CALIBRATION_ALPHA) -> float:
    """KL(p || q~) between the genre mix of a user's history p and of their recommendations q,
    with q~ = (1 - alpha) q + alpha p (Steck 2018). 0 = perfectly calibrated."""
    kl = 0.0
    for genre, p in history.items():
        if p <= 0:
            continue
        q = (1 - alpha) * recommended.get(genre, 0.0) + alpha * p
        kl += p * np.log(p / q)
    return float(kl)


def genre_exposure_vs_catalog(lists: Sequence[Sequence[int]], item_genres: Sequence[Sequence[str]],
                              catalog_items: Sequence[int]) -> dict[str, dict[str, float]]:
    """For each genre: its share of recommendations and its share of the catalogue."""
    exposure = genre_distribution([i for lst in lists for i in lst], item_genres)
    catalog = genre_distribution(list(catalog_items), item_genres)
    return {g: {"exposure": exposure.get(g, 0.0), "catalog": catalog.get(g, 0.0)}
            for g in sorted(set(exposure) | set(catalog))}


def age_bracket(age: int | None) -> str | None:
    if age is None:
        return None
    for upper, label in ((18, "under 18"), (25, "18-24"), (35, "25-34"), (45, "35-44"), (55, "45-54")):
        if age < upper:
            return label
    return "55+"

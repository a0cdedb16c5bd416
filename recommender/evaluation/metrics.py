"""Evaluation metrics as plain functions.

Ranking metrics take one user's ranked list and the set of relevant items; the evaluation
averages them over users. Beyond-accuracy metrics take all users' lists at once.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import numpy as np

from recommender.algorithms.rerank import gini  # the re-ranker bounds it too; audits import it from here


def _hits(ranked: Sequence[int], relevant: Collection[int], k: int) -> np.ndarray:
    return np.array([item in relevant for item in list(ranked)[:k]], dtype=float)


def precision_at_k(ranked: Sequence[int], relevant: Collection[int], k: int) -> float:
    """Relevant items in the top ``k`` divided by ``k`` (RecBole's definition)."""
    return float(_hits(ranked, relevant, k).sum() / k) if k > 0 else 0.0


def recall_at_k(ranked: Sequence[int], relevant: Collection[int], k: int) -> float:
    return float(_hits(ranked, relevant, k).sum() / len(relevant)) if relevant else 0.0


def hit_at_k(ranked: Sequence[int], relevant: Collection[int], k: int) -> float:
    return float(_hits(ranked, relevant, k).any())


def mrr_at_k(ranked: Sequence[int], relevant: Collection[int], k: int) -> float:
    """Reciprocal rank of the first relevant item in the top ``k`` (0 if none)."""
    hits = np.flatnonzero(_hits(ranked, relevant, k))
    return float(1.0 / (hits[0] + 1)) if len(hits) else 0.0


def ndcg_at_k(ranked: Sequence[int], relevant: Collection[int], k: int) -> float:
    """Binary-relevance NDCG: DCG over the ideal DCG of min(|relevant|, k) hits."""
    if not relevant:
        return 0.0
    hits = _hits(ranked, relevant, k)
    discounts = 1.0 / np.log2(np.arange(2, len(hits) + 2))
    ideal = (1.0 / np.log2(np.arange(2, min(len(relevant), k) + 2))).sum()
    return float((hits * discounts).sum() / ideal)


def catalog_coverage(lists: Sequence[Sequence[int]], n_items: int) -> float:
    """Share of the catalogue that appears in at least one list."""
    shown = {i for lst in lists for i in lst}
    return len(shown) / n_items if n_items else 0.0


def novelty(lists: Sequence[Sequence[int]], item_popularity: np.ndarray, n_users: int) -> float:
    """Mean self-information ``-log2(p(i))`` of recommended items, ``p`` = share of users who saw i."""
    p = np.asarray(item_popularity, dtype=float) / max(n_users, 1)
    values = [-np.log2(max(p[i], 1.0 / max(n_users, 1))) for lst in lists for i in lst]
    return float(np.mean(values)) if values else 0.0


def intra_list_diversity(lists: Sequence[Sequence[int]], similarity: np.ndarray) -> float:
    """Mean over lists of the mean pairwise dissimilarity ``1 - sim(i, j)``."""
    values = []
    for lst in lists:
        lst = list(lst)
        if len(lst) < 2:
            continue
        sub = similarity[np.ix_(lst, lst)]
        n = len(lst)
        values.append(float((n * n - n - (sub.sum() - np.trace(sub))) / (n * n - n)))
    return float(np.mean(values)) if values else 0.0


def average_popularity(lists: Sequence[Sequence[int]], item_popularity: np.ndarray) -> float:
    """Mean training popularity (number of interactions) of recommended items."""
    values = [item_popularity[i] for lst in lists for i in lst]
    return float(np.mean(values)) if values else 0.0


def exposure_gini(lists: Sequence[Sequence[int]], n_items: int) -> float:
    """Gini of how often each catalogue item is recommended (items never shown count as 0)."""
    shown = np.fromiter((i for lst in lists for i in lst), dtype=np.int64)
    return gini(np.bincount(shown, minlength=n_items))


def rmse(predicted: Sequence[float], actual: Sequence[float]) -> float:
    d = np.asarray(predicted, dtype=float) - np.asarray(actual, dtype=float)
    return float(np.sqrt(np.mean(d * d))) if len(d) else 0.0


def mae(predicted: Sequence[float], actual: Sequence[float]) -> float:
    d = np.asarray(predicted, dtype=float) - np.asarray(actual, dtype=float)
    return float(np.mean(np.abs(d))) if len(d) else 0.0


RANKING_METRICS = {
    "ndcg": ndcg_at_k, "recall": recall_at_k, "precision": precision_at_k, "mrr": mrr_at_k, "hit": hit_at_k,
}

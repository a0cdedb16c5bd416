"""Internal validation: choose hyper-parameters on a hold-out of the training data itself.

Nothing here is tuned for one dataset: each component passes a small grid (often scaled by a
data statistic) and the value with the best NDCG@10 on a random per-user hold-out of its own
training data wins, so the choice follows the data it is trained on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from .data import Interactions, split_per_user

HOLDOUT_RATIO = 0.1
MAX_TUNING_USERS = 2000


def holdout(data: Interactions, seed: int = 0) -> tuple[Interactions, Interactions]:
    fit_part, held = split_per_user(data, [1 - HOLDOUT_RATIO, HOLDOUT_RATIO], seed=seed)
    return fit_part, held


def holdout_users(held: Interactions, seed: int = 0) -> np.ndarray:
    """The users with held-out events, at most ``MAX_TUNING_USERS`` of them (a seeded sample)."""
    users = np.flatnonzero(np.diff(held.csr().indptr) > 0)
    if len(users) > MAX_TUNING_USERS:
        users = np.sort(np.random.default_rng(seed).choice(users, MAX_TUNING_USERS, replace=False))
    return users


def ndcg_at_k(scores: np.ndarray, train: Interactions, held: Interactions, users: np.ndarray, k: int = 10) -> float:
    """Mean NDCG@k of dense ``scores`` (rows = ``users``), masking the users' training items."""
    from .base import top_k_rows

    s = scores.copy()
    seen = train.csr()[users]
    rows = np.repeat(np.arange(len(users)), np.diff(seen.indptr))
    s[rows, seen.indices] = -np.inf
    top = top_k_rows(s, k)
    truth = held.binary()[users]
    hits = np.asarray(truth[np.arange(len(users))[:, None], top].todense()) > 0
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = (hits * discounts).sum(axis=1)
    n_rel = np.minimum(np.diff(truth.indptr), k)
    idcg = np.cumsum(discounts)[np.maximum(n_rel - 1, 0)]
    ok = n_rel > 0
    return float(np.mean(dcg[ok] / idcg[ok])) if ok.any() else 0.0


def pick_best(
    factory: Callable[..., Any],
    grid: Iterable[dict[str, Any]],
    data: Interactions,
    *,
    seed: int = 0,
    fit_kwargs: dict[str, Any] | None = None,
    folds: int = 1,
) -> tuple[dict[str, Any], dict[str, float]]:
    """The grid point whose model, fitted on 90% of each user's events, ranks the rest best.

    ``folds > 1`` averages the NDCG over that many independent hold-outs (seeds ``seed``,
    ``seed + 1``, ...): one 10% hold-out is noisy enough to pick a neighbour of the best value.
    """
    grid = list(grid)
    totals = np.zeros(len(grid))
    for fold in range(folds):
        fit_part, held = holdout(data, seed + fold)
        users = holdout_users(held, seed + fold)
        for g, params in enumerate(grid):
            model = factory(**params).fit(fit_part, **(fit_kwargs or {}))
            totals[g] += ndcg_at_k(model.score_users(users), fit_part, held, users)
    scores = totals / folds
    results = {repr(params): float(score) for params, score in zip(grid, scores, strict=True)}
    return (dict(grid[int(np.argmax(scores))]) if grid else {}), results

"""A popularity prior for similarity-only components (content, knowledge graph, session).

Pure similarity ranks obscure look-alikes first; ``PopularityBlend`` adds ``beta`` times the
z-scored log popularity to the component's z-scored scores, with ``beta`` chosen on an
internal hold-out (``beta = 0`` is allowed, so the prior is only used when it helps). The
hybrid uses the raw components and learns its own weighting instead.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any, Self

import numpy as np

from .base import Recommender, select_items, zscore_rows
from .data import Event, Interactions, UserRef
from .tuning import holdout, ndcg_at_k

BETAS = (0.0, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0)


class PopularityBlend(Recommender):
    def __init__(self, inner: Recommender, seed: int = 0) -> None:
        """``inner``: an unfitted component; copies of it are fitted (so artifacts pickle)."""
        self.prototype, self.seed = copy.deepcopy(inner), seed
        self.inner = inner
        self.name = inner.name

    def _blend(self, raw: np.ndarray, pop: np.ndarray, beta: float) -> np.ndarray:
        z = np.nan_to_num(zscore_rows(raw), nan=0.0)
        return z + beta * zscore_rows(pop[None])[0]

    def fit(self, data: Interactions, **side_info: Any) -> Self:
        fit_part, held = holdout(data, self.seed)
        users = np.flatnonzero(np.diff(held.csr().indptr) > 0)
        probe = copy.deepcopy(self.prototype).fit(fit_part, **side_info)
        raw = probe.score_users(users)
        pop = np.log1p(fit_part.item_counts())
        self.tuning_ = {b: ndcg_at_k(self._blend(raw, pop, b), fit_part, held, users) for b in BETAS}
        self.beta = max(self.tuning_, key=self.tuning_.get)
        self.inner = copy.deepcopy(self.prototype).fit(data, **side_info)
        self.data = data
        self.log_pop = np.log1p(data.item_counts())
        return self

    def score(self, user_or_history: UserRef, items: Sequence[int] | np.ndarray | None = None) -> np.ndarray:
        # delegate so the inner component sees a Profile's extra vectors
        raw = self.inner.score(user_or_history)
        scores = self._blend(raw[None], self.log_pop, self.beta)[0]
        if np.isnan(raw).all():
            scores[:] = np.nan if self.beta == 0 else self.beta * zscore_rows(self.log_pop[None])[0]
        return select_items(scores, items)

    def _score_events(self, events: list[Event], user: int | None) -> np.ndarray:
        return self.score(events if user is None else user)

    def _score_rows(self, matrix, users):
        raw = self.inner.score_users(users)
        return self._blend(raw, self.log_pop, self.beta)

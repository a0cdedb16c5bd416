"""Most popular items, and a time-decayed Trending variant."""

from __future__ import annotations

from typing import Any, Self

import numpy as np

from .base import Recommender, decay_weights
from .data import Event, Interactions

# Trending's half-life is this share of the data's time span (scale-free, not a number of days).
TRENDING_SPAN_SHARE = 0.1


class Popularity(Recommender):
    """Score = log(1 + number of users who interacted); unrated catalogue items score 0."""

    name = "pop"

    def fit(self, data: Interactions, **side_info: Any) -> Self:
        self.data = data
        self.item_scores = np.log1p(data.item_counts())
        return self

    def _score_events(self, events: list[Event], user: int | None) -> np.ndarray:
        return self.item_scores.copy()

    def _score_rows(self, matrix, users):
        return np.tile(self.item_scores, (len(users), 1))


class Trending(Popularity):
    """Interactions weighted by recency: half-life = ``span_share`` of the data's time span."""

    name = "trending"

    def __init__(self, span_share: float = TRENDING_SPAN_SHARE, half_life: float | None = None) -> None:
        self.span_share = span_share
        self.half_life = half_life

    def fit(self, data: Interactions, **side_info: Any) -> Self:
        self.data = data
        ts = data.timestamps
        span = float(ts.max() - ts.min()) if len(ts) else 0.0
        self.half_life_ = self.half_life or max(span * self.span_share, 1.0)
        weights = decay_weights(ts, self.half_life_)
        self.item_scores = np.log1p(np.bincount(data.items, weights=weights, minlength=data.n_items))
        return self

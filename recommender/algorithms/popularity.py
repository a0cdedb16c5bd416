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


class TimePopularity(Popularity):
    """Popularity at the user's own time: how often each item was rated while the user was active.

    Timestamps are cut into ``bins`` equal-frequency bins (the grid follows the data's pace);
    a user's score for an item is ``log(1 + sum over bins of user share x item count)``. With
    no timed history it falls back to plain popularity.
    """

    name = "timepop"

    def __init__(self, bins: int = 64) -> None:
        self.bins = bins

    def fit(self, data: Interactions, **side_info: Any) -> Self:
        super().fit(data)
        ts = data.timestamps.astype(np.float64)
        edges = np.unique(np.quantile(ts, np.linspace(0, 1, self.bins + 1))) if len(ts) else np.zeros(2)
        self.edges = edges[1:-1]
        self.item_bins = np.zeros((data.n_items, len(self.edges) + 1))
        np.add.at(self.item_bins, (data.items, np.searchsorted(self.edges, ts, side="right")), 1.0)
        return self

    def _user_share(self, events: list[Event]) -> np.ndarray:
        share = np.zeros(self.item_bins.shape[1])
        if events:
            b = np.searchsorted(self.edges, [e[2] for e in events], side="right")
            share = np.bincount(b, minlength=len(share)) / len(events)
        return share

    def _score_events(self, events: list[Event], user: int | None) -> np.ndarray:
        if not events:
            return self.item_scores.copy()
        return np.log1p(self.item_bins @ self._user_share(events))

    def _score_rows(self, matrix, users):
        shares = np.vstack([self._user_share(self.data.history(int(u))) for u in users])
        scores = np.log1p(shares @ self.item_bins.T)
        empty = np.diff(matrix.indptr) == 0
        scores[empty] = self.item_scores
        return scores

"""Content-based scoring: a user's taste vector from the embeddings of the items they liked.

The taste vector sums item embeddings weighted by how much the user liked each item (rating
above their own mean) and by recency, plus optional extra vectors (review texts, profile
interests) from a :class:`~.data.Profile`. Score = cosine(taste, item).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Self

import numpy as np

from .base import Recommender, decay_weights, is_large_catalog
from .data import Event, Interactions, Profile, UserRef

# A user's recency half-life is this share of the time their own history spans.
RECENCY_SPAN_SHARE = 0.5


def normalise_rows(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.where(norms > 0, x / np.maximum(norms, 1e-12), 0.0).astype(np.float32)


def preference_weights(events: list[Event]) -> np.ndarray:
    """How much each event counts as a like: 1 + (rating - the user's mean rating), floored."""
    ratings = np.array([e[1] for e in events], dtype=np.float64)
    ts = np.array([e[2] for e in events], dtype=np.float64)
    liking = np.clip(1.0 + ratings - ratings.mean(), 0.05, None)
    span = float(ts.max() - ts.min()) if len(ts) else 0.0
    return liking * decay_weights(ts, span * RECENCY_SPAN_SHARE)


class Content(Recommender):
    """Needs ``item_vectors`` (n_items x d) at fit; rows of zeros are items without text."""

    name = "content"

    def fit(self, data: Interactions, item_vectors: np.ndarray | None = None, **side_info: Any) -> Self:
        if item_vectors is None:
            raise ValueError("Content needs item_vectors")
        self.data = data
        self.item_vectors = normalise_rows(np.asarray(item_vectors, dtype=np.float32)[: data.n_items])
        self.has_vector = np.linalg.norm(self.item_vectors, axis=1) > 0
        return self

    def taste_vector(self, events: list[Event], extra: list[tuple[np.ndarray, float]] = ()) -> np.ndarray | None:
        """Normalised taste vector, or ``None`` when there is nothing to go on."""
        taste = np.zeros(self.item_vectors.shape[1], dtype=np.float64)
        if events:
            w = preference_weights(events)
            taste += (w / w.sum()) @ self.item_vectors[[e[0] for e in events]]
        for vector, weight in extra:
            v = np.asarray(vector, dtype=np.float64)
            taste += weight * v / max(np.linalg.norm(v), 1e-12)
        norm = np.linalg.norm(taste)
        return taste / norm if norm > 0 else None

    def score(self, user_or_history: UserRef, items: Sequence[int] | np.ndarray | None = None) -> np.ndarray:
        self._extra = user_or_history.vectors if isinstance(user_or_history, Profile) else []
        try:
            return super().score(user_or_history, items)
        finally:
            self._extra = []

    def _score_events(self, events: list[Event], user: int | None) -> np.ndarray:
        taste = self.taste_vector(events, getattr(self, "_extra", []))
        if taste is None:
            return np.full(self.n_items, np.nan)
        if is_large_catalog(self.n_items):
            taste = taste.astype(np.float32)  # float64 would copy the whole matrix to float64 per call
        scores = (self.item_vectors @ taste).astype(np.float64)
        scores[~self.has_vector] = np.nan
        return scores

    def _score_rows(self, matrix, users):
        histories = [self.data.history(int(u)) for u in users]
        if is_large_catalog(self.n_items):
            # the histories' rows only, in float32: a dense float64 weights @ vectors copies the whole
            # item matrix to float64 (3 GB at 1M items) and multiplies mostly zeros
            tastes = [self.taste_vector(events) for events in histories]
            taste = np.vstack([t if t is not None else np.zeros(self.item_vectors.shape[1]) for t in tastes])
            scores = (taste.astype(np.float32) @ self.item_vectors.T).astype(np.float64)
            scores[[t is None for t in tastes]] = np.nan
            scores[:, ~self.has_vector] = np.nan
            return scores
        weights = np.zeros((len(users), self.n_items))
        for r, events in enumerate(histories):
            if events:
                w = preference_weights(events)
                weights[r, [e[0] for e in events]] = w / w.sum()
        taste = weights @ self.item_vectors
        norms = np.linalg.norm(taste, axis=1, keepdims=True)
        scores = (taste / np.maximum(norms, 1e-12)) @ self.item_vectors.T
        scores[norms[:, 0] == 0] = np.nan
        scores[:, ~self.has_vector] = np.nan
        return scores.astype(np.float64)

    def contributions(self, events: list[Event], item: int) -> dict[int, float]:
        """Each history item's share of the (unnormalised) cosine with ``item``."""
        return self.vector_contributions(events, self.item_vectors[item])

    def vector_contributions(self, events: list[Event], vector: np.ndarray) -> dict[int, float]:
        """:meth:`contributions` for an item the model has not seen, from its vector."""
        if not events:
            return {}
        w = preference_weights(events)
        sims = self.item_vectors[[e[0] for e in events]] @ normalise_rows(np.asarray(vector, dtype=np.float32)[None])[0]
        return {int(e[0]): float(c) for e, c in zip(events, (w / w.sum()) * sims, strict=True)}

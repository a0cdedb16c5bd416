"""The interface every component implements (LensKit style): fit, score, recommend, save/load.

``user_or_history`` is a trained user index or an ad-hoc history (a list of ``(item index,
rating or weight, timestamp)``), so a live user's new rating changes the result without
retraining. Scores are float64 arrays with NaN where a component has nothing to say; unknown
users and items never raise.
"""

from __future__ import annotations

import pickle
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Self

import numpy as np
import scipy.sparse as sp

from .data import Event, Interactions, UserRef, resolve_history

ARTIFACT_VERSION = 1

# Above this many items a catalogue is "large": dense item x item matrices (EASE, the dense
# ItemKNN) no longer fit in memory, so EASE is left out, neighbour models are built sparse,
# components use fixed hyper-parameters instead of a grid search (each grid point is a full
# fit), and per-user work avoids sorting whole score rows. ML-100K (1,682 items) and ML-1M
# (3,706) are far below it; see docs/BENCHMARKS.md, "Scale".
LARGE_CATALOG_ITEMS = 10_000


def is_large_catalog(n_items: int) -> bool:
    return n_items > LARGE_CATALOG_ITEMS


class Recommender:
    """Base class; subclasses implement :meth:`fit` and :meth:`_score_events`."""

    name = "base"
    data: Interactions | None = None

    def fit(self, data: Interactions, **side_info: Any) -> Self:  # pragma: no cover - abstract
        raise NotImplementedError

    def frozen(self) -> Recommender:
        """An unfitted copy that reuses the hyper-parameters this fit chose (no re-tuning)."""
        return type(self)(**self._chosen_params()) if self._chosen_params() is not None else self

    def _chosen_params(self) -> dict[str, Any] | None:
        return None

    # ------------------------------------------------------------------ scoring
    def _score_events(self, events: list[Event], user: int | None) -> np.ndarray:
        """Scores of every item (length ``n_items``) for one history; NaN = cannot score."""
        raise NotImplementedError

    def _score_rows(self, matrix: sp.csr_matrix, users: np.ndarray) -> np.ndarray | None:
        """Optional fast path: scores for many trained users at once (``None`` = not available)."""
        return None

    @property
    def n_items(self) -> int:
        return 0 if self.data is None else self.data.n_items

    def _is_trained_user(self, user_or_history: UserRef) -> bool:
        return (
            isinstance(user_or_history, (int, np.integer))
            and self.data is not None
            and 0 <= int(user_or_history) < self.data.n_users
        )

    def score(self, user_or_history: UserRef, items: Sequence[int] | np.ndarray | None = None) -> np.ndarray:
        """Scores for ``items`` (all items when ``None``); NaN for unknown items or no signal."""
        events = resolve_history(self.data, user_or_history)
        user = int(user_or_history) if self._is_trained_user(user_or_history) else None
        return select_items(np.asarray(self._score_events(events, user), dtype=np.float64), items)

    def score_users(self, users: np.ndarray, data: Interactions | None = None) -> np.ndarray:
        """Dense (len(users), n_items) scores of trained users, from ``data`` (default: the fit data)."""
        data = data or self.data
        users = np.asarray(users, dtype=np.int64)
        fast = self._score_rows(data.csr()[users], users) if data is self.data else None
        if fast is not None:
            return np.asarray(fast, dtype=np.float64)
        return np.vstack([
            np.asarray(self._score_events(data.history(int(u)), int(u)), dtype=np.float64) for u in users
        ]) if len(users) else np.zeros((0, self.n_items))

    def recommend(
        self,
        user_or_history: UserRef,
        k: int = 10,
        exclude: Sequence[int] | np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` (item indices, scores); ``exclude`` defaults to the items already seen."""
        scores = self.score(user_or_history)
        if exclude is None:
            exclude = [e[0] for e in resolve_history(self.data, user_or_history)]
        return top_k(scores, k, exclude)

    # -------------------------------------------------------------- persistence
    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as handle:
            pickle.dump({"version": ARTIFACT_VERSION, "class": type(self).__name__, "model": self}, handle,
                        protocol=pickle.HIGHEST_PROTOCOL)
        return path

    @classmethod
    def load(cls, path: str | Path) -> Recommender:
        with Path(path).open("rb") as handle:
            payload = pickle.load(handle)
        model = payload["model"]
        if not isinstance(model, cls):
            raise TypeError(f"{path} holds a {payload['class']}, not a {cls.__name__}")
        return model


def select_items(full: np.ndarray, items: Sequence[int] | np.ndarray | None) -> np.ndarray:
    """``full[items]`` (all when ``None``), NaN for indices outside the catalogue."""
    if items is None:
        return full
    items = np.asarray(items, dtype=np.int64)
    out = np.full(len(items), np.nan)
    ok = (items >= 0) & (items < len(full))
    out[ok] = full[items[ok]]
    return out


class FoldIn(Recommender):
    """For factor models: an ad-hoc history is always folded in (``self._adhoc`` is true while
    it is scored), even when it happens to be an int-like list; a trained user index uses the
    stored factors."""

    _adhoc = False

    def score(self, user_or_history: UserRef, items: Sequence[int] | np.ndarray | None = None) -> np.ndarray:
        self._adhoc = not isinstance(user_or_history, (int, np.integer))
        try:
            return super().score(user_or_history, items)
        finally:
            self._adhoc = False


def top_k(scores: np.ndarray, k: int, exclude: Sequence[int] | np.ndarray = ()) -> tuple[np.ndarray, np.ndarray]:
    """Indices and values of the ``k`` largest finite scores, best first, ``exclude`` removed."""
    scores = np.array(scores, dtype=np.float64)
    exclude = np.asarray(exclude, dtype=np.int64)
    if len(exclude):
        scores[exclude[(exclude >= 0) & (exclude < len(scores))]] = -np.inf
    scores[np.isnan(scores)] = -np.inf
    k = min(k, len(scores))
    if k <= 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    part = np.argpartition(-scores, k - 1)[:k]
    # stable tie-break by item index keeps results deterministic
    order = part[np.lexsort((part, -scores[part]))]
    order = order[np.isfinite(scores[order])]
    return order.astype(np.int64), scores[order]


def top_k_rows(scores: np.ndarray, k: int) -> np.ndarray:
    """Row-wise top-``k`` column indices of a dense matrix (NaN/-inf last), best first."""
    s = np.where(np.isnan(scores), -np.inf, scores)
    k = min(k, s.shape[1])
    part = np.argpartition(-s, k - 1, axis=1)[:, :k]
    vals = np.take_along_axis(s, part, axis=1)
    order = np.argsort(-vals, axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)


def top_stable(scores: np.ndarray, k: int) -> np.ndarray:
    """``np.argsort(-scores, kind="stable")[:k]`` for NaN-free scores, in O(n) instead of O(n log n)."""
    n = len(scores)
    if k >= n:
        return np.argsort(-scores, kind="stable")
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    threshold = np.partition(scores, n - k)[n - k]  # the k-th largest
    above = np.flatnonzero(scores > threshold)
    chosen = np.concatenate([above, np.flatnonzero(scores == threshold)[: k - len(above)]])
    return chosen[np.lexsort((chosen, -scores[chosen]))]


SCANNED_TIES = 16  # up to this many tied values a scan each (~0.3 ms at 1M) beats an argsort (~15 ms)


def ranks_at(values: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """Positions of ``values[columns]`` in a stable descending sort of ``values`` (0 = best; ties
    by index), from one ascending sort of the row: items strictly better are counted by binary
    search, and only values the columns share with other items need their index order (a scan
    per value, or for many values an unstable argsort sorted again within each tied block). At 1M
    items 6-18 ms, where a stable argsort takes 95 ms and binary-searching every item among the
    columns' values took 54-118 ms.

    Equals ``argsort(argsort(-values, kind="stable"))[columns]`` for NaN-free ``values``."""
    v = values[columns]
    if len(v) == 0:
        return np.zeros(0, dtype=np.int64)
    ascending = np.sort(values)
    left = np.searchsorted(ascending, v, side="left")
    right = np.searchsorted(ascending, v, side="right")
    ranks = (len(values) - right).astype(np.int64)  # items strictly better
    tied = right - left > 1
    if tied.any():
        shared = np.unique(v[tied])
        # a few shared values: scan the row for each; many: one argsort (the same blocks of equal values)
        order = np.argsort(values) if len(shared) > SCANNED_TIES else None
        for value in shared:
            pick = np.flatnonzero(tied & (v == value))
            same = np.flatnonzero(values == value) if order is None else \
                np.sort(order[left[pick[0]]:right[pick[0]]])  # items with this value, by index
            ranks[pick] += np.searchsorted(same, columns[pick])
    return ranks


def decay_weights(timestamps: np.ndarray, half_life: float) -> np.ndarray:
    """Exponential recency weights (1 for the newest event) with the given half-life in seconds."""
    if len(timestamps) == 0 or half_life <= 0:
        return np.ones(len(timestamps))
    age = float(np.max(timestamps)) - np.asarray(timestamps, dtype=np.float64)
    return np.power(0.5, age / half_life)


def zscore_at(x: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``zscore_rows(x)[rows, cols]`` (the same values) without transforming whole rows."""
    x = np.atleast_2d(np.asarray(x, dtype=np.float64))
    if x.size == 0:
        return x[rows, cols]
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(x, axis=1)[rows]
        sd = np.nanstd(x, axis=1)[rows]
    v = x[rows, cols]
    return np.where(sd > 0, (v - mean) / np.where(sd > 0, sd, 1.0), v - mean)


def zscore_rows(x: np.ndarray) -> np.ndarray:
    """Row-wise z-scores ignoring NaN (constant rows become 0, all-NaN rows stay NaN)."""
    x = np.atleast_2d(np.asarray(x, dtype=np.float64))
    if x.size == 0:
        return x.copy()
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(x, axis=1, keepdims=True)
        sd = np.nanstd(x, axis=1, keepdims=True)
    return np.where(sd > 0, (x - mean) / np.where(sd > 0, sd, 1.0), x - mean)

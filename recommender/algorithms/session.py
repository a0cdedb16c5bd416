"""Session-based scoring: what people watch next, plus closeness to the session's content.

Item-to-item transition counts are learned from each user's time-ordered history (the next
``window`` events, weighted 1/distance). The current session is the run of the user's latest
events without a gap longer than ``gap`` seconds (at most ``max_events``); its score is the
recency-weighted sum of transition rows, blended with the cosine to the session's mean
embedding when item vectors are given (blend weight chosen on an internal hold-out).
"""

from __future__ import annotations

from typing import Any, Self

import numpy as np
import scipy.sparse as sp

from .base import Recommender, zscore_rows
from .content import normalise_rows
from .data import Event, Interactions, split_per_user
from .tuning import ndcg_at_k

SESSION_GAP_SECONDS = 30 * 60  # the usual web-analytics session timeout
MAX_SESSION_EVENTS = 20
WINDOW = 3
TUNING_CELLS = 50_000_000  # users x items of the blend's hold-out (500 users at 100K items, 50 at 1M)


def current_session(events: list[Event], gap: float = SESSION_GAP_SECONDS,
                    max_events: int = MAX_SESSION_EVENTS) -> list[Event]:
    """The latest run of events with no gap above ``gap`` (events must be oldest first)."""
    if not events:
        return []
    start = len(events) - 1
    while start > 0 and events[start][2] - events[start - 1][2] <= gap and len(events) - start < max_events:
        start -= 1
    return list(events[start:])


class Session(Recommender):
    name = "session"

    def __init__(self, window: int = WINDOW, gap: float = SESSION_GAP_SECONDS,
                 max_events: int = MAX_SESSION_EVENTS, seed: int = 0) -> None:
        self.window, self.gap, self.max_events, self.seed = window, gap, max_events, seed

    def fit(self, data: Interactions, item_vectors: np.ndarray | None = None, **side_info: Any) -> Self:
        self.data = data
        self.item_vectors = None if item_vectors is None else normalise_rows(np.asarray(item_vectors)[: data.n_items])
        self.transitions = self._transitions(data)
        self.blend = 0.0
        if self.item_vectors is not None and len(data):
            self.blend = self._learn_blend(data)
        return self

    def _transitions(self, data: Interactions) -> sp.csr_matrix:
        order = np.lexsort((data.timestamps, data.users))
        users, items = data.users[order], data.items[order]
        rows, cols, vals = [], [], []
        for d in range(1, self.window + 1):
            same = users[:-d] == users[d:]
            rows.append(items[:-d][same])
            cols.append(items[d:][same])
            vals.append(np.full(same.sum(), 1.0 / d, dtype=np.float32))
        counts = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                               shape=(data.n_items, data.n_items))
        counts.setdiag(0)
        counts.eliminate_zeros()
        out_degree = np.asarray(counts.sum(axis=1)).ravel()
        # conditional next-item probability, shrunk toward 0 for rarely seen sources
        shrink = float(np.mean(out_degree[out_degree > 0])) if (out_degree > 0).any() else 1.0
        return (sp.diags(1.0 / (out_degree + shrink)) @ counts).tocsr().astype(np.float32)

    def _learn_blend(self, data: Interactions) -> float:
        fit_part, held = split_per_user(data, [0.9, 0.1], seed=self.seed, temporal=True)
        users = np.flatnonzero(np.diff(held.csr().indptr) > 0)
        cap = max(50, TUNING_CELLS // max(data.n_items, 1))  # dense rows of the catalogue per user
        if len(users) > cap:
            users = np.sort(np.random.default_rng(self.seed).choice(users, cap, replace=False))
        trans, content = self._parts_rows([fit_part.history(int(u)) for u in users], self._transitions(fit_part))
        best, best_score = 0.0, -1.0
        for blend in (0.0, 0.25, 1.0, 4.0):
            score = ndcg_at_k(zscore_rows(trans) + blend * zscore_rows(content), fit_part, held, users)
            if score > best_score:
                best, best_score = blend, score
        return best

    def _session_weights(self, histories: list[list[Event]]) -> sp.csr_matrix:
        """Rows = histories; the newest session event weighs 1, the one before 1/2, ... (rows sum to 1)."""
        rows, cols, vals = [], [], []
        for r, events in enumerate(histories):
            session = current_session(events, self.gap, self.max_events)
            if not session:
                continue
            w = 0.5 ** np.arange(len(session))[::-1]
            rows += [r] * len(session)
            cols += [e[0] for e in session]
            vals += list(w / w.sum())
        return sp.csr_matrix((vals, (rows, cols)), shape=(len(histories), self.n_items), dtype=np.float32)

    def _parts_rows(self, histories: list[list[Event]], transitions: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
        weights = self._session_weights(histories)
        trans = (weights @ transitions).toarray().astype(np.float64)
        content = np.zeros_like(trans)
        if self.item_vectors is not None:
            binary = weights.copy()
            binary.data[:] = 1.0
            means = normalise_rows(np.asarray(binary @ self.item_vectors))
            content = (means @ self.item_vectors.T).astype(np.float64)
        empty = np.diff(weights.indptr) == 0
        trans[empty] = np.nan
        content[empty] = np.nan
        return trans, content

    def _score_rows(self, matrix: sp.csr_matrix, users: np.ndarray) -> np.ndarray:
        return self._scores([self.data.history(int(u)) for u in users])

    def _scores(self, histories: list[list[Event]]) -> np.ndarray:
        trans, content = self._parts_rows(histories, self.transitions)
        # transition probabilities and cosines live on different scales: standardise both
        return zscore_rows(trans) + self.blend * zscore_rows(content)

    def _score_events(self, events: list[Event], user: int | None) -> np.ndarray:
        return self._scores([events])[0]

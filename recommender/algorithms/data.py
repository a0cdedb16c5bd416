"""Interaction data shared by every component: id maps, a CSR user x item matrix, timestamps.

Plain numpy/scipy, no Django. Items known from the catalogue but never rated keep a column
(an all-zero one), so new items can still be scored by content and knowledge-graph models.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

# One event of an ad-hoc history: (item index, rating or weight, unix timestamp).
Event = tuple[int, float, int]
History = Sequence[Event]


@dataclass
class Profile:
    """A live user: events plus optional text vectors (review texts, profile interests).

    ``vectors`` are ``(L2-normalised embedding, weight)`` pairs in the item-embedding space;
    ``onboarding`` are item indices picked at sign-up (treated as liked when there is no history).
    """

    events: list[Event] = field(default_factory=list)
    vectors: list[tuple[np.ndarray, float]] = field(default_factory=list)
    onboarding: list[int] = field(default_factory=list)


UserRef = int | History | Profile | None


@dataclass
class Interactions:
    """Ratings of ``n_users`` users on ``n_items`` items (indices into ``user_ids``/``item_ids``)."""

    user_ids: list[str]
    item_ids: list[str]
    users: np.ndarray  # int32 user index per event
    items: np.ndarray  # int32 item index per event
    ratings: np.ndarray  # float32
    timestamps: np.ndarray  # int64
    _user_index: dict[str, int] = field(default_factory=dict, repr=False)
    _item_index: dict[str, int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.users = np.asarray(self.users, dtype=np.int32)
        self.items = np.asarray(self.items, dtype=np.int32)
        self.ratings = np.asarray(self.ratings, dtype=np.float32)
        self.timestamps = np.asarray(self.timestamps, dtype=np.int64)
        self._user_index = {u: i for i, u in enumerate(self.user_ids)}
        self._item_index = {v: i for i, v in enumerate(self.item_ids)}
        self._csr: sp.csr_matrix | None = None
        self._ts_csr: sp.csr_matrix | None = None

    # ------------------------------------------------------------ construction
    @classmethod
    def from_arrays(
        cls,
        users: Sequence[str],
        items: Sequence[str],
        ratings: Sequence[float] | None = None,
        timestamps: Sequence[int] | None = None,
        *,
        all_items: Iterable[str] = (),
        all_users: Iterable[str] = (),
    ) -> Interactions:
        """Build from parallel arrays of external ids; ``all_items`` adds catalogue items."""
        user_ids = list(dict.fromkeys([*all_users, *users]))
        item_ids = list(dict.fromkeys([*all_items, *items]))
        u_index = {u: i for i, u in enumerate(user_ids)}
        i_index = {v: i for i, v in enumerate(item_ids)}
        n = len(users)
        return cls(
            user_ids,
            item_ids,
            np.fromiter((u_index[u] for u in users), dtype=np.int32, count=n),
            np.fromiter((i_index[v] for v in items), dtype=np.int32, count=n),
            np.ones(n, dtype=np.float32) if ratings is None else np.asarray(ratings, dtype=np.float32),
            np.zeros(n, dtype=np.int64) if timestamps is None else np.asarray(timestamps, dtype=np.int64),
        )

    @classmethod
    def from_ratings(cls, ratings: Iterable, *, all_items: Iterable[str] = ()) -> Interactions:
        """Build from ``catalog.datasets.Rating`` tuples (user, item, rating, timestamp)."""
        rows = list(ratings)
        return cls.from_arrays(
            [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows], [r[3] for r in rows],
            all_items=all_items,
        )

    def subset(self, mask: np.ndarray) -> Interactions:
        """The events selected by ``mask`` with the same id maps (shape is kept)."""
        return Interactions(
            self.user_ids, self.item_ids, self.users[mask], self.items[mask],
            self.ratings[mask], self.timestamps[mask],
        )

    # ---------------------------------------------------------------- shapes
    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    def __len__(self) -> int:
        return len(self.users)

    def user_index(self, external_id: str) -> int | None:
        return self._user_index.get(external_id)

    def item_index(self, external_id: str) -> int | None:
        return self._item_index.get(external_id)

    # -------------------------------------------------------------- matrices
    def csr(self) -> sp.csr_matrix:
        """User x item ratings (duplicates: the last one wins)."""
        if self._csr is None:
            self._csr = self._matrix(self.ratings)
        return self._csr

    def timestamp_csr(self) -> sp.csr_matrix:
        if self._ts_csr is None:
            self._ts_csr = self._matrix(self.timestamps.astype(np.float64))
        return self._ts_csr

    def _matrix(self, values: np.ndarray) -> sp.csr_matrix:
        order = np.lexsort((self.timestamps, self.items, self.users))
        u, i, v = self.users[order], self.items[order], values[order]
        keep = np.ones(len(u), dtype=bool)
        if len(u) > 1:
            # keep the last (latest) duplicate of each (user, item)
            keep[:-1] = (u[:-1] != u[1:]) | (i[:-1] != i[1:])
        m = sp.csr_matrix((v[keep], (u[keep], i[keep])), shape=(self.n_users, self.n_items))
        m.sort_indices()
        return m

    def binary(self) -> sp.csr_matrix:
        m = self.csr().copy()
        m.data[:] = 1.0
        return m.astype(np.float32)

    def weighted(self, scheme: str = "binary") -> sp.csr_matrix:
        """Implicit confidence matrix: ``binary``, ``rating`` or ``centered`` (rating above user mean)."""
        m = self.csr().astype(np.float32).copy()
        if scheme == "binary":
            m.data[:] = 1.0
        elif scheme == "centered":
            means = self.user_mean_ratings()
            counts = np.diff(m.indptr)
            m.data = np.clip(1.0 + m.data - np.repeat(means, counts), 0.1, None).astype(np.float32)
        elif scheme != "rating":
            raise ValueError(f"unknown weighting {scheme!r}")
        return m

    def item_counts(self) -> np.ndarray:
        return np.bincount(self.binary().indices, minlength=self.n_items).astype(np.float64)

    def user_counts(self) -> np.ndarray:
        return np.diff(self.csr().indptr).astype(np.float64)

    def user_mean_ratings(self) -> np.ndarray:
        m = self.csr()
        counts = np.diff(m.indptr)
        sums = np.add.reduceat(m.data, m.indptr[:-1]) if m.nnz else np.zeros(self.n_users)
        sums = np.where(counts > 0, sums, 0.0)
        glob = float(m.data.mean()) if m.nnz else 0.0
        return np.where(counts > 0, sums / np.maximum(counts, 1), glob)

    # -------------------------------------------------------------- histories
    def history(self, user: int) -> list[Event]:
        """A trained user's events, oldest first."""
        m, t = self.csr(), self.timestamp_csr()
        lo, hi = m.indptr[user], m.indptr[user + 1]
        columns = zip(m.indices[lo:hi], m.data[lo:hi], t.data[lo:hi], strict=True)
        events = [(int(i), float(r), int(ts)) for i, r, ts in columns]
        return sorted(events, key=lambda e: e[2])

    def seen(self, user: int) -> np.ndarray:
        m = self.csr()
        return m.indices[m.indptr[user]:m.indptr[user + 1]]


def one_event_per_item(events: Sequence[tuple[int, float, int, bool]]) -> dict[int, tuple[int, int]]:
    """How a (user, item) pair counts once, in training and in a live history alike.

    ``events`` are ``(item, value, timestamp, explicit)``. Per item: the position of the event
    that gives its value (the user's own rating when there is one, else the strongest implicit
    signal, the newest on a tie) and the time of the item's newest event.
    """
    out: dict[int, tuple[int, int]] = {}
    for position, (item, value, ts, explicit) in enumerate(events):
        old = out.get(item)
        if old is None:
            out[item] = (position, ts)
            continue
        _, w_value, w_ts, w_explicit = events[old[0]]
        if (explicit, value, ts) > (w_explicit, w_value, w_ts):
            old = (position, old[1])
        out[item] = (old[0], max(old[1], ts))
    return out


def resolve_history(data: Interactions | None, user_or_history: UserRef) -> list[Event]:
    """The events of a trained user index or of an ad-hoc history; unknown users give ``[]``.

    Items outside ``0..n_items-1`` are dropped, so a history from a newer catalogue is safe.
    """
    if user_or_history is None or data is None:
        return []
    if isinstance(user_or_history, Profile):
        events = list(user_or_history.events)
        if not events:
            events = [(int(i), 1.0, 0) for i in user_or_history.onboarding]
        return resolve_history(data, events)
    if isinstance(user_or_history, (int, np.integer)):
        user = int(user_or_history)
        return data.history(user) if 0 <= user < data.n_users else []
    events = []
    for event in user_or_history:
        item = int(event[0])
        weight = float(event[1]) if len(event) > 1 else 1.0
        ts = int(event[2]) if len(event) > 2 else 0
        if 0 <= item < data.n_items:
            events.append((item, weight, ts))
    return sorted(events, key=lambda e: e[2])


def split_per_user(
    data: Interactions, ratios: Sequence[float], *, seed: int = 0, temporal: bool = False
) -> list[Interactions]:
    """Split each user's events by ``ratios`` (RecBole's ``RS`` rule: later parts get
    ``int(ratio * n)`` events, at least one while the first part keeps two; the rest stays first).

    ``temporal`` orders each user's events by time (the last ones are held out), else randomly.
    """
    rng = np.random.default_rng(seed)
    part = np.zeros(len(data), dtype=np.int8)
    order = np.argsort(data.users, kind="stable")
    bounds = np.flatnonzero(np.diff(data.users[order])) + 1
    for group in np.split(order, bounds):
        if len(group) == 0:
            continue
        group = group[np.argsort(data.timestamps[group], kind="stable")] if temporal else rng.permutation(group)
        n = len(group)
        counts = [int(r * n) for r in ratios]
        counts[0] = n - sum(counts[1:])
        for j in range(1, len(ratios)):
            if counts[0] <= 1:
                break
            if 0 < ratios[-j] * n < 1:
                counts[-j] += 1
                counts[0] -= 1
        start = 0
        for p, c in enumerate(counts):
            part[group[start:start + c]] = p
            start += c
    return [data.subset(part == p) for p in range(len(ratios))]

"""Hybrid: candidates from several generators, re-ranked by a learned model.

Stage 1: each generator's top ``candidates_per_generator`` unseen items are pooled.
Stage 2: per (user, candidate) features - every component's score and rank (BPMF's predicted
rating among them: a feature, not a generator), item popularity,
trending, mean rating, the gap between the user's and the item's typical time, and the user's
activity level (never demographics) - go into a ranker trained on a validation split: LightGBM
lambdarank when installed, else logistic regression. Per-feature contributions (LightGBM
``pred_contrib``, or weight x feature) are summed per signal for faithful explanations.

Cold start: some validation users are shown to the ranker with a history cut to 1-3 events,
so it learns how to weigh content / knowledge graph / session when activity is low (the items
cut away are left out of their rows: they are unknown to such a user, not disliked). A user
with no history at all gets the profile-interest vector's content score plus trending.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Self

import numpy as np
import scipy.sparse as sp

from .base import Recommender, is_large_catalog, ranks_at, top_k, top_k_rows, zscore_at, zscore_rows
from .content import Content
from .data import Event, Interactions, Profile, UserRef, resolve_history
from .factorization import ALS, _threads
from .knowledge import KnowledgeGraph
from .neighbors import EASE, ItemKNN, TemporalItemKNN
from .popularity import Popularity, TimePopularity, Trending
from .rating import BPMF
from .session import Session
from .tuning import holdout

COLD_SHARE = 0.2  # share of validation users also shown with a truncated history
MAX_COLD_EVENTS = 3
CANDIDATES_PER_GENERATOR = 30
MAX_TRAIN_USERS = 3000
# Per-user features take a dense row of every component's scores over the catalogue: the
# ranker's training users are capped so users x items stays below TRAIN_CELLS (1,000 users at
# 300K items, at least 500), and they are featurised FEATURE_CELLS at a time (the results do
# not depend on it). ML-100K's 943 users are all kept.
TRAIN_CELLS = 300_000_000
FEATURE_CELLS = 20_000_000

DEFAULT_COMPONENTS: dict[str, Callable[..., Recommender]] = {
    "ease": EASE, "itemknn": ItemKNN, "tknn": TemporalItemKNN, "als": ALS, "content": Content,
    "kg": KnowledgeGraph, "session": Session, "pop": Popularity, "trending": Trending, "timepop": TimePopularity,
    "bpmf": BPMF,
}
GENERATORS = ("ease", "itemknn", "tknn", "als", "content", "kg", "session", "pop", "timepop")
# which features make up each explained signal
ITEM_FEATURES = ("item_log_pop", "item_trending", "item_mean_rating", "time_gap", "item_new_after_user",
                 "item_gone_before_user")
USER_FEATURES = ("user_activity", "user_mean_rating")
SIGNAL_OF_FEATURE = {
    "item_log_pop": "pop", "item_trending": "trending", "item_mean_rating": "rating",
    "time_gap": "timing", "item_new_after_user": "timing", "item_gone_before_user": "timing",
    "user_activity": "activity", "user_mean_rating": "activity",
}


def usable(name: str, side_info: dict[str, Any], n_items: int = 0) -> bool:
    """Whether a component has the side information it needs (content: vectors, kg: facts) and
    fits the catalogue (EASE inverts a dense items x items matrix, BPMF's 80 Gibbs sweeps each
    invert a d x d matrix per item and user: neither above LARGE_CATALOG_ITEMS)."""
    if name in {"ease", "bpmf"}:
        return not is_large_catalog(n_items)
    if name == "content":
        return side_info.get("item_vectors") is not None
    if name == "kg":
        return bool(side_info.get("kg"))
    return True


@dataclass
class _Batch:
    """Features of many (user, item) pairs; ``rows`` index the batch's users."""

    rows: np.ndarray
    items: np.ndarray
    features: np.ndarray
    pool: np.ndarray | None = None  # per pair: a candidate of the pool (not only an ``also`` item)


class Hybrid(Recommender):
    name = "hybrid"

    def __init__(self, components: Sequence[str] | None = None, ranker: str = "auto",
                 candidates_per_generator: int = CANDIDATES_PER_GENERATOR, extra_folds: int = 0,
                 seed: int = 0, num_threads: int | None = None) -> None:
        self.component_names = list(components or DEFAULT_COMPONENTS)
        self.ranker_kind, self.candidates_per_generator = ranker, candidates_per_generator
        self.seed, self.num_threads, self.extra_folds = seed, num_threads, extra_folds

    # ------------------------------------------------------------------ fitting
    def _make(self, name: str) -> Recommender:
        factory = DEFAULT_COMPONENTS[name]
        kwargs: dict[str, Any] = {}
        if name in {"ease", "itemknn", "tknn", "als", "bpr", "kg", "session", "bpmf"}:
            kwargs["seed"] = self.seed
        if name in {"als", "bpr"}:
            kwargs["num_threads"] = self.num_threads
        return factory(**kwargs)


    def fit(self, data: Interactions, validation: Interactions | None = None,
            fitted: dict[str, Recommender] | None = None, **side_info: Any) -> Self:
        """Fit components on ``data`` and the ranker on ``validation``.

        Without ``validation`` a random 10% per user is held out of ``data`` for the ranker and
        the components are refitted on all of ``data`` afterwards. ``fitted`` reuses components
        already trained on ``data`` (the offline evaluation does, to count training once).
        """
        names = [n for n in self.component_names if usable(n, side_info, data.n_items)]
        refit = validation is None
        train = data
        if refit:
            train, validation = holdout(data, self.seed)
            fitted = None
        rng = np.random.default_rng(self.seed)
        groups = []
        for fold in range(self.extra_folds):
            # more labels: a hold-out of the training data itself, with components fitted on the rest
            inner_train, inner_held = holdout(train, self.seed + 1 + fold)
            self._use({n: self._make(n).fit(inner_train, **side_info) for n in names}, inner_train)
            groups += self._training_groups(inner_train, inner_held, rng)
        self._use({n: (fitted or {}).get(n) or self._make(n).fit(train, **side_info) for n in names}, train)
        groups += self._training_groups(train, validation, rng)
        self._fit_ranker(groups, rng)
        if refit:
            # refit on all data with the hyper-parameters the hold-out fit chose (no second tuning)
            self._use({n: self.components[n].frozen().fit(data, **side_info) for n in names}, data)
        return self

    def _use(self, components: dict[str, Recommender], data: Interactions) -> None:
        content, session = components.get("content"), components.get("session")
        if (content is not None and getattr(session, "item_vectors", None) is not None
                and np.array_equal(session.item_vectors, content.item_vectors)):
            # one copy of the normalised vectors in memory and in the artifact (1.5 GB at 1M items)
            session.item_vectors = content.item_vectors
        self.components, self.data = components, data
        self._prepare_item_stats(data)

    def _prepare_item_stats(self, data: Interactions) -> None:
        counts = data.item_counts()
        r = data.csr()
        sums = np.bincount(r.indices, weights=r.data, minlength=data.n_items)
        glob = float(r.data.mean()) if r.nnz else 0.0
        prior = max(float(np.mean(counts[counts > 0])) if (counts > 0).any() else 1.0, 1.0)
        self.item_mean_rating = (sums + prior * glob) / (counts + prior)
        ts = data.timestamps.astype(np.float64)
        self.time_span = max(float(ts.max() - ts.min()), 1.0) if len(ts) else 1.0
        tsum = np.bincount(data.items, weights=ts, minlength=data.n_items)
        self.item_mean_time = np.where(counts > 0, tsum / np.maximum(counts, 1), np.nan)
        self.item_first_time = np.full(data.n_items, np.nan)
        self.item_last_time = np.full(data.n_items, np.nan)
        if len(ts):
            np.fmin.at(self.item_first_time, data.items, ts)
            np.fmax.at(self.item_last_time, data.items, ts)
        self.feature_names = [f"{n}_{kind}" for n in self.components for kind in ("score", "rank", "raw")]
        self.feature_names += [*ITEM_FEATURES, *USER_FEATURES]

    # ----------------------------------------------------------------- features
    def _component_scores(self, refs: list[UserRef]) -> dict[str, np.ndarray]:
        trained = all(isinstance(r, (int, np.integer)) for r in refs)
        out = {}
        for name, comp in self.components.items():
            if trained:
                out[name] = comp.score_users(np.asarray(refs, dtype=np.int64))
            else:
                out[name] = np.vstack([comp.score(r) for r in refs]) if refs else np.zeros((0, self.n_items))
        return out

    def _features(self, refs: list[UserRef], histories: list[list[Event]],
                  candidates: np.ndarray | None, also: np.ndarray | None = None
                  ) -> tuple[_Batch, dict[str, np.ndarray]]:
        """Features for each ref's candidate items (``candidates``: (n, n_items) mask or ``None`` =
        pool), and for the items ``also`` names (marked outside the pool in ``_Batch.pool``; an
        item's features do not depend on what else is scored)."""
        scores = self._component_scores(refs)
        n = len(refs)
        seen = np.zeros((n, self.n_items), dtype=bool)
        for r, events in enumerate(histories):
            seen[r, [e[0] for e in events]] = True
        if candidates is None:
            candidates = np.zeros((n, self.n_items), dtype=bool)
            for name in GENERATORS:
                if name in scores:
                    masked = np.where(seen, -np.inf, scores[name])
                    top = top_k_rows(masked, self.candidates_per_generator)
                    ok = np.isfinite(np.take_along_axis(masked, top, axis=1))
                    candidates[np.repeat(np.arange(n), top.shape[1])[ok.ravel()], top.ravel()[ok.ravel()]] = True
            candidates &= ~seen
        pool = None
        if also is not None:
            pool = candidates
            candidates = candidates.copy()
            candidates[:, also] = True
            candidates &= ~seen
        rows, items = np.nonzero(candidates)
        cols = []
        for name in self.components:
            s = np.where(seen, np.nan, scores[name])
            filled = np.where(np.isnan(s), -np.inf, s)
            if is_large_catalog(self.n_items):
                # the same ranks, without sorting (and holding) whole rows of the catalogue
                bounds = np.searchsorted(rows, np.arange(n + 1))
                ranks_wanted = np.concatenate([ranks_at(filled[r], items[bounds[r]:bounds[r + 1]])
                                               for r in range(n)]) if n else np.zeros(0, dtype=np.int64)
            else:
                order = np.argsort(-filled, axis=1, kind="stable")
                ranks = np.empty_like(order)
                np.put_along_axis(ranks, order, np.arange(self.n_items)[None].repeat(n, 0), axis=1)
                ranks_wanted = ranks[rows, items]
            rank_feature = np.log2(2.0 + ranks_wanted).astype(np.float64)
            rank_feature[np.isnan(s[rows, items])] = np.nan
            cols += [zscore_at(s, rows, items), rank_feature]
            # z-score and rank place an item within the user's list; the raw score keeps how strong
            # the signal is in absolute terms (models saved before it had no such column)
            if f"{name}_raw" in self.feature_names:
                cols.append(s[rows, items])
        activity = np.array([np.log1p(len(h)) for h in histories])
        mean_rating = np.array([np.mean([e[1] for e in h]) if h else np.nan for h in histories])
        mean_time = np.array([np.mean([e[2] for e in h]) if h else np.nan for h in histories])
        pop = np.log1p(self.components["pop"].item_scores) if "pop" in self.components else np.zeros(self.n_items)
        trend = self.components["trending"].item_scores if "trending" in self.components else np.zeros(self.n_items)
        first_time = np.array([min(e[2] for e in h) if h else np.nan for h in histories])
        last_time = np.array([max(e[2] for e in h) if h else np.nan for h in histories])
        time_gap = np.abs(mean_time[rows] - self.item_mean_time[items]) / self.time_span
        new_after = (self.item_first_time[items] - last_time[rows]) / self.time_span
        gone_before = (first_time[rows] - self.item_last_time[items]) / self.time_span
        cols += [pop[items], trend[items], self.item_mean_rating[items], time_gap, new_after, gone_before,
                 activity[rows], mean_rating[rows]]
        return _Batch(rows, items, np.column_stack(cols).astype(np.float32),
                      None if pool is None else pool[rows, items]), scores

    # ------------------------------------------------------------------ ranker
    def _training_groups(self, train: Interactions, validation: Interactions,
                         rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
        """(features, labels) per validation user, plus copies of some users with a cut history."""
        val = validation.binary()
        users = np.flatnonzero(np.diff(val.indptr) > 0)
        users = users[users < train.n_users]
        cap = min(MAX_TRAIN_USERS, max(500, TRAIN_CELLS // max(train.n_items, 1)))
        if len(users) > cap:
            users = rng.choice(users, cap, replace=False)
        refs: list[UserRef] = [int(u) for u in users]
        parts = [(self._features_chunked(refs, [train.history(int(u)) for u in users]), users)]
        cold = rng.choice(users, int(len(users) * COLD_SHARE), replace=False) if len(users) > 4 else users[:0]
        cold_histories = []
        for u in cold:
            h = train.history(int(u))
            keep = rng.choice(len(h), min(len(h), int(rng.integers(1, MAX_COLD_EVENTS + 1))), replace=False)
            cold_histories.append([h[i] for i in sorted(keep)])
        if len(cold):
            parts.append((self._features_chunked(cold_histories, cold_histories), cold))
        known = train.binary()
        return [group for batch, batch_users in parts for group in _labelled_groups(batch, batch_users, val, known)]

    def _users_per_batch(self) -> int:
        """Users featurised at once: each component's dense rows of a batch are held together,
        so at most FEATURE_CELLS users x items (20 users at 1M items; the results do not depend on it)."""
        return max(1, FEATURE_CELLS // max(self.n_items, 1))

    def _features_chunked(self, refs: list[UserRef], histories: list[list[Event]]) -> _Batch:
        """:meth:`_features` over the candidate pool, :meth:`_users_per_batch` users at a time."""
        step = self._users_per_batch()
        if len(refs) <= step:
            return self._features(refs, histories, None)[0]
        batches = [self._features(refs[i:i + step], histories[i:i + step], None)[0]
                   for i in range(0, len(refs), step)]
        return _Batch(np.concatenate([b.rows + i * step for i, b in enumerate(batches)]),
                      np.concatenate([b.items for b in batches]), np.vstack([b.features for b in batches]))

    def _fit_ranker(self, groups: list[tuple[np.ndarray, np.ndarray]], rng: np.random.Generator) -> None:
        order = rng.permutation(len(groups))  # mix users and folds before the early-stopping cut
        x = np.vstack([groups[i][0] for i in order])
        y = np.concatenate([groups[i][1] for i in order])
        sizes = np.array([len(groups[i][1]) for i in order])
        self.ranker = _make_ranker(self.ranker_kind, self.seed, self.num_threads)
        self.ranker.fit(x, y, sizes)

    # ------------------------------------------------------------------ scoring
    def _fallback(self, ref: UserRef) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """No history: profile-interest content score (if any) + trending, as per-signal parts."""
        parts = {}
        trend = self.components.get("trending") or self.components.get("pop")
        if trend is not None:
            parts["trending"] = zscore_rows(trend.item_scores[None])[0]
        if isinstance(ref, Profile) and ref.vectors and "content" in self.components:
            parts["content"] = np.nan_to_num(zscore_rows(self.components["content"].score(ref)[None])[0])
        total = np.sum(list(parts.values()), axis=0) if parts else np.full(self.n_items, np.nan)
        return total, parts

    def _score_batch(self, ref: UserRef, items: np.ndarray | None) -> tuple[_Batch, np.ndarray, np.ndarray]:
        history = resolve_history(self.data, ref)
        mask = None
        if items is not None:
            mask = np.zeros((1, self.n_items), dtype=bool)
            mask[0, items] = True
        batch, _ = self._features([ref], [history], mask)
        contrib = self.ranker.contributions(batch.features)
        return batch, contrib[:, :-1], contrib.sum(axis=1)

    def score(self, user_or_history: UserRef, items: Sequence[int] | np.ndarray | None = None) -> np.ndarray:
        all_items = np.arange(self.n_items)
        wanted = all_items if items is None else np.asarray(items, dtype=np.int64)
        ok = (wanted >= 0) & (wanted < self.n_items)
        out = np.full(len(wanted), np.nan)
        if not resolve_history(self.data, user_or_history):
            total, _ = self._fallback(user_or_history)
            out[ok] = total[wanted[ok]]
            return out
        batch, _c, total = self._score_batch(user_or_history, wanted[ok])
        full = np.full(self.n_items, np.nan)
        full[batch.items] = total
        out[ok] = full[wanted[ok]]
        return out

    def _score_events(self, events: list[Event], user: int | None) -> np.ndarray:
        return self.score(events if user is None else user)  # so score_users works: one user at a time

    def recommend(self, user_or_history: UserRef, k: int = 10,
                  exclude: Sequence[int] | np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` of the candidate pool (the two-stage result)."""
        history = resolve_history(self.data, user_or_history)
        if exclude is None:
            exclude = [e[0] for e in history]
        if not history:
            return top_k(self._fallback(user_or_history)[0], k, exclude)
        batch, _c, total = self._score_batch(user_or_history, None)
        full = np.full(self.n_items, np.nan)
        full[batch.items] = total
        return top_k(full, k, exclude)

    def recommend_explained(self, user_or_history: UserRef, k: int = 10,
                            exclude: Sequence[int] | np.ndarray | None = None, explain_top: int = 50
                            ) -> tuple[np.ndarray, np.ndarray, dict[int, dict[str, float]]]:
        """:meth:`recommend` plus the per-signal contributions of the best ``explain_top`` of
        them, from the same pass over the features (serving explains what it shows without
        scoring twice; contributions cost more than scores, so only the head gets them)."""
        idx, scores, contributions, _ = self.recommend_explained_also(user_or_history, k, exclude, explain_top)
        return idx, scores, contributions

    def recommend_explained_also(self, user_or_history: UserRef, k: int = 10,
                                 exclude: Sequence[int] | np.ndarray | None = None, explain_top: int = 50,
                                 also: Sequence[int] | None = None
                                 ) -> tuple[np.ndarray, np.ndarray, dict[int, dict[str, float]], np.ndarray]:
        """:meth:`recommend_explained`, and the scores of the items ``also`` names (NaN for the
        user's own), from the same pass and equal to :meth:`score`'s, without ranking them:
        the top ``k`` come from the candidate pool alone."""
        history = resolve_history(self.data, user_or_history)
        extra = np.asarray(also if also is not None else [], dtype=np.int64)
        if exclude is None:
            exclude = [e[0] for e in history]
        if not history:
            total, parts = self._fallback(user_or_history)
            idx, scores = top_k(total, k, exclude)
            return (idx, scores, {int(i): {name: float(v[i]) for name, v in parts.items()} for i in idx},
                    total[extra])
        batch, _ = self._features([user_or_history], [history], None, also=extra if len(extra) else None)
        predicted = self.ranker.predict(batch.features)
        everything = np.full(self.n_items, np.nan)
        everything[batch.items] = predicted
        full = everything
        if batch.pool is not None:
            full = np.full(self.n_items, np.nan)
            full[batch.items[batch.pool]] = predicted[batch.pool]
        idx, scores = top_k(full, k, exclude)
        row_of = {int(item): row for row, item in enumerate(batch.items)}
        head = [int(i) for i in idx[:explain_top]]
        contrib = self.ranker.contributions(batch.features[[row_of[i] for i in head]])
        explained = {i: self._signals(contrib[n, :-1], contrib[n].sum()) for n, i in enumerate(head)}
        return idx, scores, explained, everything[extra]

    def recommend_users(self, users: np.ndarray, k: int, batch_size: int = 256,
                        exclude: list[np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` (item indices, scores) of many trained users; rows padded with -1 / NaN.
        At most :meth:`_users_per_batch` users per batch (100 users x 1M items x 8 components
        in one batch was 6.4 GB)."""
        batch_size = min(batch_size, self._users_per_batch())
        out = np.full((len(users), k), -1, dtype=np.int64)
        out_scores = np.full((len(users), k), np.nan)
        for start in range(0, len(users), batch_size):
            chunk = [int(u) for u in users[start:start + batch_size]]
            histories = [self.data.history(u) for u in chunk]
            batch, _ = self._features(chunk, histories, None)
            full = np.full((len(chunk), self.n_items), -np.inf)
            full[batch.rows, batch.items] = self.ranker.predict(batch.features)
            for r in range(len(chunk)):
                if exclude is not None:
                    full[r, exclude[start + r]] = -np.inf
                idx, scores = top_k(full[r], k)
                out[start + r, :len(idx)] = idx
                out_scores[start + r, :len(idx)] = scores
        return out, out_scores

    def item_audience(self, item: int, users: np.ndarray | None = None, batch_size: int = 256,
                      progress: Callable[[int], object] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Where ``item`` stands for each trained user (all by default): (users, ranks, scores)
        of those who do not have it in their history. The rank is 1 + how many of the user's
        candidates (the pool :meth:`recommend` ranks) score above it: the place it would take in
        their list. The scores are :meth:`score`'s; batches as :meth:`recommend_users`, each
        reported to ``progress`` (how many users it weighed)."""
        users = np.arange(self.data.n_users) if users is None else np.asarray(users, dtype=np.int64)
        batch_size = min(batch_size, self._users_per_batch())
        ranks = np.zeros(len(users), dtype=np.int64)
        scores = np.full(len(users), np.nan)
        for start in range(0, len(users), batch_size):
            chunk = [int(u) for u in users[start:start + batch_size]]
            batch, _ = self._features(chunk, [self.data.history(u) for u in chunk], None,
                                      also=np.array([item], dtype=np.int64))
            predicted = self.ranker.predict(batch.features)
            is_item = batch.items == item
            own = np.full(len(chunk), np.nan)
            own[batch.rows[is_item]] = predicted[is_item]
            rivals = batch.pool & ~is_item
            above = np.zeros(len(chunk), dtype=np.int64)
            np.add.at(above, batch.rows[rivals], predicted[rivals] > own[batch.rows[rivals]])
            ranks[start:start + len(chunk)] = above + 1
            scores[start:start + len(chunk)] = own
            if progress is not None:
                progress(len(chunk))
        keep = np.isfinite(scores)
        return users[keep], ranks[keep], scores[keep]

    def score_new_items(self, user_or_history: UserRef, values: Sequence[float] | np.ndarray,
                        ranked_scores: np.ndarray, signal: str = "content") -> np.ndarray:
        """Scores, on the ranker's scale, of items newer than the model, from one component's
        ``values`` for them: ``content``, their cosine similarities to the user's taste (as
        pgvector returns them); ``kg``, :meth:`.KnowledgeGraph.score_facts` of their facts.

        The ranker cannot score them itself: it learned from items with interactions, and for
        an item with none (popularity 0, no collaborative scores) its output is an
        extrapolation (measured on ML-100K: -5, far below any feed, and not even monotone in
        content similarity). So they are placed by rank: an item whose value beats all but r of
        the component's scores of the catalogue's unseen items gets the (r+1)-th best of
        ``ranked_scores`` (the user's scores from :meth:`recommend`, best first); NaN past their
        end, or without a history or the component."""
        out = np.full(len(values), np.nan)
        rank = self._new_item_ranks(user_or_history, values, len(ranked_scores), signal)
        ok = rank >= 0
        out[ok] = np.asarray(ranked_scores, dtype=np.float64)[rank[ok]]
        return out

    def _new_item_ranks(self, user_or_history: UserRef, values: Sequence[float] | np.ndarray, m: int,
                        signal: str) -> np.ndarray:
        """For items newer than the model, from ``signal``'s ``values`` for them: how many of
        the catalogue's unseen items the component scores above each (the 0-based place
        :meth:`score_new_items` gives it), or -1 when m or more do, or without a value, a history
        or the component."""
        history = resolve_history(self.data, user_or_history)
        component = self.components.get(signal)
        if not history or component is None:
            return np.full(len(values), -1, dtype=np.int64)
        return _places(component.score(user_or_history), [e[0] for e in history], values, m)

    def new_item_audience(self, vector: np.ndarray | None, facts: Sequence[tuple[str, str]] = (), k: int = 100,
                          users: np.ndarray | None = None, batch_size: int = 256,
                          progress: Callable[[int], object] | None = None
                          ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str], np.ndarray]:
        """:meth:`item_audience` for an item newer than the model, placed as a feed places it
        (:meth:`score_new_items`): by content (``vector``, its embedding, against the user's
        taste) or by the knowledge graph (its ``facts``, when the user's items share one),
        whichever places it higher among the user's ``k`` best candidates (the feed's pool).
        (users, ranks, scores, signals, similarities) of the users it would enter the pool of;
        the score is the candidate's whose place it takes, the signal the one that placed it,
        the similarity its vector's cosine with the user's taste (NaN without): unlike the
        scores, comparable between users who give it the same place."""
        users = np.arange(self.data.n_users) if users is None else np.asarray(users, dtype=np.int64)
        batch_size = min(batch_size, self._users_per_batch())
        content, kg = self.components.get("content"), self.components.get("kg")
        unit = None
        if vector is not None and content is not None and np.linalg.norm(vector) > 0:
            unit = np.asarray(vector, dtype=np.float64) / np.linalg.norm(vector)
        fact_row = kg.fact_rows([list(facts)]) if kg is not None and len(facts) else None
        if fact_row is not None and fact_row.nnz == 0:
            fact_row = None
        kept: list[tuple[int, int, float, str, float]] = []
        for start in range(0, len(users), batch_size):
            chunk = users[start:start + batch_size]
            _idx, ranked = self.recommend_users(chunk, k=k, batch_size=batch_size)
            histories = [self.data.history(int(u)) for u in chunk]
            by_facts = (np.full(len(chunk), np.nan) if fact_row is None
                        else kg.score_fact_rows(histories, fact_row)[:, 0])
            shares = np.flatnonzero(by_facts > 0)  # no shared fact, no evidence: a feed does not place it either
            kg_rows = dict(zip(shares.tolist(), kg.score_users(chunk[shares]) if len(shares) else [], strict=True))
            for r, (u, events, scores) in enumerate(zip(chunk, histories, ranked, strict=True)):
                scores, seen = scores[np.isfinite(scores)], [e[0] for e in events]
                places, similarity = [], np.nan
                taste = content.taste_vector(events) if unit is not None and events else None
                if taste is not None:
                    similarity = float(taste @ unit)
                    places.append((_places(content.score(events), seen, [similarity], len(scores))[0], "content"))
                if r in kg_rows:
                    places.append((_places(kg_rows[r], seen, [by_facts[r]], len(scores))[0], "kg"))
                placed = [(rank, signal) for rank, signal in places if rank >= 0]
                if placed:
                    rank, signal = min(placed, key=lambda p: p[0])
                    kept.append((int(u), int(rank) + 1, float(scores[rank]), signal, similarity))
            if progress is not None:
                progress(len(chunk))
        columns = list(zip(*kept, strict=True)) or [(), (), (), (), ()]
        return (np.array(columns[0], dtype=np.int64), np.array(columns[1], dtype=np.int64),
                np.array(columns[2], dtype=np.float64), list(columns[3]), np.array(columns[4], dtype=np.float64))

    # -------------------------------------------------------------- explaining
    def signal_contributions(self, user_or_history: UserRef, item: int) -> dict[str, float]:
        """Per-signal additive contributions to ``item``'s score (they sum to :meth:`score`)."""
        return self.signal_contributions_many(user_or_history, [item])[int(item)]

    def signal_contributions_many(self, user_or_history: UserRef, items: Sequence[int]) -> dict[int, dict[str, float]]:
        """:meth:`signal_contributions` of several items in one pass over the features."""
        items = np.asarray(items, dtype=np.int64)
        if not resolve_history(self.data, user_or_history):
            _total, parts = self._fallback(user_or_history)
            return {int(i): {name: float(v[i]) for name, v in parts.items()} for i in items}
        batch, contrib, total = self._score_batch(user_or_history, items)
        return {int(item): self._signals(contrib[row], total[row]) for row, item in enumerate(batch.items)}

    def _signals(self, contrib: np.ndarray, total: float) -> dict[str, float]:
        """Feature contributions summed per signal, plus the constant as ``baseline``."""
        signals: dict[str, float] = {"baseline": float(total - contrib.sum())}
        for name, value in zip(self.feature_names, contrib, strict=True):
            signal = SIGNAL_OF_FEATURE.get(name, name.rsplit("_", 1)[0])
            signals[signal] = signals.get(signal, 0.0) + float(value)
        return signals


def _places(row: np.ndarray, seen: list[int], values: Sequence[float] | np.ndarray, m: int) -> np.ndarray:
    """For new items' ``values`` on the scale of a component's ``row`` (its scores of the
    catalogue): how many of the unseen (not ``seen``) items' scores beat each, the 0-based place
    it takes among them; -1 when m or more do, or without a value."""
    values = np.asarray(values, dtype=np.float64)
    out = np.full(len(values), -1, dtype=np.int64)
    if not len(values) or not m:
        return out
    row = np.array(row, dtype=np.float64)
    row[seen] = np.nan
    row = row[~np.isnan(row)]
    # only the m best values matter: a rank of m or more gets no place
    best = np.sort(np.partition(row, len(row) - m)[len(row) - m:]) if len(row) > m else np.sort(row)
    rank = len(best) - np.searchsorted(best, values, side="right")  # how many beat each
    ok = np.isfinite(values) & (rank < m)
    out[ok] = rank[ok]
    return out


def _labelled_groups(batch: _Batch, users: np.ndarray, validation: sp.csr_matrix, known: sp.csr_matrix
                     ) -> list[tuple[np.ndarray, np.ndarray]]:
    """(features, labels) per user of ``batch`` (its ``rows`` index ``users``) with a positive:
    the user's ``validation`` items are the positives. The user's ``known`` (training) items
    are left out: for a history cut to simulate a new user they are positives hidden from it,
    not negatives (a real new user's next items are unknown, not disliked)."""
    labels = np.asarray(validation[users][batch.rows, batch.items]).ravel() > 0
    hidden = np.asarray(known[users][batch.rows, batch.items]).ravel() > 0
    bounds = np.searchsorted(batch.rows, np.arange(len(users) + 1))
    out = []
    for r in range(len(users)):
        sel = np.arange(bounds[r], bounds[r + 1])
        sel = sel[~hidden[sel]]
        if labels[sel].any():
            out.append((batch.features[sel], labels[sel].astype(np.float32)))
    return out


# ------------------------------------------------------------------- rankers
# Small, strongly regularised trees: a validation split holds few positives per user.
LIGHTGBM_PARAMS: dict[str, Any] = dict(
    objective="binary", learning_rate=0.05, num_leaves=7, min_child_samples=200, max_bin=63,
    subsample=0.8, subsample_freq=1, colsample_bytree=0.8,
)

class _LightGBMRanker:
    def __init__(self, seed: int, num_threads: int | None) -> None:
        self.seed, self.num_threads = seed, num_threads

    def fit(self, x: np.ndarray, y: np.ndarray, groups: np.ndarray) -> None:
        import lightgbm as lgb

        # the last fifth of the query groups decides when to stop adding trees
        n_val = max(1, len(groups) // 5)
        cut = int(groups[:-n_val].sum())
        params = dict(LIGHTGBM_PARAMS, random_state=self.seed, n_jobs=_threads(self.num_threads),
                      deterministic=True, force_row_wise=True, verbose=-1)
        model = lgb.LGBMRanker(n_estimators=1000, **params)
        model.fit(x[:cut], y[:cut], group=groups[:-n_val], eval_X=(x[cut:],), eval_y=(y[cut:],), eval_at=[10],
                  eval_group=[groups[-n_val:]], callbacks=[lgb.early_stopping(50, verbose=False)])
        self.booster = model.booster_
        self.best_iteration = int(model.best_iteration_ or model.n_estimators)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Raw scores (log-odds): the scale on which :meth:`contributions` add up."""
        if not len(x):
            return np.zeros(0)
        return np.asarray(self.booster.predict(x, num_iteration=self.best_iteration, raw_score=True))

    def contributions(self, x: np.ndarray) -> np.ndarray:
        """(n, n_features + 1): per-feature SHAP contributions and the bias last."""
        if len(x) == 0:
            return np.zeros((0, x.shape[1] + 1))
        return np.asarray(self.booster.predict(x, num_iteration=self.best_iteration, pred_contrib=True))

    def __getstate__(self) -> dict[str, Any]:
        return {"seed": self.seed, "num_threads": self.num_threads, "best_iteration": self.best_iteration,
                "model": self.booster.model_to_string()}

    def __setstate__(self, state: dict[str, Any]) -> None:
        import lightgbm as lgb

        self.seed, self.num_threads, self.best_iteration = state["seed"], state["num_threads"], state["best_iteration"]
        self.booster = lgb.Booster(model_str=state["model"])


class _LogisticRanker:
    """Fallback: logistic regression on standardised features (NaN = the feature's mean)."""

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def _prepare(self, x: np.ndarray) -> np.ndarray:
        return np.nan_to_num((x - self.mean) / self.scale, nan=0.0)

    def fit(self, x: np.ndarray, y: np.ndarray, groups: np.ndarray) -> None:
        from sklearn.linear_model import LogisticRegression

        self.mean = np.nanmean(x, axis=0)
        self.mean = np.where(np.isnan(self.mean), 0.0, self.mean)
        sd = np.nanstd(x, axis=0)
        self.scale = np.where((sd > 0) & ~np.isnan(sd), sd, 1.0)
        model = LogisticRegression(C=1.0, max_iter=500, random_state=self.seed)
        model.fit(self._prepare(x), y)
        self.coef, self.intercept = model.coef_[0], float(model.intercept_[0])

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self._prepare(x) @ self.coef + self.intercept

    def contributions(self, x: np.ndarray) -> np.ndarray:
        parts = self._prepare(x) * self.coef
        return np.column_stack([parts, np.full(len(x), self.intercept)])


def lightgbm_available() -> bool:
    try:
        import lightgbm  # noqa: F401
    except ImportError:
        return False
    return True


def _make_ranker(kind: str, seed: int, num_threads: int | None) -> _LightGBMRanker | _LogisticRanker:
    if kind == "lightgbm" or (kind == "auto" and lightgbm_available()):
        return _LightGBMRanker(seed, num_threads)
    if kind in {"auto", "logistic"}:
        return _LogisticRanker(seed)
    raise ValueError(f"unknown ranker {kind!r}")


__all__ = ["Hybrid", "lightgbm_available", "usable"]

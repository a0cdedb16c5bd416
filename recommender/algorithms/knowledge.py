"""Knowledge-graph scoring: items that share entities with the user's liked items.

Each (relation, entity) is a feature weighted by the relation's weight and the entity's
rarity (IDF). Relation weights are learned on an internal hold-out: each relation alone ranks
held-out items, and its weight is how much better than chance it does (so ``genre`` or
``language`` that everybody shares weigh less than ``directed_by`` when the data says so).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Self

import numpy as np
import scipy.sparse as sp

from .base import Recommender, is_large_catalog
from .content import preference_weights
from .data import Event, Interactions
from .tuning import holdout, holdout_users, ndcg_at_k


def catalog_facts(items: Iterable[tuple[str, Sequence[str], int | None]]) -> list[tuple[str, str, str]]:
    """``(item id, genres, release year)`` rows as knowledge-graph facts: ``listed_genre`` and
    ``release_year``. Unlike a graph linked from outside (MovieLens' Freebase links point at the
    wrong films in many places) they are right for every item, and their entities are names a
    sentence can use."""
    facts = []
    for item_id, genres, year in items:
        facts += [(item_id, "listed_genre", genre) for genre in genres or ()]
        if year:
            facts.append((item_id, "release_year", str(year)))
    return facts


class KnowledgeGraph(Recommender):
    """``fit(data, kg=[(item external id, relation, entity id), ...])``."""

    name = "kg"

    def __init__(self, learn_relation_weights: bool = True, seed: int = 0) -> None:
        self.learn_relation_weights, self.seed = learn_relation_weights, seed

    def fit(self, data: Interactions, kg: Iterable[tuple[str, str, str]] | None = None, **side_info: Any) -> Self:
        self.data = data
        features: dict[tuple[str, str], int] = {}
        rows, cols = [], []
        for item_id, relation, entity in kg or ():
            item = data.item_index(item_id)
            if item is None:
                continue
            col = features.setdefault((relation, entity), len(features))
            rows.append(item)
            cols.append(col)
        self.features, self._feature_index = list(features), features
        self.relations = sorted({r for r, _e in self.features})
        self.feature_relation = np.array([self.relations.index(r) for r, _e in self.features], dtype=np.int32)
        incidence = sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)),
                                  shape=(data.n_items, len(features)))
        incidence.data[:] = 1.0  # duplicate facts count once
        self.incidence = incidence
        df = np.asarray(incidence.sum(axis=0)).ravel()
        self.idf = np.log((1.0 + data.n_items) / (1.0 + df)).astype(np.float32)
        self.relation_weights = np.ones(len(self.relations), dtype=np.float32)
        self._build()
        # learning the weights scores dense hold-out rows: fixed equal weights on large catalogues
        if self.learn_relation_weights and len(self.relations) > 1 and len(data) and not is_large_catalog(data.n_items):
            self.relation_weights = self._learn_weights(data)
            self._build()
        return self

    def _feature_weights(self) -> np.ndarray:
        """Each (relation, entity) feature's weight: entity rarity x relation weight."""
        return self.idf * self.relation_weights[self.feature_relation] if len(self.features) else self.idf

    def _build(self) -> None:
        m = (self.incidence @ sp.diags(self._feature_weights())).tocsr()
        norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
        self.item_features = sp.diags(1.0 / np.maximum(norms, 1e-12)) @ m
        self.item_features = self.item_features.tocsr().astype(np.float32)
        # candidates are matched on un-normalised facts: a film with many shared facts wins
        self.candidate_features = m.tocsr().astype(np.float32).T.tocsr()
        self.has_facts = norms > 0

    def _learn_weights(self, data: Interactions) -> np.ndarray:
        """Each relation's weight is its hold-out NDCG gain over chance; relations are then added
        in the order of that gain and kept only when they improve the combined score, so a
        relation with a little signal of its own cannot drown a better one in noise."""
        fit_part, held = holdout(data, self.seed)
        users = holdout_users(held, self.seed)
        liking = _liking([fit_part.history(int(u)) for u in users], data.n_items)
        base = ndcg_at_k(np.random.default_rng(self.seed).random((len(users), data.n_items)), fit_part, held, users)
        original = self.relation_weights.copy()

        def ndcg_with(weights: np.ndarray) -> float:
            self.relation_weights = weights.astype(np.float32)
            self._build()
            scores = np.asarray((self._profiles(liking) @ self.candidate_features).todense())
            return ndcg_at_k(scores, fit_part, held, users)

        n = len(self.relations)
        try:
            solo = np.array([ndcg_with(np.arange(n) == r) for r in range(n)])
            gains = np.maximum(solo - base, 0.0)
            self.relation_weights_tuning_ = dict(zip(self.relations, gains.tolist(), strict=True))
            if gains.max() <= 0:
                return np.ones(n, dtype=np.float32)
            gains = gains / gains.max()
            order = [r for r in np.argsort(-gains, kind="stable") if gains[r] > 0]
            chosen = np.zeros(n)
            chosen[order[0]] = gains[order[0]]
            best = solo[order[0]]  # one relation's scores only scale with its weight
            for r in order[1:]:
                trial = chosen.copy()
                trial[r] = gains[r]
                score = ndcg_with(trial)
                if score > best:
                    chosen, best = trial, score
        finally:
            self.relation_weights = original
        self.relations_kept_ = [self.relations[r] for r in np.flatnonzero(chosen)]
        return chosen.astype(np.float32)

    def _profiles(self, liking: sp.csr_matrix) -> sp.csr_matrix:
        """Entity profiles of users: sums of their items' feature rows, weighted by ``liking``."""
        return (liking @ self.item_features).tocsr()

    def _score_rows(self, matrix: sp.csr_matrix, users: np.ndarray) -> np.ndarray:
        liking = _liking([self.data.history(int(u)) for u in users], self.n_items)
        scores = np.asarray((self._profiles(liking) @ self.candidate_features).todense(), dtype=np.float64)
        scores[np.diff(matrix.indptr) == 0] = np.nan
        scores[:, ~self.has_facts] = np.nan
        return scores

    def _event_profile(self, events: list[Event]) -> sp.csr_matrix:
        """The entity profile of one history: its items' feature rows weighted by preference."""
        return self._profiles(_liking([events], self.n_items))

    def _score_events(self, events: list[Event], user: int | None) -> np.ndarray:
        if not events:
            return np.full(self.n_items, np.nan)
        scores = np.asarray((self._event_profile(events) @ self.candidate_features).todense(),
                            dtype=np.float64).ravel()
        scores[~self.has_facts] = np.nan
        return scores

    def fact_rows(self, facts: Sequence[Iterable[tuple[str, str]]]) -> sp.csr_matrix:
        """(len(facts), n_features) weights of items the model does not know (added since it
        was trained), from their ``(relation, entity)`` facts, weighted as a trained item's
        (entity rarity x relation weight). Facts the model never saw are left out: no item a
        user has can share them."""
        index = getattr(self, "_feature_index", None)
        if index is None:  # a model saved before the index was kept
            index = self._feature_index = {feature: col for col, feature in enumerate(self.features)}
        rows, cols = [], []
        for row, item_facts in enumerate(facts):
            found = {index[f] for f in item_facts if f in index}
            rows += [row] * len(found)
            cols += sorted(found)
        incidence = sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)),
                                  shape=(len(facts), len(self.features)))
        return (incidence @ sp.diags(self._feature_weights())).tocsr()

    def score_facts(self, events: list[Event], facts: Sequence[Iterable[tuple[str, str]]]) -> np.ndarray:
        """Scores of items the model does not know, from their facts (see :meth:`fact_rows`), on
        the scale of :meth:`score`; NaN for an item without a known fact or for no history."""
        return self.score_fact_rows([events], self.fact_rows(facts))[0]

    def score_fact_rows(self, histories: Sequence[list[Event]], rows: sp.csr_matrix) -> np.ndarray:
        """(len(histories), len(rows)) :meth:`score_facts` of many histories, from the items'
        :meth:`fact_rows` (each history's row is computed alone: batching changes nothing)."""
        scores = np.asarray((self._profiles(_liking(histories, self.n_items)) @ rows.T).todense(),
                            dtype=np.float64).reshape(len(histories), rows.shape[0])
        scores[[not events for events in histories]] = np.nan
        scores[:, np.diff(rows.indptr) == 0] = np.nan
        return scores

    def shared_entities(self, events: list[Event], item: int | Iterable[tuple[str, str]],
                        limit: int = 5) -> list[dict[str, Any]]:
        """The (relation, entity, liked item) links behind ``item``'s score, largest first.
        ``item`` is a trained item's index, or the facts of an item the model does not know."""
        if isinstance(item, (int, np.integer)):
            target = self.item_features[item]
        else:
            row = self.fact_rows([list(item)])
            norm = float(np.sqrt(row.multiply(row).sum()))
            target = row / max(norm, 1e-12)
        if not events or target.nnz == 0:
            return []
        liking = _liking([events], self.n_items)  # the weights scoring uses (an item met twice: summed)
        liked, weights = liking.indices, liking.data.astype(np.float64)
        shared = self.item_features[liked][:, target.indices].toarray()  # liked items x target's facts
        links = weights[:, None] * shared * target.data[None, :]
        order = np.argsort(-links, axis=None, kind="stable")[:limit]
        rows, cols = np.unravel_index(order, links.shape)
        return [{"relation": self.features[target.indices[c]][0], "entity": self.features[target.indices[c]][1],
                 "item": int(liked[r]), "contribution": float(links[r, c])}
                for r, c in zip(rows, cols, strict=True) if links[r, c] > 0]


def _liking(histories: Sequence[list[Event]], n_items: int) -> sp.csr_matrix:
    """(histories x items): how much each history item counts as a like, ``preference_weights``
    (rating above the user's mean, recency); an item met twice counts twice. The one weighting of
    training, scoring and explanations, so the ranker learns on the scores serving computes."""
    rows = np.repeat(np.arange(len(histories)), [len(h) for h in histories])
    cols = np.fromiter((e[0] for h in histories for e in h), dtype=np.int64, count=len(rows))
    vals = np.concatenate([preference_weights(h) for h in histories if h] or [np.zeros(0)])
    return sp.csr_matrix((vals.astype(np.float32), (rows, cols)), shape=(len(histories), n_items))

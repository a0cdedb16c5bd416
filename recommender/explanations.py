"""Explanations built from the actual score contributions (never a template chosen afterwards).

For each recommended item the model reports each signal's additive contribution to its score.
The sentence names the signal that contributed most and the evidence behind it: the history
items that contributed most to that signal (collaborative, content, session), the shared
knowledge-graph entities (relation + linked movie), or the popularity facts.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from recommender.algorithms.explain import (
    COLLABORATIVE,
    describe,
    fact_label,
    headline,
    label,
    sentence,
    similar_sentence,
    top_anchor,
)


def _facts(links: list[dict[str, Any]], anchors: dict[int, dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Knowledge-graph links as evidence: the fact, its card label and contribution, and with
    ``anchors`` (a feed) the liked item it is shared with."""
    out = []
    for link in links:
        fact = {"relation": link["relation"], "entity": link["entity"],
                "label": fact_label(link["relation"], link["entity"]),
                "contribution": round(float(link["contribution"]), 4)}
        if anchors is not None:
            anchor = anchors.get(link["item"])
            fact.update(anchor=anchor["title"] if anchor else None, anchor_action=describe(anchor) if anchor else None)
        out.append(fact)
    return out


def predicted_stars(rating_model: Any, events: list[tuple[int, float, int]], idx: int) -> float | None:
    """The rating model's stars for item ``idx`` from a history without the item's own events
    (a view or a purchase of it is not a rating of it), to one decimal; None if it cannot say."""
    rest = [e for e in events if e[0] != idx]
    value = float(rating_model.score(rest, [idx])[0]) if rest else float("nan")
    return round(value, 1) if np.isfinite(value) else None


def _signal_evidence(model: Any, state: Any, signal: str, idx: int) -> dict[str, Any]:
    events = state.profile.events
    component = model.components.get(signal)
    evidence: dict[str, Any] = {}
    if signal in COLLABORATIVE or signal == "content":
        source = component if hasattr(component, "contributions") else model.components.get("ease") or \
            model.components.get("itemknn")
        if source is not None and hasattr(source, "contributions"):
            anchor = top_anchor(source.contributions(events, idx), state.anchors)
            if anchor:
                evidence["anchor"] = anchor
    elif signal == "bpmf" and component is not None:
        evidence["predicted_rating"] = predicted_stars(component, events, idx)
    elif signal == "kg" and component is not None:
        evidence["shared_entities"] = _facts(component.shared_entities(events, idx, limit=3), state.anchors)
    elif signal == "session" and events:
        last = events[-1][0]
        if last in state.anchors:
            evidence["anchor"] = state.anchors[last]
    return evidence


def _user_genres(model: Any, state: Any, items_by_index: Any) -> list[str]:
    counts: dict[str, float] = {}
    for idx, rating, _ts in state.profile.events:
        for genre in items_by_index.get(idx, ()):
            counts[genre] = counts.get(genre, 0.0) + rating
    return sorted(counts, key=lambda g: -counts[g])[:5]


def explain(model: Any, state: Any, ranked: list[tuple[Any, float]], *, context: Any,
            contributions: dict[int, dict[str, float]] | None = None,
            extra: dict[int, dict[str, float]] | None = None,
            new_items: dict[int, Any] | None = None, steered_by: dict[int, int] | None = None) -> list[Any]:
    """Recommendations with contributions, evidence and a sentence, for a personal feed.

    ``contributions`` (model item index -> signal -> value) are the ones the model computed
    when it scored the items; items missing from it are scored here. ``extra`` (item pk ->
    signal -> value) are serving's own additive stages (the refine text, "more like this"); ``new_items`` (item pk
    -> :class:`serving.Fresh`) the items newer than the model: the signal that placed each, its
    score and facts; ``steered_by`` (item pk -> pk of the "more like this" target that adds the
    most to its ``more_like`` signal) the target its card names."""
    from recommender.serving import Recommendation

    genres_of_index = {}
    from catalog.models import Item

    history_pks = [int(model.item_pks[idx]) for idx, _r, _t in state.profile.events]
    for pk, genres in Item.objects.filter(pk__in=history_pks).values_list("pk", "genres"):
        genres_of_index[model.index_of_pk[pk]] = genres
    top_genres = _user_genres(model, state, genres_of_index)
    item_vectors = {}
    if state.review_vectors or new_items:  # one lookup (the model's copy; the database's for new items)
        from recommender.serving import _vectors

        pks = [item.pk for item, _ in ranked]
        item_vectors = dict(zip(pks, _vectors(pks, model), strict=True))
    all_contributions = dict(contributions or {})
    unknown = [model.index_of_pk[item.pk] for item, _ in ranked
               if item.pk in model.index_of_pk and model.index_of_pk[item.pk] not in all_contributions]
    if unknown:
        all_contributions.update(model.signal_contributions_many(state.profile, unknown))
    out = []
    for item, score in ranked:
        idx = model.index_of_pk.get(item.pk)
        if idx is None:  # newer than the model
            new = (new_items or {}).get(item.pk)
            contributions = {new.signal: round(new.score, 4)} if new else {}
        else:
            contributions = {s: round(float(v), 4) for s, v in all_contributions[idx].items()}
        contributions.update({s: round(v, 4) for s, v in (extra or {}).get(item.pk, {}).items()})
        signal = headline(contributions, personal=state.has_history)
        evidence: dict[str, Any] = {"contributions": contributions, "signal": signal,
                                    "signal_label": label(signal)}
        if idx is not None:
            evidence.update(_signal_evidence(model, state, signal, idx))
            if signal != "kg" and "kg" in model.components and state.profile.events:
                shared = _signal_evidence(model, state, "kg", idx).get("shared_entities")
                if shared:
                    evidence["shared_entities"] = shared
        else:  # newer than the model: the closest liked item, the facts it shares
            if signal == "content" and item.pk in item_vectors:
                anchor = top_anchor(model.components["content"].vector_contributions(
                    state.profile.events, item_vectors[item.pk]), state.anchors)
                if anchor:
                    evidence["anchor"] = anchor
            if new and new.facts and "kg" in model.components:
                shared = _facts(model.components["kg"].shared_entities(state.profile.events, new.facts, limit=3),
                                state.anchors)
                if shared:
                    evidence["shared_entities"] = shared
        if context.refine:
            evidence["refine"] = context.refine
        target = model.index_of_pk.get((steered_by or {}).get(item.pk))
        if contributions.get("more_like") and target in state.anchors:
            evidence["more_like"] = state.anchors[target]["title"]
        review = _closest_review(state, item_vectors.get(item.pk))
        if review:
            evidence["review"] = review
        matches = [g for g in item.genres if g in top_genres]
        evidence["genre_match"] = matches
        text = sentence(signal, evidence, item.genres)
        if context.refine and signal != "refine":
            share = contributions.get("refine", 0.0)
            text += (f" Re-ranked for \u201c{context.refine}\u201d: "
                     f"{'a good' if share > 0 else 'a weaker'} match ({share:+.2f}).")
        out.append(Recommendation(item, float(score), signal, text, evidence, algorithm="hybrid"))
    return out


def explain_single(model: Any, state: Any, signal: str, ranked: list[tuple[Any, float]]) -> list[Any]:
    """Explanations when one component alone ranked the items (an experiment's baseline arm)."""
    from recommender.serving import Recommendation

    out = []
    for item, score in ranked:
        idx = model.index_of_pk.get(item.pk)
        evidence: dict[str, Any] = {"contributions": {signal: round(float(score), 4)}, "signal": signal,
                                    "signal_label": label(signal)}
        if idx is not None:
            evidence.update(_signal_evidence(model, state, signal, idx))
        evidence["genre_match"] = []
        out.append(Recommendation(item, float(score), signal, sentence(signal, evidence, item.genres),
                                  evidence, algorithm=signal))
    return out


def _closest_review(state: Any, vector: np.ndarray | None, threshold: float = 0.5) -> dict[str, Any] | None:
    """The user's review text closest to the item's vector, when close enough to mention."""
    if not state.review_vectors or vector is None or not vector.any():
        return None
    sims = [(float(v @ vector), text, pk) for v, text, pk in state.review_vectors]
    sim, text, pk = max(sims)
    return {"text": text, "item": pk, "similarity": round(sim, 3)} if sim >= threshold else None


def explain_similar(model: Any, anchor_item: Any, ranked: list[tuple[Any, float, dict[str, float]]],
                    new_items: dict[int, Any] | None = None) -> list[Any]:
    """Explanations for "similar to <item>" rows from each signal's contribution (``new_items``:
    as in :func:`explain`)."""
    from recommender.serving import Recommendation

    anchor_idx = model.index_of_pk.get(anchor_item.pk) if model is not None else None
    kg = model.components.get("kg") if anchor_idx is not None else None
    out = []
    for item, score, contributions in ranked:
        signal = headline(contributions, personal=True)
        evidence: dict[str, Any] = {
            "anchor": {"pk": anchor_item.pk, "title": anchor_item.display_title},
            "contributions": contributions, "signal": signal, "signal_label": label(signal),
            "genre_match": [g for g in item.genres if g in anchor_item.genres],
        }
        idx = model.index_of_pk.get(item.pk) if model is not None else None
        new = (new_items or {}).get(item.pk)
        facts = idx if idx is not None else new.facts if new else None
        if kg is not None and facts is not None:
            evidence["shared_entities"] = _facts(kg.shared_entities([(anchor_idx, 5.0, 0)], facts, limit=3))
        text = similar_sentence(signal, anchor_item.display_title, evidence)
        out.append(Recommendation(item, float(score), signal, text, evidence, algorithm="similar"))
    return out

"""Explanations built from the actual score contributions (never a template chosen afterwards).

For each recommended item the model reports each signal's additive contribution to its score.
The sentence names the signal that contributed most and the evidence behind it: the history
items that contributed most to that signal (collaborative, content, session), the shared
knowledge-graph entities (relation + linked movie), or the popularity facts.
"""

from __future__ import annotations

from typing import Any

import numpy as np

RELATION_PHRASES = {
    "directed_by": "shares a director with", "actor": "shares an actor with",
    "written_by": "shares a writer with", "produced_by": "shares a producer with",
    "genre": "shares a genre with", "cinematography": "shares a cinematographer with",
    "production_companies": "comes from the same studio as", "subjects": "is about the same subject as",
    "sequel": "is a sequel of", "prequel": "is a prequel of", "award_nomination": "shares an award nomination with",
    "award_won": "won an award that", "language": "is in the same language as",
    "country": "comes from the same country as",
    "rating": "has the same content rating as",
}
COLLABORATIVE = {"ease", "itemknn", "tknn", "als", "bpr", "userknn"}
SIGNAL_LABELS = {
    "ease": "collaborative filtering (EASE)", "itemknn": "collaborative filtering (item kNN)",
    "als": "collaborative filtering (ALS)", "bpr": "collaborative filtering (BPR)", "content": "content similarity",
    "tknn": "collaborative filtering (items rated close in time)", "userknn": "similar users",
    "timepop": "popularity at your time",
    "kg": "knowledge graph", "session": "your current session", "pop": "popularity", "popularity": "popularity",
    "trending": "trending", "rating": "average rating", "timing": "release timing", "activity": "your activity level",
    "baseline": "baseline", "refine": "your request",
}
# signals that are about the item rather than the user; they never headline a personal sentence
ITEM_ONLY = {"pop", "popularity", "trending", "timepop", "rating", "timing", "activity", "baseline"}


def _describe(anchor: dict[str, Any]) -> str:
    kind = anchor.get("kind")
    if kind == "rated":
        stars = anchor["rating"]
        stars = int(stars) if float(stars).is_integer() else stars
        return f"you rated {anchor['title']} {stars} star{'s' if stars != 1 else ''}"
    verbs = {"view": "viewed", "click": "clicked", "purchase": "bought", "add_to_cart": "added to your cart",
             "more_like_this": "asked for more like"}
    return f"you {verbs.get(kind, 'liked')} {anchor['title']}"


LIKED = 3.0  # a rating below this is never named as the reason for a recommendation


def _top_anchor(contribs: dict[int, float], state: Any) -> dict[str, Any] | None:
    """The history item that contributed most, among those the user did not dislike."""
    ranked = sorted(
        ((v, i) for i, v in contribs.items()
         if v > 0 and i in state.anchors and state.anchors[i].get("rating", LIKED) >= LIKED),
        reverse=True,
    )
    if not ranked:
        return None
    value, idx = ranked[0]
    return {**state.anchors[idx], "contribution": round(float(value), 4)}


def _signal_evidence(model: Any, state: Any, signal: str, idx: int) -> dict[str, Any]:
    events = state.profile.events
    component = model.components.get(signal)
    evidence: dict[str, Any] = {}
    if signal in COLLABORATIVE or signal == "content":
        source = component if hasattr(component, "contributions") else model.components.get("ease") or \
            model.components.get("itemknn")
        if source is not None and hasattr(source, "contributions"):
            anchor = _top_anchor(source.contributions(events, idx), state)
            if anchor:
                evidence["anchor"] = anchor
    elif signal == "kg" and component is not None:
        links = component.shared_entities(events, idx, limit=3)
        evidence["shared_entities"] = [
            {"relation": link["relation"], "entity": link["entity"],
             "anchor": state.anchors.get(link["item"], {}).get("title"),
             "anchor_action": _describe(state.anchors[link["item"]]) if link["item"] in state.anchors else None,
             "contribution": round(float(link["contribution"]), 4)}
            for link in links
        ]
    elif signal == "session" and events:
        last = events[-1][0]
        if last in state.anchors:
            evidence["anchor"] = state.anchors[last]
    return evidence


def _sentence(item: Any, signal: str, evidence: dict[str, Any], state: Any, genre_match: list[str]) -> str:
    anchor = evidence.get("anchor")
    shared = evidence.get("shared_entities") or []
    if signal == "kg" and shared:
        link = shared[0]
        phrase = RELATION_PHRASES.get(link["relation"], f"shares {link['relation'].replace('_', ' ')} with")
        who = link.get("anchor_action") or f"you liked {link['anchor']}"
        return f"Because {who} and it {phrase} it."
    if signal in COLLABORATIVE and anchor:
        return f"Because {_describe(anchor)}: people who liked that also liked this."
    if signal in COLLABORATIVE:
        return "People with tastes like yours liked this."
    if signal == "refine":
        return f"Matches what you asked for: \u201c{evidence['refine']}\u201d."
    if signal == "content":
        if evidence.get("review"):
            return f"Close to what you wrote: \u201c{evidence['review']['text'][:80]}\u201d."
        if anchor:
            return f"Because {_describe(anchor)} and it is similar in content."
        return "Matches the interests in your profile."
    if signal == "session" and anchor:
        return f"Because {_describe(anchor)} just now."
    if signal in {"trending", "pop", "popularity"}:
        where = f" in {genre_match[0]}" if genre_match else (f" in {item.genres[0]}" if item.genres else "")
        return f"Popular right now{where}."
    if signal == "rating":
        return "Rated highly by other viewers."
    label = SIGNAL_LABELS.get(signal, signal)
    return f"Recommended mainly by {label}."


def _headline(contributions: dict[str, float], personal: bool) -> str:
    candidates = {s: v for s, v in contributions.items() if s != "baseline"}
    if personal:
        personal_only = {s: v for s, v in candidates.items() if s not in ITEM_ONLY and v > 0}
        if personal_only:
            candidates = personal_only
    return max(candidates, key=lambda s: candidates[s]) if candidates else "baseline"


def _user_genres(model: Any, state: Any, items_by_index: Any) -> list[str]:
    counts: dict[str, float] = {}
    for idx, rating, _ts in state.profile.events:
        for genre in items_by_index.get(idx, ()):
            counts[genre] = counts.get(genre, 0.0) + rating
    return sorted(counts, key=lambda g: -counts[g])[:5]


def explain(model: Any, state: Any, ranked: list[tuple[Any, float]], *, context: Any,
            contributions: dict[int, dict[str, float]] | None = None,
            extra: dict[int, dict[str, float]] | None = None) -> list[Any]:
    """Recommendations with contributions, evidence and a sentence, for a personal feed.

    ``contributions`` (model item index -> signal -> value) are the ones the model computed
    when it scored the items; items missing from it are scored here. ``extra`` (item pk ->
    signal -> value) are serving's own additive stages (the refine text)."""
    from recommender.serving import Recommendation

    genres_of_index = {}
    from catalog.models import Item

    history_pks = [int(model.item_pks[idx]) for idx, _r, _t in state.profile.events]
    for pk, genres in Item.objects.filter(pk__in=history_pks).values_list("pk", "genres"):
        genres_of_index[model.index_of_pk[pk]] = genres
    top_genres = _user_genres(model, state, genres_of_index)
    item_vectors = {}
    if state.review_vectors:  # one lookup for the whole list (the model's copy; the database's for new items)
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
        if idx is None:  # newer than the model: content only
            contributions = {"content": float(score) - sum((extra or {}).get(item.pk, {}).values())}
        else:
            contributions = {s: round(float(v), 4) for s, v in all_contributions[idx].items()}
        contributions.update({s: round(v, 4) for s, v in (extra or {}).get(item.pk, {}).items()})
        signal = _headline(contributions, personal=state.has_history)
        evidence: dict[str, Any] = {"contributions": contributions, "signal": signal,
                                    "signal_label": SIGNAL_LABELS.get(signal, signal)}
        if idx is not None:
            evidence.update(_signal_evidence(model, state, signal, idx))
            if signal != "kg" and "kg" in model.components and state.profile.events:
                shared = _signal_evidence(model, state, "kg", idx).get("shared_entities")
                if shared:
                    evidence["shared_entities"] = shared
        if context.refine:
            evidence["refine"] = context.refine
        review = _closest_review(state, item_vectors.get(item.pk))
        if review:
            evidence["review"] = review
        matches = [g for g in item.genres if g in top_genres]
        evidence["genre_match"] = matches
        sentence = _sentence(item, signal, evidence, state, matches)
        if context.refine and signal != "refine":
            share = contributions.get("refine", 0.0)
            sentence += (f" Re-ranked for \u201c{context.refine}\u201d: "
                         f"{'a good' if share > 0 else 'a weaker'} match ({share:+.2f}).")
        out.append(Recommendation(item, float(score), signal, sentence, evidence, algorithm="hybrid"))
    return out


def explain_single(model: Any, state: Any, signal: str, ranked: list[tuple[Any, float]]) -> list[Any]:
    """Explanations when one component alone ranked the items (an experiment's baseline arm)."""
    from recommender.serving import Recommendation

    out = []
    for item, score in ranked:
        idx = model.index_of_pk.get(item.pk)
        evidence: dict[str, Any] = {"contributions": {signal: round(float(score), 4)}, "signal": signal,
                                    "signal_label": SIGNAL_LABELS.get(signal, signal)}
        if idx is not None:
            evidence.update(_signal_evidence(model, state, signal, idx))
        evidence["genre_match"] = []
        out.append(Recommendation(item, float(score), signal, _sentence(item, signal, evidence, state, []),
                                  evidence, algorithm=signal))
    return out


def _closest_review(state: Any, vector: np.ndarray | None, threshold: float = 0.5) -> dict[str, Any] | None:
    """The user's review text closest to the item's vector, when close enough to mention."""
    if not state.review_vectors or vector is None or not vector.any():
        return None
    sims = [(float(v @ vector), text, pk) for v, text, pk in state.review_vectors]
    sim, text, pk = max(sims)
    return {"text": text, "item": pk, "similarity": round(sim, 3)} if sim >= threshold else None


def explain_similar(model: Any, anchor_item: Any, ranked: list[tuple[Any, float, dict[str, float]]]) -> list[Any]:
    """Explanations for "similar to <item>" rows from each signal's contribution."""
    from recommender.serving import Recommendation

    anchor_idx = model.index_of_pk.get(anchor_item.pk) if model is not None else None
    out = []
    for item, score, contributions in ranked:
        signal = _headline(contributions, personal=True)
        evidence: dict[str, Any] = {
            "anchor": {"pk": anchor_item.pk, "title": anchor_item.display_title},
            "contributions": contributions, "signal": signal, "signal_label": SIGNAL_LABELS.get(signal, signal),
            "genre_match": [g for g in item.genres if g in anchor_item.genres],
        }
        idx = model.index_of_pk.get(item.pk) if model is not None else None
        if anchor_idx is not None and idx is not None and "kg" in model.components:
            links = model.components["kg"].shared_entities([(anchor_idx, 5.0, 0)], idx, limit=3)
            evidence["shared_entities"] = [{"relation": x["relation"], "entity": x["entity"],
                                            "contribution": round(float(x["contribution"]), 4)} for x in links]
        shared = evidence.get("shared_entities") or []
        if signal == "kg" and shared:
            phrase = RELATION_PHRASES.get(shared[0]["relation"], "is linked to")
            sentence = f"It {phrase} {anchor_item.display_title}."
        elif signal in COLLABORATIVE:
            sentence = f"People who liked {anchor_item.display_title} also liked this."
        elif signal == "content":
            both = evidence["genre_match"]
            sentence = f"Similar in content to {anchor_item.display_title}" + (
                f" ({', '.join(both[:2])})." if both else ".")
        else:
            sentence = f"Related to {anchor_item.display_title} by {SIGNAL_LABELS.get(signal, signal)}."
        out.append(Recommendation(item, float(score), signal, sentence, evidence, algorithm="similar"))
    return out

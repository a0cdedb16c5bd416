"""The words of an explanation: signal labels, relation phrases and the one sentence.

Pure (no Django): ``recommender.explanations`` gathers the evidence from the actual score
contributions (the model's per-signal contributions, the history items behind them, shared
knowledge-graph entities) and these functions turn it into text. One place for the wording,
so the feed, the "similar to" rows and the experiment arms say things the same way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

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
# what a shared imported fact is, as a card lists it ("Shared with Star Wars (1977): director")
FACT_NOUNS = {
    "directed_by": "director", "written_by": "writer", "produced_by": "producer", "actor": "actor",
    "genre": "genre tag", "cinematography": "cinematographer", "production_companies": "studio",
    "subjects": "subject", "sequel": "sequel", "prequel": "prequel", "award_nomination": "award nomination",
    "award_won": "award", "language": "language", "country": "country", "rating": "content rating",
}
# relations whose entity is a name (the catalog's own facts): the sentence says it
ENTITY_CLAUSES = {"listed_genre": "is listed under {entity}", "release_year": "came out in {entity}"}
COLLABORATIVE = frozenset({"ease", "itemknn", "tknn", "als", "bpr", "userknn"})
SIGNAL_LABELS = {
    "ease": "collaborative filtering (EASE)", "itemknn": "collaborative filtering (item kNN)",
    "als": "collaborative filtering (ALS)", "bpr": "collaborative filtering (BPR)", "content": "content similarity",
    "tknn": "collaborative filtering (items rated close in time)", "userknn": "similar users",
    "timepop": "popularity at your time",
    "kg": "knowledge graph", "session": "your current session", "pop": "popularity", "popularity": "popularity",
    "trending": "trending", "rating": "average rating", "timing": "release timing",
    "activity": "your activity and rating habits",
    "baseline": "baseline", "refine": "your request", "more_like": "your \u201cmore like this\u201d",
    "bpmf": "your predicted rating", "co_rating": "liked by the same people", "new": "new arrival",
}
# signals that are about the item rather than the user; they never headline a personal sentence
ITEM_ONLY = frozenset({"pop", "popularity", "trending", "timepop", "rating", "timing", "activity", "baseline"})
LIKED = 3.0  # a rating below this is never named as the reason for a recommendation
VERBS = {"view": "viewed", "click": "clicked", "purchase": "bought", "add_to_cart": "added to your cart",
         "save": "saved", "more_like_this": "asked for more like", "picked": "picked"}  # picked: when signing up


def label(signal: str) -> str:
    return SIGNAL_LABELS.get(signal, signal)


def describe(anchor: Mapping[str, Any]) -> str:
    """``{"kind": "rated", "title": ..., "rating": 5}`` -> "you rated <title> 5 stars"."""
    if anchor.get("kind") == "rated":
        stars = anchor["rating"]
        stars = int(stars) if float(stars).is_integer() else stars
        return f"you rated {anchor['title']} {stars} star{'s' if stars != 1 else ''}"
    return f"you {VERBS.get(anchor.get('kind'), 'liked')} {anchor['title']}"


def relation_phrase(relation: str) -> str:
    return RELATION_PHRASES.get(relation, f"shares {relation.replace('_', ' ')} with")


def fact_label(relation: str, entity: str) -> str:
    """What a card shows after "Shared with <film>:" for a shared fact: the name ("Sci-Fi",
    "1977") for the catalog's own facts, else what is shared ("director", "content rating":
    imported entities are ids, so the card names the kind of link)."""
    if relation in ENTITY_CLAUSES:
        return entity
    return FACT_NOUNS.get(relation, relation.removesuffix("_by").replace("_", " "))


def entity_clause(link: Mapping[str, Any]) -> str | None:
    """"is listed under Sci-Fi" for a link whose entity is a name, else None."""
    clause = ENTITY_CLAUSES.get(link["relation"])
    return clause.format(entity=link["entity"]) if clause else None


def headline(contributions: Mapping[str, float], personal: bool) -> str:
    """The signal a sentence names: the largest contribution; for a user with a history, the
    largest positive personal one when there is any (popularity explains nothing personal)."""
    candidates = {s: v for s, v in contributions.items() if s != "baseline"}
    if personal:
        personal_only = {s: v for s, v in candidates.items() if s not in ITEM_ONLY and v > 0}
        if personal_only:
            candidates = personal_only
    return max(candidates, key=lambda s: candidates[s]) if candidates else "baseline"


def top_anchor(contributions: Mapping[int, float], anchors: Mapping[int, Mapping[str, Any]]) -> dict[str, Any] | None:
    """The history item that contributed most, among those the user did not dislike."""
    ranked = sorted(((v, i) for i, v in contributions.items()
                     if v > 0 and i in anchors and anchors[i].get("rating", LIKED) >= LIKED), reverse=True)
    if not ranked:
        return None
    value, idx = ranked[0]
    return {**anchors[idx], "contribution": round(float(value), 4)}


def sentence(signal: str, evidence: Mapping[str, Any], genres: Sequence[str] = ()) -> str:
    """One sentence for a feed card from the headline ``signal`` and its ``evidence``
    (``anchor``, ``shared_entities``, ``review``, ``refine``, ``more_like``, ``genre_match``)."""
    anchor = evidence.get("anchor")
    shared = evidence.get("shared_entities") or []
    if signal == "kg" and shared:
        link = shared[0]
        who = link.get("anchor_action") or f"you liked {link['anchor']}"
        named = entity_clause(link)
        return f"Because {who} and it {named} too." if named else \
            f"Because {who} and it {relation_phrase(link['relation'])} it."
    if signal in COLLABORATIVE and anchor:
        return f"Because {describe(anchor)}: people who liked that also liked this."
    if signal in COLLABORATIVE:
        return "People with tastes like yours liked this."
    if signal == "bpmf" and evidence.get("predicted_rating") is not None:
        return (f"We think you would rate it {evidence['predicted_rating']:.1f} stars: "
                "people who rate as you do rated it highly.")
    if signal == "refine":
        return f"Matches what you asked for: \u201c{evidence['refine']}\u201d."
    if signal == "more_like" and evidence.get("more_like"):
        return f"Because you asked for more like {evidence['more_like']}."
    if signal == "content":
        if evidence.get("review"):
            return f"Close to what you wrote: \u201c{evidence['review']['text'][:80]}\u201d."
        if anchor:
            return f"Because {describe(anchor)} and it is similar in content."
        return "Matches the interests in your profile."
    if signal == "session" and anchor:
        return f"Because {describe(anchor)} just now."
    if signal in {"trending", "pop", "popularity"}:
        matches = evidence.get("genre_match") or genres[:1]
        return f"Popular right now{f' in {matches[0]}' if matches else ''}."
    if signal == "rating":
        return "Rated highly by other viewers."
    return f"Recommended mainly by {label(signal)}."


def similar_sentence(signal: str, anchor_title: str, evidence: Mapping[str, Any]) -> str:
    """The sentence of a "similar to <anchor_title>" row."""
    shared = evidence.get("shared_entities") or []
    if signal == "kg" and shared:
        named = entity_clause(shared[0])
        if named:
            return f"Like {anchor_title}, it {named}."
        return f"It {relation_phrase(shared[0]['relation'])} {anchor_title}."
    if signal in COLLABORATIVE:
        return f"People who liked {anchor_title} also liked this."
    if signal == "content":
        both = evidence.get("genre_match") or []
        return f"Similar in content to {anchor_title}" + (f" ({', '.join(both[:2])})." if both else ".")
    return f"Related to {anchor_title} by {label(signal)}."

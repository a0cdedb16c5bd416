"""Faithful explanations: a structured dict and one sentence built from actual contributions.

:func:`build_explanation` is pure: it takes the per-signal contributions of a score (which sum
to it), the anchor items behind the collaborative / content signals, shared knowledge-graph
entities and genre overlap, and names the signal with the largest contribution first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

# The words that name each signal in a sentence (distinct, so a test can find the top one).
SIGNAL_LABELS = {
    "ease": "what people with your ratings watch",
    "itemknn": "movies often watched together",
    "tknn": "movies watched around the same time",
    "userknn": "viewers like you",
    "als": "your overall taste profile",
    "bpr": "your ranking history",
    "content": "similar content",
    "kg": "shared cast and crew",
    "session": "what you watched most recently",
    "pop": "overall popularity",
    "trending": "what is trending now",
    "timepop": "what was popular when you were active",
    "rating": "how highly viewers rate it",
    "timing": "what was watched when you were active",
    "activity": "how much you have rated so far",
}
RELATION_PHRASES = {
    "directed_by": "a director", "actor": "an actor", "written_by": "a writer",
    "produced_by": "a producer", "genre": "a genre", "cinematography": "a cinematographer",
    "production_companies": "a studio", "award_won": "an award", "award_nomination": "an award nomination",
    "language": "a language", "country": "a country", "subjects": "a subject", "rating": "an age rating",
    "sequel": "a sequel link", "prequel": "a prequel link",
}
ANCHORED = {"ease", "itemknn", "tknn", "als", "bpr", "content", "session", "kg"}


def _stars(rating: float | None) -> str:
    if rating is None:
        return ""
    value = f"{rating:g}"
    return f" {value} star" + ("" if value == "1" else "s")


def build_explanation(
    item: int,
    contributions: Mapping[str, float],
    *,
    titles: Mapping[int, str] | None = None,
    anchors: Mapping[str, Sequence[tuple[int, float]]] | None = None,
    ratings: Mapping[int, float] | None = None,
    kg_links: Sequence[Mapping[str, Any]] = (),
    entity_names: Mapping[str, str] | None = None,
    genre_overlap: Sequence[str] = (),
) -> dict[str, Any]:
    """Structured explanation of ``item``'s score.

    ``contributions``: signal -> additive contribution (``baseline`` is the model's constant).
    ``anchors``: signal -> [(history item, contribution to this item's score)], largest first.
    ``kg_links``: dicts with ``relation``, ``entity``, ``item`` (the liked item), ``contribution``.
    """
    titles, anchors, ratings, entity_names = titles or {}, anchors or {}, ratings or {}, entity_names or {}
    signals = sorted(((k, float(v)) for k, v in contributions.items() if k != "baseline"),
                     key=lambda kv: -kv[1])
    total_positive = sum(v for _k, v in signals if v > 0) or 1.0
    top = signals[0][0] if signals else None

    def title(i: int) -> str:
        return titles.get(i, f"item {i}")

    anchor_list = list(anchors.get(top, ())) if top else []
    anchor = anchor_list[0][0] if anchor_list else None
    if top == "kg" and kg_links:
        anchor = kg_links[0]["item"]
    sentence = _sentence(top, anchor, title, ratings, kg_links, entity_names)
    return {
        "item": item,
        "score": float(sum(contributions.values())),
        "top_signal": top,
        "signals": [{"signal": k, "label": SIGNAL_LABELS.get(k, k), "contribution": v,
                     "share": max(v, 0.0) / total_positive} for k, v in signals],
        "baseline": float(contributions.get("baseline", 0.0)),
        "anchors": {k: [{"item": i, "title": title(i), "rating": ratings.get(i), "contribution": float(c)}
                        for i, c in v] for k, v in anchors.items()},
        "shared_entities": [{**link, "name": entity_names.get(link["entity"]), "item_title": title(link["item"])}
                            for link in kg_links],
        "genre_overlap": list(genre_overlap),
        "sentence": sentence,
    }


def _sentence(top: str | None, anchor: int | None, title, ratings: Mapping[int, float],
              kg_links: Sequence[Mapping[str, Any]], entity_names: Mapping[str, str]) -> str:
    if top is None:
        return "Recommended for you."
    label = SIGNAL_LABELS.get(top, top)
    if top not in ANCHORED or anchor is None:
        return f"Recommended because of {label}."
    because = f"Because you rated {title(anchor)}{_stars(ratings.get(anchor))}"
    if top == "session":
        because = f"Because you just watched {title(anchor)}"
    link = next((lk for lk in kg_links if lk["item"] == anchor), None)
    tail = ""
    if link is not None:
        name = entity_names.get(link["entity"])
        relation = RELATION_PHRASES.get(link["relation"], link["relation"].replace("_", " "))
        tail = f" and it shares {relation}" + (f" ({name})" if name else "") + " with it"
    return f"{because}{tail} ({label})."

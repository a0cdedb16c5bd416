"""The text that represents an item, a review or a profile for embedding.

Plain Python (no Django): the worker and the offline evaluation build identical texts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

# How many entities of one relation go into an item's text (an actor list can be long).
MAX_FACTS_PER_RELATION = 5

RELATION_LABELS = {
    "directed_by": "Directed by",
    "actor": "Starring",
    "written_by": "Written by",
    "produced_by": "Produced by",
    "genre": "Genre",
    "subjects": "About",
    "language": "Language",
    "country": "Country",
}


def item_document(
    *,
    title: str,
    year: int | None = None,
    genres: Iterable[str] = (),
    description: str = "",
    tags: Iterable[str] = (),
    facts: Mapping[str, Iterable[str]] | None = None,
) -> str:
    """``facts`` maps a knowledge-graph relation to entity names (unnamed entities are skipped)."""
    parts = [f"{title} ({year})" if year else title]
    genres = [g for g in genres if g]
    if genres:
        parts.append("Genres: " + ", ".join(genres) + ".")
    if description.strip():
        parts.append(description.strip())
    tags = [t for t in tags if t]
    if tags:
        parts.append("Tags: " + ", ".join(tags) + ".")
    for relation, label in RELATION_LABELS.items():
        names = [n for n in (facts or {}).get(relation, ()) if n][:MAX_FACTS_PER_RELATION]
        if names:
            parts.append(f"{label}: " + ", ".join(names) + ".")
    return " ".join(parts)

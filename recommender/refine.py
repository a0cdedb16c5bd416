"""The feed's free-text request ("more sci-fi, less horror") read as clauses, each wanted or not.

A sentence embedding cannot read negation: "less horror" lies closest to the horror films. So
the request is split into clauses (at commas, semicolons, "and", "but"); a clause led by "less",
"no", "without", "not" ... counts against the items it matches, the others for them. A clause
that names one of the catalogue's genres ("sci-fi", "horror movies", "comedies", "scary") matches
that genre's items exactly; any other clause ("something lighter", "a heist gone wrong")
matches by the similarity of its words to each item's text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

NEGATIVE_LEADS = ("not so much", "nothing", "fewer", "avoid", "less", "skip", "without", "not", "no")
POSITIVE_LEADS = ("more of", "lots of", "plenty of", "some", "more", "give me", "i want", "something")
FILLER_HEADS = ("of", "the", "a", "an")
FILLER_TAILS = ("movies", "movie", "films", "film", "ones", "stuff", "please")
# ways of naming a genre other than its own name (keys are normalised: lower case, letters and digits)
GENRE_ALIASES = {
    "scifi": "scifi", "sciencefiction": "scifi", "sf": "scifi", "space": "scifi",
    "romantic": "romance", "romcom": "romance", "love": "romance",
    "funny": "comedy", "comedic": "comedy", "comedies": "comedy",
    "scary": "horror", "horrors": "horror",
    "kids": "childrens", "children": "childrens", "family": "childrens",
    "animated": "animation", "cartoon": "animation", "cartoons": "animation",
    "noir": "filmnoir", "documentaries": "documentary", "thrillers": "thriller", "westerns": "western",
    "musicals": "musical", "mysteries": "mystery", "dramas": "drama", "dramatic": "drama",
}
_SPLIT = re.compile(r"[,;.!?]|\b(?:and|but|or|though|although)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Clause:
    text: str  # the clause without its lead word
    sign: int  # +1 wanted, -1 not wanted
    genre: str | None = None  # the catalogue genre it names, if any


def _key(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def _strip_lead(words: str, leads: Iterable[str]) -> tuple[str, bool]:
    lowered = words.lower()
    for lead in leads:
        if lowered == lead or lowered.startswith(lead + " "):
            return words[len(lead):].strip(), True
    return words, False


def parse_request(text: str, genres: Iterable[str]) -> list[Clause]:
    """The request's clauses, in order; clauses with nothing left to match are dropped."""
    by_key = {_key(g): g for g in genres}
    clauses = []
    for part in _SPLIT.split(text):
        words = " ".join((part or "").split())
        words, negative = _strip_lead(words, NEGATIVE_LEADS)
        if not negative:
            words, _ = _strip_lead(words, POSITIVE_LEADS)
        core = words
        while head := next((h for h in FILLER_HEADS if core.lower().startswith(h + " ")), None):
            core = core[len(head) + 1:]
        while tail := next((t for t in FILLER_TAILS if core.lower().endswith(" " + t)), None):
            core = core[: -len(tail) - 1]
        if not core.strip():
            continue
        key = _key(core)
        genre = by_key.get(key) or by_key.get(GENRE_ALIASES.get(key, "")) or by_key.get(key.removesuffix("s"))
        clauses.append(Clause(words, -1 if negative else 1, genre))
    return clauses


def request_terms(clauses: list[Clause], genres_of: list[list[str]],
                  similarity: Callable[[str], np.ndarray]) -> np.ndarray:
    """Per item (in ``genres_of``'s order), how well it answers the request: each clause's match
    (genre membership, or text similarity) z-scored over the items, signed, averaged over the
    clauses; about unit spread. Zeros when no clause tells the items apart."""
    total = np.zeros(len(genres_of))
    for clause in clauses:
        if clause.genre is not None:
            match = np.array([clause.genre in genres for genres in genres_of], dtype=float)
        else:
            match = np.asarray(similarity(clause.text), dtype=float)
        spread = match.std()
        if spread > 0:
            total += clause.sign * (match - match.mean()) / spread
    return total / max(len(clauses), 1)

"""The feed's free-text request ("more sci-fi, less horror") read as clauses, each wanted or not.

A sentence embedding cannot read negation: "less horror" lies closest to the horror films. So
the request is split into clauses (at commas, semicolons, "and", "but"); a clause led by "less",
"no", "without", "not" ... counts against the items it matches, the others for them. A clause
that names one of the catalogue's genres ("sci-fi", "horror movies", "comedies", "scary",
"something lighter") matches that genre's items exactly; any other clause ("space adventure",
"a heist gone wrong") matches by the similarity of its words to each item's text.

A clause whose text matches nothing in the catalogue ("asdfgh", "my tax return") is not
understood: it adds nothing, and the page says so. Cosines alone cannot tell: the nearest item
to any text, even nonsense, has some cosine, and z-scoring over the items turns chance (a title
sharing a word piece) into a full-size signal. So a text clause is understood when its
``MATCH_TOP_K`` best cosines over the whole catalogue average more than those of every one of
``NULL_PROBES``, texts that mean nothing, encoded by the same model against the same items
(``understood_floor``). The floor follows the model and the catalogue's texts; no cosine is a
constant here.

Measured with all-MiniLM-L6-v2 against the 1,682 MovieLens-100K item vectors (title, year,
genres, Freebase facts), mean of the 10 best cosines (best single cosine in brackets):

* requests with content: "romantic comedy in paris" 0.68 (0.78), "space adventure" 0.53
  (0.58), "courtroom drama" 0.52 (0.55), "dark horror" 0.60, "mafia" 0.46, "time travel" 0.38;
* the probes: "foo bar baz" 0.30 (0.36), "lorem ipsum dolor" 0.24, "banana bread recipe" 0.23
  (0.39), "123" 0.22, "xyzzy plugh" 0.21, "the" 0.20, "asdfgh" 0.20 (0.29), "qwerty uiop"
  0.19, "my tax return" 0.15: the floor is 0.30;
* other nonsense, not among the probes, all below it: "kjsdhf kjhsdf" 0.24, "42" 0.23,
  "zzzz" 0.20, "asdfgh qwerty" 0.20, "blah blah" 0.17, an emoji string 0.15, "how do I reset
  my router" 0.09;
* requests the item texts cannot answer fall below it too, and their nearest items show why:
  "lighter" 0.19 (Heavy, The Unbearable Lightness of Being), "a heist gone wrong" 0.19 (Mr.
  Wrong, Losing Isaiah), "robots" 0.28 (The Puppet Masters), "feel-good" 0.23 (Feeling
  Minnesota). Their old re-ranking was chance; moods that name a genre are aliases instead
  ("lighter", "feel-good": Comedy).

Relative criteria did not separate (30 requests, 24 nonsense texts): the best cosine's z-score
over the catalogue was 3.0-9.2 for the requests and 3.2-7.5 for nonsense (the top-10 mean's,
2.8-5.2 and 2.7-4.3), and the top-10 mean's margin over the median 0.13-0.33 and 0.10-0.21:
nonsense has a heavy tail too. Near the floor the matches are weak either way: "sports" 0.304
and "talking animals" 0.305 pass (Bloodsport 2; Walking and Talking), "cowboys" 0.290 does not.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

import numpy as np

NEGATIVE_LEADS = ("not so much", "nothing", "fewer", "avoid", "less", "skip", "without", "not", "no")
POSITIVE_LEADS = ("more of", "lots of", "plenty of", "some", "more", "give me", "i want", "something")
FILLER_HEADS = ("for", "of", "the", "a", "an")
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
    "lighter": "comedy", "light": "comedy", "lighthearted": "comedy", "feelgood": "comedy", "fun": "comedy",
}
# Texts that mean nothing (key mashing, made-up words, a stop word, digits, filler, errands): a
# text clause must match the catalogue better than every one of them (see the module's notes)
NULL_PROBES = ("asdfgh", "qwerty uiop", "xyzzy plugh", "the", "123", "lorem ipsum dolor", "foo bar baz",
               "my tax return", "banana bread recipe")
MATCH_TOP_K = 10
_SPLIT = re.compile(r"[,;.!?]|\b(?:and|but|or|though|although)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Clause:
    text: str  # the clause without its lead word
    sign: int  # +1 wanted, -1 not wanted
    genre: str | None = None  # the catalogue genre it names, if any
    understood: bool = True  # False: its text matches nothing in the catalogue (see ``judge``)


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


def match_strength(cosines: np.ndarray) -> float:
    """How well a text matches a catalogue: the mean of its ``MATCH_TOP_K`` best cosines to the
    items (several, so one title that shares a word piece does not make a match)."""
    cosines = np.asarray(cosines, dtype=float)
    if not cosines.size:
        return float("-inf")
    k = min(MATCH_TOP_K, cosines.size)
    return float(np.partition(cosines, -k)[-k:].mean())


def understood_floor(strength: Callable[[str], float]) -> float:
    """The match strength a text must exceed to be understood: the best of ``NULL_PROBES``'."""
    return max(strength(probe) for probe in NULL_PROBES)


def judge(clauses: list[Clause], strength: Callable[[str], float], floor: float) -> list[Clause]:
    """``clauses`` with ``understood`` set: a genre clause always is, a text clause when its
    ``strength`` (see :func:`match_strength`) is above ``floor``."""
    return [c if c.genre is not None or strength(c.text) > floor else replace(c, understood=False)
            for c in clauses]


def request_terms(clauses: list[Clause], genres_of: list[list[str]],
                  similarity: Callable[[str], np.ndarray]) -> np.ndarray:
    """Per item (in ``genres_of``'s order), how well it answers the request: each clause's match
    (genre membership, or text similarity) z-scored over the items, signed, averaged over the
    understood clauses (the others add nothing); about unit spread. Zeros when no clause tells
    the items apart."""
    clauses = [c for c in clauses if c.understood]
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

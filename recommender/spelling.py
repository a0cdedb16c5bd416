"""Spelling correction for search: a query word that is neither an English word nor in any
title ("godfathr", "star wras", "terminater") is replaced by the closest title word.

Candidates come from a symmetric-delete index (Garbe's SymSpell, one deletion on each side:
finds every word within one edit and most within two) and are ranked by Damerau-Levenshtein
distance, then by how popular the titles using the word are. "English word" means a whole
word in the encoder's tokenizer vocabulary (30,522 WordPiece tokens for all-MiniLM-L6-v2), so
descriptive queries ("mafia crime family") are left as typed.
"""

from __future__ import annotations

import re
import threading
import time
from collections import defaultdict
from collections.abc import Container, Iterable, Mapping

WORD = re.compile(r"[^\W\d_]+")  # letters only: numbers and codes are never corrected
MIN_LENGTH = 4  # shorter words have too many neighbours to guess from
VOCABULARY_SECONDS = 600  # how long a process reuses the title vocabulary
MAX_WORDS = 50_000  # the most popular title words (bounds the index on large catalogues)


def damerau_levenshtein(a: str, b: str) -> int:
    """Edit distance with adjacent transpositions (the optimal string alignment variant)."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[-1]


def _deletes(word: str) -> set[str]:
    return {word} | {word[:i] + word[i + 1:] for i in range(len(word))}


class Speller:
    """``frequencies``: word -> weight (higher wins ties); ``known``: words never corrected."""

    def __init__(self, frequencies: Mapping[str, float], known: Container[str] = frozenset()) -> None:
        self.frequencies = dict(frequencies)
        self.known = known
        self._index: dict[str, list[str]] = defaultdict(list)
        for word in self.frequencies:
            for variant in _deletes(word):
                self._index[variant].append(word)

    def correct_word(self, word: str) -> str:
        """``word`` (lower case) or the closest vocabulary word: within 1 edit for words of up
        to 5 letters, 2 for longer ones."""
        if len(word) < MIN_LENGTH or word in self.frequencies or word in self.known:
            return word
        limit = 1 if len(word) <= 5 else 2
        candidates = {c for variant in _deletes(word) for c in self._index.get(variant, ())}
        scored = [(d, -self.frequencies[c], c) for c in candidates if (d := damerau_levenshtein(word, c)) <= limit]
        return min(scored)[2] if scored else word

    def correct(self, query: str) -> str | None:
        """The query with its misspelt words replaced, or None when nothing changed."""
        changed = False

        def replace(match: re.Match[str]) -> str:
            nonlocal changed
            word = match.group(0)
            fixed = self.correct_word(word.lower())
            if fixed == word.lower():
                return word
            changed = True
            return fixed

        corrected = WORD.sub(replace, query)
        return corrected if changed else None


def word_frequencies(titles: Iterable[tuple[str, int]]) -> dict[str, float]:
    """Title words weighted by the titles' popularity: sum of (1 + reviews) over the titles."""
    out: dict[str, float] = defaultdict(float)
    for title, reviews in titles:
        for word in {w.lower() for w in WORD.findall(title)}:
            out[word] += 1 + reviews
    return out


_lock = threading.Lock()
_cached: tuple[float, Speller] | None = None
_refreshing = False


def _build() -> Speller:
    from catalog.models import Item
    from catalog.selectors import genre_list
    from recommender.encoder import get_encoder

    titles = list(Item.objects.active().values_list("title", "review_count").iterator(chunk_size=5000))
    frequencies = word_frequencies([*titles, *((genre, 0) for genre in genre_list())])
    frequencies = dict(sorted(frequencies.items(), key=lambda kv: -kv[1])[:MAX_WORDS])
    known = {token for token in get_encoder().model.tokenizer.vocab if token.isalpha()}
    return Speller(frequencies, known)


def _refresh() -> None:
    """Rebuild in the background; requests meanwhile use the previous vocabulary."""
    global _cached, _refreshing
    from django.db import connection

    try:
        speller = _build()
        with _lock:
            _cached = (time.monotonic(), speller)
    finally:
        _refreshing = False
        connection.close()  # this thread's own connection


def catalogue_speller() -> Speller:
    """A :class:`Speller` over the active items' titles and genres. The first call builds it
    (about 3 s for a million titles); after :data:`VOCABULARY_SECONDS` a background thread
    rebuilds it while requests keep the previous one (a new title is corrected towards within
    about ten minutes)."""
    global _cached, _refreshing
    with _lock:
        cached = _cached
        if cached is not None and time.monotonic() - cached[0] > VOCABULARY_SECONDS and not _refreshing:
            _refreshing = True
            threading.Thread(target=_refresh, name="speller-refresh", daemon=True).start()
    if cached is not None:
        return cached[1]
    speller = _build()
    with _lock:
        _cached = (time.monotonic(), speller)
    return speller


def catalogue_speller_clear() -> None:
    global _cached
    with _lock:
        _cached = None


def spelling_correction(query: str) -> str | None:
    """``query`` with misspelt words corrected against the catalogue, or None if none were."""
    return catalogue_speller().correct(query)

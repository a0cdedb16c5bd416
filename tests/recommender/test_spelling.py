"""Spelling correction for search: the algorithm on a toy vocabulary, then on MovieLens through
the search function, the API and the search page."""

from __future__ import annotations

import pytest
from django.urls import reverse

from catalog import services
from recommender.spelling import Speller, damerau_levenshtein, spelling_correction


@pytest.mark.parametrize(("a", "b", "distance"), [
    ("", "", 0), ("abc", "", 3), ("wars", "wras", 1), ("godfathr", "godfather", 1),
    ("kitten", "sitting", 3), ("ca", "abc", 3), ("terminater", "terminator", 1), ("jons", "jones", 1),
])
def test_damerau_levenshtein_against_hand_counts(a, b, distance):
    assert damerau_levenshtein(a, b) == distance == damerau_levenshtein(b, a)


SPELLER = Speller({"wars": 50, "star": 40, "stars": 5, "godfather": 30, "terminator": 20, "jones": 9,
                   "bones": 1, "jungle": 3}, known={"space", "mafia", "family"})


@pytest.mark.parametrize(("word", "fixed"), [
    ("wras", "wars"),  # transposition
    ("godfathr", "godfather"),  # a letter left out
    ("godfatther", "godfather"),  # one too many
    ("terminatir", "terminator"),  # one wrong
    ("termimater", "termimater"),  # two wrong: one deletion on each side cannot meet (a known limit)
    ("terminatr", "terminator"),
    ("jons", "jones"),  # also 1 from "bones"? no: 2; "jones" is the only word within 1
    ("starr", "star"),  # star (1 edit, weight 40) and stars (1 edit, weight 5): the more popular
    ("mafia", "mafia"),  # an English word is never corrected
    ("wra", "wra"),  # too short to guess
    ("zzzzzzz", "zzzzzzz"),  # nothing close
    ("gdofathre", "gdofathre"),  # 3 edits away: beyond the limit of 2
    ("jngl", "jngl"),  # 2 edits, but 4 letters allow 1
])
def test_corrects_words_within_the_length_dependent_limit(word, fixed):
    assert SPELLER.correct_word(word) == fixed


def test_corrects_only_what_it_must_and_keeps_the_rest_of_the_query():
    assert SPELLER.correct("Star Wras") == "Star wars"
    assert SPELLER.correct("star wars") is None  # nothing to correct: None, not the same text
    assert SPELLER.correct("space mafia family") is None
    assert SPELLER.correct("wras 1977, godfathr!") == "wars 1977, godfather!"
    assert SPELLER.correct("ñandú 🎬 <script>") is None


@pytest.mark.parametrize(("typed", "expected", "title"), [
    ("godfathr", "godfather", "The Godfather (1972)"),
    ("star wras", "star wars", "Star Wars (1977)"),
    ("terminater", "terminator", "Terminator 2: Judgment Day (1991)"),
    ("casablanka", "casablanca", "Casablanca (1942)"),
])
def test_search_finds_misspelt_titles(ml100k, typed, expected, title):
    from recommender.selectors import item_search

    def first(**options) -> str:
        return item_search(query=typed, k=3, **options)[0][0].display_title

    assert spelling_correction(typed) == expected
    assert first() == title
    assert first(correct_spelling=False) != title


def test_descriptions_and_known_titles_are_searched_as_typed(ml100k):
    for query in ("mafia crime family", "space adventure", "a heist gone wrong", "Schwarzenegger", "fargo"):
        assert spelling_correction(query) is None, query


def test_a_new_title_is_a_word_search_corrects_towards(ml100k):
    from recommender.spelling import catalogue_speller_clear

    assert spelling_correction("zorblaxx") is None
    services.item_create(title="Zorblax Returns", year=2026, genres=["Sci-Fi"])
    catalogue_speller_clear()  # what ten minutes do
    assert spelling_correction("zorblaxx returns") == "zorblax returns"


def test_the_api_and_the_search_page_say_what_was_searched(ml100k, client):
    body = client.get("/api/search/", {"q": "godfathr", "k": 3}).json()
    assert body["query"] == "godfathr" and body["corrected"] == "godfather"
    assert body["results"][0]["item"]["title"] == "The Godfather"
    assert client.get("/api/search/", {"q": "godfather", "k": 3}).json()["corrected"] is None
    page = client.get(reverse("search"), {"q": "godfathr"}).content.decode()
    assert "<strong>“godfather”</strong> (you typed “godfathr”)" in page
    assert "you typed" not in client.get(reverse("search"), {"q": "godfather"}).content.decode()


def test_an_old_vocabulary_is_rebuilt_in_the_background_while_requests_keep_the_old_one(monkeypatch):
    import time

    from recommender import spelling

    built: list[Speller] = []

    def build() -> Speller:
        built.append(Speller({f"word{len(built)}": 1.0}))
        return built[-1]

    monkeypatch.setattr(spelling, "_build", build)
    spelling.catalogue_speller_clear()
    first = spelling.catalogue_speller()  # the first call builds
    assert spelling.catalogue_speller() is first and len(built) == 1  # then reuses
    monkeypatch.setattr(spelling, "VOCABULARY_SECONDS", 0)
    assert spelling.catalogue_speller() is first  # stale: still answered at once
    deadline = time.monotonic() + 10
    while spelling.catalogue_speller() is first and time.monotonic() < deadline:
        time.sleep(0.01)
    assert spelling.catalogue_speller() in built[1:]  # the rebuilt one
    # no rebuild may outlive the test and leave its toy vocabulary to the next one
    monkeypatch.setattr(spelling, "VOCABULARY_SECONDS", 600)
    while spelling._refreshing and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not spelling._refreshing
    spelling.catalogue_speller_clear()

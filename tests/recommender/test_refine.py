"""The feed's free-text request read as clauses for and against (pure functions, no database)."""

from __future__ import annotations

import numpy as np
import pytest

from recommender.refine import Clause, parse_request, request_terms

GENRES = ["Action", "Children's", "Comedy", "Film-Noir", "Horror", "Romance", "Sci-Fi"]


@pytest.mark.parametrize(("text", "expected"), [
    ("more sci-fi, less horror", [Clause("sci-fi", 1, "Sci-Fi"), Clause("horror", -1, "Horror")]),
    ("no horror movies please", [Clause("horror movies please", -1, "Horror")]),
    ("comedies but not romance", [Clause("comedies", 1, "Comedy"), Clause("romance", -1, "Romance")]),
    ("something for the kids", [Clause("for the kids", 1, None)]),
    ("kids", [Clause("kids", 1, "Children's")]),
    ("scary films and noir", [Clause("scary films", 1, "Horror"), Clause("noir", 1, "Film-Noir")]),
    ("without violence", [Clause("violence", -1, None)]),
    ("a heist gone wrong", [Clause("a heist gone wrong", 1, None)]),
    (" , ; and ", []),
])
def test_a_request_is_read_as_clauses_for_and_against(text, expected):
    assert parse_request(text, GENRES) == expected


def test_a_clause_against_a_genre_pushes_its_items_down_and_text_clauses_use_similarity():
    genres_of = [["Sci-Fi"], ["Horror"], ["Sci-Fi", "Horror"], ["Comedy"]]
    no_text = pytest.fail  # genre clauses never ask for text similarity
    terms = request_terms(parse_request("more sci-fi, less horror", GENRES), genres_of, no_text)
    assert terms[0] > terms[3] > terms[1]  # wanted > neither > unwanted
    assert terms[2] == pytest.approx(terms[3])  # one for, one against: neutral
    similarity = {"lighter": np.array([0.1, 0.2, 0.3, 0.9])}
    lighter = request_terms(parse_request("something lighter", GENRES), genres_of, similarity.__getitem__)
    assert np.argmax(lighter) == 3 and lighter.mean() == pytest.approx(0)
    assert not request_terms(parse_request("zzz", GENRES), genres_of, lambda _: np.full(4, 0.2)).any()

"""The feed's free-text request read as clauses for and against: the pure functions (no
database), then what the real embedding model understands in MovieLens and the home page."""

from __future__ import annotations

import numpy as np
import pytest
from django.contrib.auth.models import User

from recommender import refine, serving
from recommender.refine import NULL_PROBES, Clause, judge, match_strength, parse_request, request_terms

GENRES = ["Action", "Children's", "Comedy", "Film-Noir", "Horror", "Romance", "Sci-Fi"]


@pytest.mark.parametrize(("text", "expected"), [
    ("more sci-fi, less horror", [Clause("sci-fi", 1, "Sci-Fi"), Clause("horror", -1, "Horror")]),
    ("no horror movies please", [Clause("horror movies please", -1, "Horror")]),
    ("comedies but not romance", [Clause("comedies", 1, "Comedy"), Clause("romance", -1, "Romance")]),
    ("something for the kids", [Clause("for the kids", 1, "Children's")]),
    ("something lighter", [Clause("lighter", 1, "Comedy")]),
    ("a space adventure", [Clause("a space adventure", 1, None)]),
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
    similarity = {"cheerful": np.array([0.1, 0.2, 0.3, 0.9])}
    cheerful = request_terms(parse_request("something cheerful", GENRES), genres_of, similarity.__getitem__)
    assert np.argmax(cheerful) == 3 and cheerful.mean() == pytest.approx(0)
    assert not request_terms(parse_request("zzz", GENRES), genres_of, lambda _: np.full(4, 0.2)).any()


def test_a_text_clause_is_understood_when_it_matches_better_than_every_nonsense_probe():
    assert match_strength(np.array([0.9] + [0.1] * 20)) == pytest.approx(0.18)  # the 10 best, not one
    assert match_strength(np.array([0.5, 0.3])) == pytest.approx(0.4) and match_strength(np.array([])) == -np.inf
    strength = {"cheerful": 0.5, "asdfgh": 0.2, **{probe: 0.3 for probe in NULL_PROBES}}.__getitem__
    floor = refine.understood_floor(strength)
    assert floor == 0.3
    clauses = parse_request("more sci-fi, something cheerful, asdfgh, no asdfgh", GENRES)
    assert [(c.text, c.understood) for c in judge(clauses, strength, floor)] == [
        ("sci-fi", True), ("cheerful", True), ("asdfgh", False), ("asdfgh", False)]


def test_clauses_not_understood_add_nothing():
    genres_of = [["Sci-Fi"], ["Horror"], ["Comedy"]]
    noise = {"asdfgh": np.array([0.3, 0.1, 0.2])}.__getitem__
    sci_fi = request_terms(parse_request("more sci-fi", GENRES), genres_of, noise)
    clauses = judge(parse_request("more sci-fi and asdfgh", GENRES), lambda _: 0.0, 0.5)
    np.testing.assert_allclose(request_terms(clauses, genres_of, noise), sci_fi)  # not diluted either
    assert not request_terms(judge(parse_request("asdfgh", GENRES), lambda _: 0.0, 0.5), genres_of, noise).any()


# ---------------------------------------------- the real model against the MovieLens item vectors
REQUESTS = ["space adventure", "romantic comedy in paris", "courtroom drama", "a light romantic comedy",
            "dark horror", "mafia", "time travel", "world war two"]
# nonsense that is not among NULL_PROBES
NONSENSE = ["asdfgh qwerty", "zzzz", "\U0001F600\U0001F355\U0001F680", "kjsdhf kjhsdf", "blah blah", "hjkl",
            "how do I reset my router", "my dentist appointment", "spreadsheet formulas"]


def test_the_real_model_tells_requests_from_nonsense_in_movielens(trained_model):
    def reading(text):
        return serving.refine_reading(serving.FeedContext(refine=text))

    for text in REQUESTS:
        assert reading(text) == [Clause(text, 1)], text
    for text in NONSENSE:
        assert reading(text) == [Clause(text, 1, understood=False)], text
    assert reading("more sci-fi, something lighter") == [Clause("sci-fi", 1, "Sci-Fi"), Clause("lighter", 1, "Comedy")]
    assert [c.understood for c in reading("less horror, asdfgh, romantic comedy in paris")] == [True, False, True]


@pytest.fixture
def shopper_client(trained_model, client):
    client.force_login(User.objects.get(username="ml_1"))
    return client


def _for_you(response):
    row = next(row for row in response.context["rows"] if row.key == "for_you")
    return [rec.item.display_title for rec in row.items], row.items


def test_nonsense_leaves_the_feed_as_it_was_and_the_page_says_it_was_not_understood(shopper_client):
    plain, _ = _for_you(shopper_client.get("/"))
    for text in ["asdfgh qwerty", "zzzz", "\U0001F600\U0001F355\U0001F680", "!!!"]:
        response = shopper_client.get("/", {"refine": text})
        titles, recs = _for_you(response)
        assert titles == plain, text
        for rec in recs:
            assert "refine" not in rec.contributions and "Re-ranked" not in rec.sentence
        page = response.content.decode()
        assert "data-refine-reading" not in page
        message = page[page.index("data-refine-unmatched"):].split("</p>")[0]
        assert f"We couldn't match \u201c{text}\u201d to any film" in message, message


def test_a_real_request_still_re_ranks_and_the_page_names_what_it_could_not_match(shopper_client):
    plain, _ = _for_you(shopper_client.get("/"))
    response = shopper_client.get("/", {"refine": "more sci-fi"})
    titles, recs = _for_you(response)
    assert titles != plain
    assert sum("Sci-Fi" in rec.item.genres for rec in recs) > 2 * len(recs) // 3
    assert all("refine" in rec.contributions for rec in recs)
    page = response.content.decode()
    assert "more Sci-Fi" in page[page.index("data-refine-reading"):].split("</p>")[0]
    assert "data-refine-unmatched" not in page

    mixed = shopper_client.get("/", {"refine": "more sci-fi, asdfgh and space adventure, xyzzy"})
    page = mixed.content.decode()
    reading = page[page.index("data-refine-reading"):].split("</p>")[0]
    assert "more Sci-Fi" in reading and "more like \u201cspace adventure\u201d" in reading and "asdfgh" not in reading
    unmatched = page[page.index("data-refine-unmatched"):].split("</p>")[0]
    assert "\u201casdfgh\u201d or \u201cxyzzy\u201d to any film" in unmatched


def test_the_home_page_reads_the_request_once(shopper_client, monkeypatch, settings):
    settings.RECSYS_FEED_CACHE_SECONDS = 60
    calls = []
    monkeypatch.setattr(serving, "parse_request", lambda *args: calls.append(args) or refine.parse_request(*args))
    for _ in range(2):  # computed, then from the feed cache
        calls.clear()
        page = shopper_client.get("/", {"refine": "more sci-fi, space adventure"}).content.decode()
        assert len(calls) == 1 and "more like \u201cspace adventure\u201d" in page

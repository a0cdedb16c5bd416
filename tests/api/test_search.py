"""/api/search/: hybrid full-text + pgvector search."""

import pytest

from tests.api.conftest import assert_error

pytestmark = pytest.mark.django_db


def test_search(ml100k_embedded, anon):
    body = anon.get("/api/search/", {"q": "star wars", "k": 5}).json()
    assert body["query"] == "star wars" and body["count"] == len(body["results"]) <= 5
    assert body["results"][0]["item"]["title"].startswith("Star Wars")
    scores = [r["score"] for r in body["results"]]
    assert scores == sorted(scores, reverse=True)
    filtered = anon.get("/api/search/", {"q": "war", "genre": "War", "year_min": 1990, "year_max": 1995}).json()
    assert filtered["count"] > 0
    assert all("War" in r["item"]["genres"] and 1990 <= r["item"]["year"] <= 1995 for r in filtered["results"])
    semantic = anon.get("/api/search/", {"q": "scary haunted house"}).json()
    assert any("Horror" in r["item"]["genres"] for r in semantic["results"][:5])


def test_search_bad_input(ml100k_embedded, anon):
    assert anon.get("/api/search/", {"q": ""}).json()["count"] == 0
    assert anon.get("/api/search/", {"q": "?!*"}).json()["count"] == 0
    assert anon.get("/api/search/", {"q": "Amélie 東京 🎬"}).status_code == 200
    assert_error(anon.get("/api/search/"), 400, "q")
    assert_error(anon.get("/api/search/", {"q": "x" * 301}), 400, "q")
    assert_error(anon.get("/api/search/", {"q": "a", "k": 0}), 400, "k")
    assert_error(anon.get("/api/search/", {"q": "a", "k": 10**20}), 400, "k")
    assert_error(anon.get("/api/search/", {"q": "a\x00b"}), 400, "q")
    assert_error(anon.get("/api/search/?q=a%00b"), 400, "q")

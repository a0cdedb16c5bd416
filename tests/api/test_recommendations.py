"""/api/recommendations/ and /api/items/{id}/similar/ on MovieLens-100K with a trained model."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token

from catalog.models import Item, Review
from recommender import experiments, serving
from recommender.models import Experiment
from tests.api.conftest import assert_error, client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def ml_user(trained_model):
    user = User.objects.get(username="ml_1")
    Token.objects.get_or_create(user=user)
    return user


def test_recommendations_for_the_current_user_are_explained(ml_user):
    response = client_for(ml_user).get("/api/recommendations/", {"k": 5})
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 5 and body["user"] == "ml_1" and body["request_id"]
    rated = set(Review.objects.filter(user=ml_user).values_list("item_id", flat=True))
    for result in body["results"]:
        assert result["item"]["id"] not in rated
        explanation = result["explanation"]
        assert explanation["sentence"] and explanation["contributions"]
        assert explanation["signal"] in explanation["contributions"]
        assert result["source"] == "hybrid"


def test_filters_exclude_genre_diversity_and_refine(ml_user):
    client = client_for(ml_user)
    first = client.get("/api/recommendations/", {"k": 5}).json()["results"]
    excluded = [r["item"]["id"] for r in first[:2]]
    rest = client.get("/api/recommendations/", {"k": 5, "exclude": ",".join(map(str, excluded))}).json()
    assert not set(excluded) & {r["item"]["id"] for r in rest["results"]}
    comedies = client.get("/api/recommendations/", {"k": 5, "genre": "Comedy"}).json()["results"]
    assert all("Comedy" in r["item"]["genres"] for r in comedies)
    refined = client.get("/api/recommendations/", {"k": 5, "refine": "dark horror", "diversity": 0.5})
    assert refined.status_code == 200 and refined.json()["refine"]["followed"]
    assert first and client.get("/api/recommendations/", {"k": 5}).json()["refine"] is None


def test_the_response_says_how_the_refine_request_was_read(ml_user):
    client = client_for(ml_user)
    body = client.get("/api/recommendations/", {"k": 5, "refine": "more sci-fi, no horror, qwzx vbnm"}).json()
    assert body["refine"] == {
        "understood": [{"want": "more", "genre": "Sci-Fi", "text": "sci-fi"},
                       {"want": "less", "genre": "Horror", "text": "horror"}],
        "unmatched": ["qwzx vbnm"], "followed": True,
    }
    assert all("refine" in r["explanation"]["contributions"] for r in body["results"])
    ml_user.profile.personalization_opt_out = True  # popular items only: the request cannot be followed
    ml_user.profile.save()
    body = client.get("/api/recommendations/", {"k": 5, "refine": "more sci-fi"}).json()
    assert body["refine"]["followed"] is False and body["refine"]["understood"][0]["genre"] == "Sci-Fi"


# exclude '²' and '①' passed str.isdigit(), then int() raised (a 500); Arabic-Indic '٣' was read as 3
@pytest.mark.parametrize("params", [{"k": 0}, {"k": 1000}, {"diversity": 2}, {"exclude": "1,abc"},
                                    {"exclude": "\u00b2"}, {"exclude": "1,\u2460"}, {"exclude": "\u0663"},
                                    {"refine": "x" * 500}, {"k": "ten"}])
def test_bad_parameters_are_400_with_field_messages(ml_user, params):
    response = client_for(ml_user).get("/api/recommendations/", params)
    assert response.status_code == 400
    assert set(params) & set(response.json()["error"]["fields"])


def test_anonymous_session_and_staff_override(ml_user, anon, staff, user_a):
    assert anon.get("/api/recommendations/", {"k": 3, "session_key": "abc"}).status_code == 200
    forbidden = client_for(user_a).get("/api/recommendations/", {"user": ml_user.pk})
    assert forbidden.status_code == 403
    as_staff = client_for(staff).get("/api/recommendations/", {"user": ml_user.pk, "k": 3})
    assert as_staff.status_code == 200 and as_staff.json()["user"] == "ml_1"
    # an unknown or impossible user id is bad input (a 400 on user), not a missing endpoint (404)
    for user_id in (10**9, 2**63, "abc", 0):
        assert_error(client_for(staff).get("/api/recommendations/", {"user": user_id}), 400, "user")
    assert client_for(user_a).get("/api/recommendations/", {"user": 10**9}).status_code == 403  # no leak


def test_similar_items_endpoint(ml_user, anon):
    star_wars = Item.objects.get(external_id="ml:50")
    body = anon.get(f"/api/items/{star_wars.pk}/similar/", {"k": 5}).json()
    titles = {f"{r['item']['title']} ({r['item']['year']})" for r in body["results"]}
    assert {"The Empire Strikes Back (1980)", "Return of the Jedi (1983)"} & titles
    assert all("Star Wars (1977)" in r["explanation"]["sentence"] for r in body["results"])
    assert anon.get("/api/items/99999999/similar/").status_code == 404
    assert anon.get(f"/api/items/{star_wars.pk}/similar/", {"k": -1}).status_code == 400


def test_home_is_the_storefront_home_page_as_data(ml_user, client):
    """The same user and session: /api/home/ has the page's rows, titles and films, in order."""
    client.force_login(ml_user)
    client.get("/items/star-wars-1977/")  # the session's last view: a "because you viewed" row
    page = client.get("/").content.decode()
    body = client.get("/api/home/").json()
    assert body["user"] == "ml_1" and body["request_id"] and body["refine"] is None
    assert [row["key"] for row in body["rows"]] == ["for_you", "because_viewed", "trending", "new"]
    assert body["rows"][1]["title"] == "Because you viewed Star Wars (1977)"
    for row in body["rows"]:
        section = page[page.index(f'data-row="{row["key"]}"'):].split("</section>")[0]
        assert row["title"] in section
        shown = [int(pk) for pk in section.split('data-item="')[1:] for pk in [pk.split('"')[0]]]
        assert [r["item"]["id"] for r in row["results"]] == shown and len(shown) == 12
        assert all(r["explanation"]["sentence"] for r in row["results"])
    films = [r["item"]["id"] for row in body["rows"] for r in row["results"]]
    assert len(films) == len(set(films))  # one film, one card


def test_home_for_anonymous_clients_and_bad_parameters(ml_user, anon):
    body = anon.get("/api/home/", {"k": 4, "refine": "something lighter"}).json()
    assert [row["key"] for row in body["rows"]] == ["for_you", "trending", "new"]
    assert all(len(row["results"]) == 4 for row in body["rows"]) and body["user"] is None
    assert body["refine"]["understood"] and body["refine"]["followed"] is True
    for bad in ({"k": 0}, {"k": 51}, {"k": "many"}):
        assert_error(anon.get("/api/home/", bad), 400, "k")


def test_also_liked_endpoint_is_the_item_pages_second_row(ml_user, anon):
    from recommender import serving

    star_wars = Item.objects.get(slug="star-wars-1977")
    body = anon.get(f"/api/items/{star_wars.pk}/also-liked/", {"k": 6}).json()
    expected = serving.also_liked(star_wars, k=6)
    assert [r["item"]["id"] for r in body["results"]] == [rec.item.pk for rec in expected]
    assert body["count"] == 6 and all(r["explanation"]["sentence"] for r in body["results"])
    assert_error(anon.get("/api/items/999999/also-liked/"), 404)
    assert_error(anon.get(f"/api/items/{star_wars.pk}/also-liked/", {"k": 0}), 400, "k")


def test_exclude_given_twice_excludes_both(ml100k, anon):
    """``?exclude=100&exclude=181`` excluded only 181: the last value won."""
    first = [r["item"]["id"] for r in anon.get("/api/recommendations/", {"k": 5}).json()["results"]]
    assert len(first) >= 3
    query = f"k=5&exclude={first[0]}&exclude={first[1]}"
    again = [r["item"]["id"] for r in anon.get(f"/api/recommendations/?{query}").json()["results"]]
    assert again and first[0] not in again and first[1] not in again


def _experiment_giving(user: User, variant: str, variants: list[dict], prefix: str = "api") -> Experiment:
    """A running experiment whose key hashes ``user`` into ``variant`` (assignment is a pure
    hash, so the key decides)."""
    for n in range(200):
        experiment = Experiment(key=f"{prefix}-{n}", name="API test", is_active=True, variants=variants)
        if experiments.variant_for(experiment, f"u{user.pk}")["name"] == variant:
            experiment.save()
            return experiment
    raise AssertionError("no key hashes the user into the variant")


def test_api_feeds_are_served_under_the_running_experiment_and_their_events_attributed(ml_user, staff):
    experiment = _experiment_giving(ml_user, "popular", [
        {"name": "control", "weight": 50},
        {"name": "popular", "weight": 50, "params": {"algorithm": "popularity", "diversity": 0.9}}])
    client = client_for(ml_user)
    body = client.get("/api/recommendations/", {"k": 4}).json()
    assert body["experiment"] == {"key": experiment.key, "variant": "popular"}
    assert {r["source"] for r in body["results"]} == {"popularity"}  # the variant's algorithm applies
    assert [r["tracking"] for r in body["results"]] == [
        {"src": "for_you", "pos": pos, "rid": body["request_id"], "algo": "popularity",
         "exp": experiment.key, "variant": "popular"} for pos in range(1, 5)]
    home = client.get("/api/home/", {"k": 3}).json()
    assert home["experiment"] == body["experiment"]
    assert {r["tracking"]["variant"] for row in home["rows"] for r in row["results"]} == {"popular"}
    # the client reports what it showed and what was clicked and bought, with the tracking context
    shown = body["results"][0]
    events = [{"item": r["item"]["id"], "kind": "impression", "context": r["tracking"], "idempotency_key": f"i{n}"}
              for n, r in enumerate(body["results"])]
    events += [{"item": shown["item"]["id"], "kind": "click", "context": shown["tracking"], "idempotency_key": "c"},
               {"item": shown["item"]["id"], "kind": "purchase", "idempotency_key": "p"}]
    assert client.post("/api/events/", {"events": events}, format="json").json()["created"] == 6
    stats = {v.name: v for v in experiments.experiment_report(experiment)}
    assert (stats["popular"].impressions, stats["popular"].clicks, stats["popular"].converters) == (4, 1, 1)
    assert stats["control"].impressions == 0
    # a request that sets what the variant decides is outside the experiment (and gets the hybrid)
    chosen = client.get("/api/recommendations/", {"k": 4, "diversity": 0.5}).json()
    assert chosen["experiment"] is None and {r["source"] for r in chosen["results"]} == {"hybrid"}
    assert all("exp" not in r["tracking"] for r in chosen["results"])
    # in every arm, not only in the arm whose variant sets it (control would gain such requests)
    experiment.is_active = False
    experiment.save()
    control = _experiment_giving(ml_user, "control", experiment.variants, prefix="control")
    assert client.get("/api/recommendations/", {"k": 4, "diversity": 0.5}).json()["experiment"] is None
    assert client.get("/api/recommendations/", {"k": 4}).json()["experiment"] == {
        "key": control.key, "variant": "control"}
    control.is_active = False
    control.save()
    experiment.is_active = True
    experiment.save()
    # and so is staff's look at another user's feed
    assert client_for(staff).get("/api/recommendations/", {"user": ml_user.pk}).json()["experiment"] is None
    experiment.is_active = False
    experiment.save()
    assert client.get("/api/recommendations/", {"k": 4}).json()["experiment"] is None


def test_item_rows_carry_tracking_without_an_experiment(ml_user, anon):
    star_wars = Item.objects.get(slug="star-wars-1977")
    body = anon.get(f"/api/items/{star_wars.pk}/similar/", {"k": 3}).json()
    assert body["experiment"] is None
    assert [(r["tracking"]["src"], r["tracking"]["pos"], r["tracking"]["rid"]) for r in body["results"]] == [
        ("similar", pos, body["request_id"]) for pos in (1, 2, 3)]


def test_a_session_key_shows_only_that_sessions_anonymous_events(ml_user, anon, user_a):
    """API clients choose their session keys: a signed-in client's events sent under a key are not
    the session's for an anonymous client naming the same key (its feed and 'because you viewed'
    row followed them)."""
    star_wars = Item.objects.get(slug="star-wars-1977")
    events = [{"item": star_wars.pk, "kind": "view", "idempotency_key": "v1", "session_key": "shared-key"}]
    assert client_for(user_a).post("/api/events/", {"events": events}, format="json").json()["created"] == 1
    rows = anon.get("/api/home/", {"k": 3, "session_key": "shared-key"}).json()["rows"]
    assert "because_viewed" not in [row["key"] for row in rows]
    def feed(key: str) -> list[tuple[int, str]]:
        results = anon.get("/api/recommendations/", {"k": 5, "session_key": key}).json()["results"]
        return [(r["item"]["id"], r["explanation"]["sentence"]) for r in results]

    assert feed("shared-key") == feed("unused-key")
    # the signed-in client's own home does use its view in that session
    mine = client_for(user_a).get("/api/home/", {"k": 3, "session_key": "shared-key"}).json()["rows"]
    assert "because_viewed" in [row["key"] for row in mine]


def test_why_not_explains_an_item_against_the_same_feed_request(ml_user, anon, staff, user_a):
    client = client_for(ml_user)
    feed = client.get("/api/recommendations/", {"k": 8, "genre": "Drama"}).json()["results"]
    shown = feed[3]["item"]["id"]
    body = client.get("/api/recommendations/why-not/", {"item": shown, "k": 8, "genre": "Drama"}).json()
    assert body["feed"] == [r["item"]["id"] for r in feed]  # the very feed the same request gives
    assert (body["verdict"], body["position"], body["item"]["id"]) == ("shown", 4, shown)
    assert feed[3]["explanation"]["sentence"] in body["sentence"]
    assert body["user"] == "ml_1" and body["request_id"]

    # a candidate the genre filter leaves out, and one ranked below the feed
    _feed, trace = serving.feed_traced(ml_user, k=8, context=serving.FeedContext(genre="Drama"))
    not_drama = min(set(trace.scores) - trace.passed)
    body = client.get("/api/recommendations/why-not/", {"item": not_drama, "k": 8, "genre": "Drama"}).json()
    assert body["verdict"] == "filtered" and body["signals"] == []
    below = sorted(trace.passed, key=lambda pk: -trace.scores[pk])[40]
    body = client.get("/api/recommendations/why-not/", {"item": below, "k": 8, "genre": "Drama"}).json()
    assert (body["verdict"], body["rank"]) == ("outranked", 41)
    assert body["compared_with"]["id"] == body["feed"][-1] and body["cutoff"] == feed[-1]["score"]
    gaps = [share["item"] - share["card"] for share in body["signals"]]  # the furthest behind first
    assert gaps and gaps == sorted(gaps) and gaps[0] < 0
    assert sum(share["card"] for share in body["signals"]) == pytest.approx(
        feed[-1]["score"] - feed[-1]["explanation"]["contributions"]["baseline"], abs=1e-3)

    rated = Review.objects.filter(user=ml_user).first().item_id
    assert client.get("/api/recommendations/why-not/", {"item": rated}).json()["verdict"] == "rated"
    as_staff = client_for(staff).get("/api/recommendations/why-not/", {"item": rated, "user": ml_user.pk}).json()
    assert (as_staff["verdict"], as_staff["user"]) == ("rated", "ml_1")

    withdrawn = Item.objects.exclude(reviews__user=ml_user).first()
    Item.objects.filter(pk=withdrawn.pk).update(is_active=False)  # shoppers no longer see it: not even by id
    assert_error(client.get("/api/recommendations/why-not/", {"item": withdrawn.pk}), 400, "item")
    as_staff = client_for(staff).get("/api/recommendations/why-not/", {"item": withdrawn.pk}).json()
    assert as_staff["verdict"] == "inactive"
    assert_error(anon.get("/api/recommendations/why-not/", {"item": rated}), 401)
    assert_error(client_for(user_a).get("/api/recommendations/why-not/", {"item": rated, "user": ml_user.pk}), 403)
    for params in ({}, {"item": "abc"}, {"item": 10**12}, {"item": rated, "k": 0}):
        assert_error(client.get("/api/recommendations/why-not/", params), 400, *(
            ["k"] if "k" in params else ["item"]))

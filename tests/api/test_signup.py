"""POST /api/auth/signup/ and /api/me/onboarding/: an app can create an account and start its
feed as the storefront's sign-up and onboarding pages do."""

import pytest
from django.contrib.auth.models import User

from catalog.models import Event, EventKind, Item, Profile
from tests.api.conftest import assert_error, client_for, set_rates

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-app-passphrase-2026"


def test_sign_up_then_pick_films_starts_the_feed(anon, trained_model):
    response = anon.post("/api/auth/signup/", {"username": "appshopper", "password": PASSWORD,
                                               "interests": "space adventures"}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    user = User.objects.get(username="appshopper")
    assert user.check_password(PASSWORD) and body["token"] == user.auth_token.key
    assert body["user"]["username"] == "appshopper"
    assert body["user"]["profile"]["interests"] == "space adventures"
    assert body["user"]["profile"]["onboarded"] is False

    app = client_for(user)
    offer = app.get("/api/me/onboarding/").json()
    assert offer["onboarded"] is False and offer["interests"] == "space adventures"
    assert len(offer["choices"]) == 24
    assert "Star Wars" in [choice["title"] for choice in offer["choices"][:12]]  # matches the interests first

    star_wars, alien = Item.objects.get(external_id="ml:50"), Item.objects.get(external_id="ml:183")
    done = app.post("/api/me/onboarding/", {"picks": [star_wars.pk, alien.pk, star_wars.pk]}, format="json")
    assert done.status_code == 200 and done.json()["onboarded"] is True
    picked = Event.objects.filter(user=user, kind=EventKind.MORE_LIKE_THIS)
    assert sorted(picked.values_list("item_id", flat=True)) == sorted([star_wars.pk, alien.pk])
    assert all(event.context == {"source": "onboarding"} for event in picked)
    # the feed starts from the picks: cards are explained by them
    feed = app.get("/api/recommendations/", {"k": 10}).json()["results"]
    assert len(feed) == 10
    sentences = " ".join(rec["explanation"]["sentence"] for rec in feed)
    assert "Star Wars (1977)" in sentences or "Alien (1979)" in sentences, sentences


def test_skipping_onboarding(client_a, user_a, db):
    response = client_a.post("/api/me/onboarding/", {"picks": []}, format="json")
    assert response.status_code == 200 and response.json()["onboarded"] is True
    assert Profile.objects.get(user=user_a).onboarded
    assert not Event.objects.filter(user=user_a).exists()


def test_sign_up_errors_name_the_field_and_create_nothing(anon, user_a):
    def error(body: dict, *fields: str) -> dict:
        return assert_error(anon.post("/api/auth/signup/", body, format="json"), 400, *fields)

    assert "already exists" in error({"username": "alice", "password": PASSWORD}, "username")["fields"]["username"][0]
    error({"username": "ALICE", "password": PASSWORD}, "username")  # Django's usernames ignore case
    error({"username": "new one", "password": PASSWORD}, "username")
    error({"username": "x" * 151, "password": PASSWORD}, "username")
    error({"username": "newbie", "password": "newbie"}, "password")  # too similar, too short
    error({"username": "newbie", "password": "12345678901"}, "password")  # entirely numeric
    error({"username": "newbie"}, "password")
    error({"username": "newbie", "password": PASSWORD, "interests": "x" * 2001}, "interests")
    error({"username": "newbie", "password": PASSWORD, "email": "n@example"}, "email")  # not an address
    error({"username": "newbie", "password": PASSWORD, "phone": "555"}, "phone")  # unknown key
    assert not User.objects.filter(username__in=["newbie", "new one"]).exists()
    assert not User.objects.filter(username__startswith="xxx").exists()


def test_any_password_sign_up_takes_also_signs_in(anon, db):
    """Sign-up took passwords up to 4,096 characters and the token endpoint 128: such an account
    could never sign in from an app (the web log-in worked)."""
    long = "correct horse battery staple " * 100  # 2,900 characters
    assert anon.post("/api/auth/signup/", {"username": "verbose", "password": long}, format="json").status_code == 201
    token = anon.post("/api/auth/token/", {"username": "verbose", "password": long}, format="json")
    assert token.status_code == 200 and token.json()["token"]
    assert_error(anon.post("/api/auth/token/", {"username": "verbose", "password": "x" * 4097}, format="json"),
                 400, "password")


def test_sign_up_is_throttled_like_logging_in(anon, db):
    set_rates({"anon": "100000/s", "user": "100000/s", "login": "2/min"})
    for n in range(2):
        assert anon.post("/api/auth/signup/", {"username": f"burst{n}", "password": PASSWORD},
                         format="json").status_code == 201
    assert_error(anon.post("/api/auth/signup/", {"username": "burst3", "password": PASSWORD}, format="json"), 429)
    assert sorted(User.objects.filter(username__startswith="burst").values_list("username", flat=True)) == [
        "burst0", "burst1"]


def test_onboarding_bad_input(client_a, user_a, anon, db):
    item = Item.objects.create(title="Retired", slug="retired", external_id="t:1", is_active=False)
    assert_error(client_a.post("/api/me/onboarding/", {"picks": [item.pk]}, format="json"), 400, "picks.0")
    assert_error(client_a.post("/api/me/onboarding/", {"picks": "1"}, format="json"), 400, "picks")
    assert_error(client_a.post("/api/me/onboarding/", {}, format="json"), 400, "picks")
    assert_error(client_a.post("/api/me/onboarding/", {"picks": list(range(1, 52))}, format="json"), 400, "picks")
    assert_error(anon.get("/api/me/onboarding/"), 401)
    assert not Event.objects.filter(user=user_a).exists()
    assert not Profile.objects.filter(user=user_a, onboarded=True).exists()


def test_onboarding_names_the_bad_pick_where_it_was_sent(client_a, user_a, db):
    """Duplicates were dropped before the picks were numbered: [50, 50, <bad>] named picks.1."""
    item = Item.objects.create(title="Picked", slug="picked", external_id="t:picked")
    error = assert_error(client_a.post("/api/me/onboarding/", {"picks": [item.pk, item.pk, 99999999]}, format="json"),
                         400, "picks.2")
    assert set(error["fields"]) == {"picks.2"}
    error = assert_error(client_a.post("/api/me/onboarding/", {"picks": [99999999, item.pk, 99999999]},
                                       format="json"), 400, "picks.0", "picks.2")
    assert set(error["fields"]) == {"picks.0", "picks.2"}
    assert not Event.objects.filter(user=user_a).exists()


def test_onboarding_limit_counts_different_films(client_a, user_a, db):
    """51 copies of one film were refused by the 50-pick limit, though it is one pick."""
    items = Item.objects.bulk_create([Item(title=f"Pick {n}", slug=f"pick-{n}", external_id=f"t:pick-{n}")
                                      for n in range(51)])
    error = assert_error(client_a.post("/api/me/onboarding/", {"picks": [i.pk for i in items]}, format="json"),
                         400, "picks")
    assert "50" in error["fields"]["picks"][0]
    assert not Event.objects.filter(user=user_a).exists()
    response = client_a.post("/api/me/onboarding/", {"picks": [items[0].pk] * 51}, format="json")
    assert response.status_code == 200, response.content
    assert Event.objects.filter(user=user_a, kind=EventKind.MORE_LIKE_THIS).count() == 1

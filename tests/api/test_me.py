"""/api/me/, /api/me/export/, DELETE /api/me/ and /api/auth/token/."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.contrib.auth.models import User
from django.contrib.sessions.models import Session
from django.db import transaction
from rest_framework.authtoken.models import Token

from catalog.models import CartLine, Event, Item, Profile, Review
from tests.api.conftest import assert_error, client_for
from tests.conftest import own_connection

pytestmark = pytest.mark.django_db


def test_token_login(user_a, anon):
    response = anon.post("/api/auth/token/", {"username": "alice", "password": "alice-pw-2026"}, format="json")
    assert response.status_code == 200 and response.json()["token"] == user_a.auth_token.key
    me = anon.get("/api/me/", HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    assert me.json()["username"] == "alice"
    assert_error(anon.post("/api/auth/token/", {"username": "alice", "password": "wrong"}, format="json"), 400,
                 "non_field_errors")
    assert_error(anon.post("/api/auth/token/", {"username": "alice"}, format="json"), 400, "password")
    assert_error(anon.get("/api/me/", HTTP_AUTHORIZATION="Token not-a-token"), 401)


def test_session_auth_works_too(user_a, anon):
    anon.login(username="alice", password="alice-pw-2026")
    assert anon.get("/api/me/").json()["username"] == "alice"


def test_usernames_are_checked_as_stored(client_a, user_a, user_b):
    """Django NFKC-normalises a username in ``clean``, after the field checks: one 'ﷺ' was stored
    as 'صلى الله عليه وسلم' (with spaces), ten were a database error (189 characters)."""
    assert_error(client_a.patch("/api/me/", {"username": "\ufdfa"}, format="json"), 400, "username")
    error = assert_error(client_a.patch("/api/me/", {"username": "\ufdfa" * 10}, format="json"), 400, "username")
    assert "150 characters" in error["message"]
    assert_error(client_a.patch("/api/me/", {"username": "ｂｏｂ"}, format="json"), 400, "username")  # is bob
    assert User.objects.get(pk=user_a.pk).username == "alice"
    response = client_a.patch("/api/me/", {"username": "ａｌｉｃｅ２"}, format="json")
    assert response.status_code == 200 and response.json()["username"] == "alice2"


@pytest.mark.parametrize("held", ["race-me-new", "RACE-ME-NEW"])
def test_a_username_taken_meanwhile_is_400(held):
    """Two users take one new username at once: the second's check ran before the first
    committed, then its save failed on the unique username (a 500). In another case both
    renames succeeded, until the unique index on lower(username); then the exact check that
    read the database's refusal found nothing (a 500 again)."""
    first_saved = threading.Event()

    def setup() -> list[User]:
        users = [User.objects.create_user(f"race-me-{n}") for n in (0, 1)]
        Token.objects.create(user=users[1])
        return users

    def rename_and_hold(user: User) -> None:
        with transaction.atomic():
            user.username = held
            user.save(update_fields=["username"])
            first_saved.set()
            time.sleep(1.0)  # meanwhile the API finds the name free, then waits on the update

    def rename_through_the_api(user: User) -> tuple[int, dict]:
        response = client_for(user).patch("/api/me/", {"username": "race-me-new"}, format="json")
        return response.status_code, response.json()

    with ThreadPoolExecutor(2) as pool:
        users = pool.submit(own_connection(setup)).result()
        try:
            first = pool.submit(own_connection(rename_and_hold, users[0]))
            assert first_saved.wait(30)
            second = pool.submit(own_connection(rename_through_the_api, users[1]))
            first.result(60)
            status, body = second.result(60)
            assert status == 400 and body["error"]["fields"]["username"], body
        finally:
            pool.submit(own_connection(lambda: User.objects.filter(username__startswith="race-me-").delete())).result()


def test_me_get_and_patch(client_a, anon, user_a, user_b):
    assert_error(anon.get("/api/me/"), 401)
    me = client_a.get("/api/me/").json()
    assert me["username"] == "alice" and me["profile"]["interests"] == "" and me["is_staff"] is False
    patched = client_a.patch("/api/me/", {"username": "alice2", "profile": {
        "interests": "space operas and film noir", "personalization_opt_out": True}}, format="json")
    assert patched.status_code == 200, patched.content
    assert patched.json()["username"] == "alice2"
    assert patched.json()["profile"]["interests"] == "space operas and film noir"  # the saved profile, not a stale one
    profile = Profile.objects.get(user=user_a)
    assert profile.interests == "space operas and film noir" and profile.personalization_opt_out
    assert_error(client_a.patch("/api/me/", {"username": "bob"}, format="json"), 400, "username")
    assert_error(client_a.patch("/api/me/", {"username": "bad name!"}, format="json"), 400, "username")
    assert_error(client_a.patch("/api/me/", {"profile": {"interests": "x" * 2001}}, format="json"), 400,
                 "profile.interests")
    assert_error(client_a.patch("/api/me/", {"is_staff": True, "profile": "x"}, format="json"), 400, "profile")
    assert User.objects.get(pk=user_a.pk).is_staff is False
    # a profile field at the top level, or a typo, is named: not a 200 that changed nothing
    assert_error(client_a.patch("/api/me/", {"age": -5}, format="json"), 400, "age")
    assert_error(client_a.patch("/api/me/", {"profile": {"interest": "jazz"}}, format="json"), 400,
                 "profile.interest")
    me = client_a.get("/api/me/").json()
    me["profile"]["interests"] = "jazz"
    sent_back = client_a.patch("/api/me/", me, format="json")  # GET's body, read-only keys and all
    assert sent_back.status_code == 200, sent_back.content
    assert sent_back.json()["profile"]["interests"] == "jazz"


def test_demographics_need_consent(client_a, user_a):
    assert_error(client_a.patch("/api/me/", {"profile": {"age": 30}}, format="json"), 400, "profile.age")
    ok = client_a.patch("/api/me/", {"profile": {"demographics_consent": True, "age": 30, "gender": "F",
                                                 "occupation": "writer"}}, format="json")
    assert ok.status_code == 200 and ok.json()["profile"]["age"] == 30
    assert client_a.patch("/api/me/", {"profile": {"interests": "jazz"}}, format="json").json()["profile"]["age"] == 30
    assert_error(client_a.patch("/api/me/", {"profile": {"age": 131}}, format="json"), 400, "profile.age")
    assert_error(client_a.patch("/api/me/", {"profile": {"gender": "Q"}}, format="json"), 400, "profile.gender")
    withdrawn = client_a.patch("/api/me/", {"profile": {"demographics_consent": False}}, format="json").json()
    assert withdrawn["profile"]["age"] is None and withdrawn["profile"]["gender"] == ""


def test_export_is_the_callers_data_only(ml100k, client_a, client_b, user_a, anon):
    item = Item.objects.get(slug="star-wars-1977")
    client_a.post("/api/reviews/", {"item": item.pk, "rating": 5, "text": "Alice's words"}, format="json")
    client_b.post("/api/reviews/", {"item": item.pk, "rating": 1, "text": "Bob's words"}, format="json")
    export = client_a.get("/api/me/export/")
    assert export.status_code == 200
    data = export.json()
    assert data["account"]["username"] == "alice"
    assert [r["text"] for r in data["reviews"]] == ["Alice's words"]
    assert {e["kind"] for e in data["events"]} == {"rate"}
    assert "Bob's words" not in export.content.decode()
    assert_error(anon.get("/api/me/export/"), 401)


def test_erasure(ml100k, client_a, client_b, user_a, user_b, anon):
    item = Item.objects.get(slug="star-wars-1977")
    anon.login(username="alice", password="alice-pw-2026")
    session_key = anon.session.session_key
    anon.post("/api/reviews/", {"item": item.pk, "rating": 4}, format="json")  # session auth: CSRF off in tests
    client_b.post("/api/reviews/", {"item": item.pk, "rating": 3}, format="json")
    Event.objects.create(item=item, kind="view", session_key=session_key, created_at=item.created_at)
    assert_error(anon.delete("/api/me/", HTTP_AUTHORIZATION="Token nope"), 401)
    response = anon.delete("/api/me/")
    assert response.status_code == 204
    assert not User.objects.filter(pk=user_a.pk).exists()
    assert not Review.objects.filter(user_id=user_a.pk).exists()
    assert not Event.objects.filter(session_key=session_key).exists()
    assert not Session.objects.filter(session_key=session_key).exists()
    assert Review.objects.filter(user=user_b).count() == 1  # B untouched
    assert_error(client_a.get("/api/me/"), 401)  # the token went with the account
    assert_error(anon.get("/api/me/"), 401)


def test_history_lists_and_switches_what_recommendations_use(ml100k, client_a, client_b, user_a, anon):
    star_wars, fargo = Item.objects.get(slug="star-wars-1977"), Item.objects.get(slug="fargo-1996")
    client_a.post("/api/reviews/", {"item": star_wars.pk, "rating": 5}, format="json")
    viewed = client_a.post("/api/events/", {"events": [{"item": fargo.pk, "kind": "view", "idempotency_key": "h-1"}]},
                           format="json")
    assert viewed.status_code == 200, viewed.content
    listed = client_a.get("/api/me/history/")
    assert listed.status_code == 200 and listed.json()["count"] == 2
    first, second = listed.json()["results"]
    assert (first["item"]["slug"], first["actions"], first["used_for_recommendations"]) == (
        "fargo-1996", [{"kind": "view", "times": 1}], True)
    assert (second["item"]["slug"], second["rating"]) == ("star-wars-1977", 5.0)

    off = client_a.patch(f"/api/me/history/{star_wars.pk}/", {"used_for_recommendations": False}, format="json")
    assert off.status_code == 200 and off.json()["used_for_recommendations"] is False
    assert client_a.get(f"/api/me/history/{star_wars.pk}/").json()["used_for_recommendations"] is False
    assert client_b.get("/api/me/history/").json()["count"] == 0  # the caller's own only
    assert_error(client_b.get(f"/api/me/history/{star_wars.pk}/"), 404)
    on = client_a.patch(f"/api/me/history/{star_wars.pk}/", {"used_for_recommendations": True}, format="json")
    assert on.json()["used_for_recommendations"] is True

    # "not interested" and its undo; an event only when the answer changes
    hide = client_a.patch(f"/api/me/history/{fargo.pk}/", {"not_interested": True}, format="json")
    assert hide.status_code == 200 and hide.json()["not_interested"] is True
    client_a.patch(f"/api/me/history/{fargo.pk}/", {"not_interested": True}, format="json")
    assert Event.objects.filter(user=user_a, item=fargo, kind="not_interested").count() == 1
    shown = client_a.patch(f"/api/me/history/{fargo.pk}/", {"not_interested": False}, format="json")
    assert shown.json()["not_interested"] is False and shown.json()["used_for_recommendations"] is True
    assert Event.objects.filter(user=user_a, item=fargo, kind="show_again").count() == 1

    # any catalogue item may be excluded in advance; used again it has no history left
    alien = Item.objects.get(slug="alien-1979")
    ahead = client_b.patch(f"/api/me/history/{alien.pk}/", {"used_for_recommendations": False}, format="json")
    assert ahead.status_code == 200 and ahead.json()["actions"] == [] and ahead.json()["rating"] is None
    back = client_b.patch(f"/api/me/history/{alien.pk}/", {"used_for_recommendations": True}, format="json")
    assert back.status_code == 200 and back.json()["last_at"] is None

    assert_error(anon.get("/api/me/history/"), 401)
    assert_error(anon.patch(f"/api/me/history/{alien.pk}/", {"used_for_recommendations": False}, format="json"), 401)
    assert_error(client_a.patch(f"/api/me/history/{alien.pk}/", {"not_interested": "no way"}, format="json"), 400,
                 "not_interested")
    for bad in ({}, {"used_for_recommendations": "maybe"}, {"used_for_recommendations": None}):
        assert_error(client_a.patch(f"/api/me/history/{alien.pk}/", bad, format="json"), 400,
                     "used_for_recommendations")
    assert_error(client_a.patch(f"/api/me/history/{alien.pk}/", {"used_for_recommendations": False, "use": 1},
                                format="json"), 400, "use")
    for missing in ("999999", "abc", "-1"):
        assert_error(client_a.patch(f"/api/me/history/{missing}/", {"used_for_recommendations": False},
                                    format="json"), 404)
    assert not user_a.history_exclusions.exists()


def test_a_username_differing_only_in_case_is_taken(client_a, user_a, user_b, anon):
    """Sign-up refuses 'BOB' next to 'bob' (Django's usernames ignore case there); PATCH only
    compared exactly, so 'BOB' became a second bob."""
    signup = assert_error(anon.post("/api/auth/signup/", {"username": "BOB", "password": "Xq9!long-pass-2026"},
                                    format="json"), 400, "username")
    error = assert_error(client_a.patch("/api/me/", {"username": "BOB"}, format="json"), 400, "username")
    assert error["fields"]["username"] == signup["fields"]["username"] == ["A user with that username already exists."]
    assert User.objects.get(pk=user_a.pk).username == "alice"
    assert_error(client_a.patch("/api/me/", {"username": "ｂOb"}, format="json"), 400, "username")  # NFKC, then case
    User.objects.create_user("İlker")  # PostgreSQL: lower('İlker') = 'ilker', upper('ilker') = 'ILKER'
    assert_error(client_a.patch("/api/me/", {"username": "ilker"}, format="json"), 400, "username")
    recased = client_a.patch("/api/me/", {"username": "Alice"}, format="json")  # one's own name: not a clash
    assert recased.status_code == 200 and recased.json()["username"] == "Alice"


def test_token_request_rejects_unknown_keys(user_a, anon):
    """A misspelt key ('pasword') was ignored: the login answered 200 (docs: unknown keys are a 400)."""
    error = assert_error(anon.post("/api/auth/token/", {"username": "alice", "password": "alice-pw-2026",
                                                        "pasword": "typo"}, format="json"), 400, "pasword")
    assert error["fields"]["pasword"] == ["Unknown field."]


def test_export_matches_its_schema(ml100k, client_a, user_a):
    """The export's ``cart`` key was missing from the OpenAPI ``Export`` component."""
    from drf_spectacular.generators import SchemaGenerator

    item = Item.objects.get(slug="star-wars-1977")
    CartLine.objects.create(user=user_a, item=item)
    data = client_a.get("/api/me/export/").json()
    schemas = SchemaGenerator().get_schema(request=None, public=True)["components"]["schemas"]
    export = schemas["Export"]
    assert set(data) == set(export["properties"]) == set(export["required"])
    cart = export["properties"]["cart"]
    assert cart["type"] == "array"
    line = schemas[cart["items"]["$ref"].rsplit("/", 1)[1]]
    assert data["cart"] and set(data["cart"][0]) == set(line["properties"])
    assert data["cart"][0]["item"] == item.external_id

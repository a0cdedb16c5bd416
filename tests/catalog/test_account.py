"""The account itself: an email address for password resets, changing the password and
resetting a forgotten one, in the storefront and the API."""

from __future__ import annotations

import re
import time

import pytest
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import User
from django.core import mail
from django.core.exceptions import ValidationError
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

PASSWORD = "old-secret-4711"
NEW_PASSWORD = "brand-new-secret-0815"


@pytest.fixture
def shopper() -> User:
    return User.objects.create_user("forgetful", email="forgetful@example.com", password=PASSWORD)


def test_a_forgotten_password_is_reset_by_email_in_the_store(client, shopper):
    login = client.get(reverse("login")).content.decode()
    assert f'href="{reverse("password_reset")}"' in login and f'href="{reverse("signup")}"' in login
    form = client.get(reverse("password_reset"))
    assert "Forgot your password?" in form.content.decode() and 'class="topbar"' in form.content.decode()
    response = client.post(reverse("password_reset"), {"email": "forgetful@example.com"})
    assert response.status_code == 302 and "Check your email" in client.get(response.url).content.decode()
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["forgetful@example.com"]
    assert "forgetful" in mail.outbox[0].body and "The link works once" in mail.outbox[0].body
    link = re.search(r"http://testserver(/accounts/reset/\S+/)", mail.outbox[0].body).group(1)

    set_password = client.get(link, follow=True)  # Django swaps the token for a session and redirects
    assert "Choose a new password" in set_password.content.decode()
    url = set_password.redirect_chain[-1][0]
    weak = client.post(url, {"new_password1": "12345678", "new_password2": "12345678"})
    assert weak.status_code == 200 and "This password is too common." in weak.content.decode()
    done = client.post(url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}, follow=True)
    assert "Your new password is set." in done.content.decode()
    assert client.login(username="forgetful", password=NEW_PASSWORD)
    client.logout()
    assert "This link no longer works" in client.get(link, follow=True).content.decode()


def test_a_reset_for_an_unknown_address_says_the_same_and_sends_nothing(client, shopper):
    response = client.post(reverse("password_reset"), {"email": "nobody@example.com"})
    assert response.status_code == 302 and response.url == reverse("password_reset_done")
    assert mail.outbox == []


def test_changing_the_password_keeps_this_session(client, shopper):
    client.force_login(shopper)
    profile = client.get(reverse("profile")).content.decode()
    assert f'href="{reverse("password_change")}"' in profile
    page = client.get(reverse("password_change")).content.decode()
    assert "Change your password" in page and 'class="topbar"' in page
    wrong = client.post(reverse("password_change"), {"old_password": "guess", "new_password1": NEW_PASSWORD,
                                                     "new_password2": NEW_PASSWORD})
    assert wrong.status_code == 200 and "Your old password was entered incorrectly" in wrong.content.decode()
    response = client.post(reverse("password_change"), {"old_password": PASSWORD, "new_password1": NEW_PASSWORD,
                                                        "new_password2": NEW_PASSWORD}, follow=True)
    assert "Your password is changed." in response.content.decode()
    assert client.get(reverse("profile")).status_code == 200  # still signed in
    shopper.refresh_from_db()
    assert shopper.check_password(NEW_PASSWORD)


def test_an_email_address_is_given_at_sign_up_and_changed_on_the_profile(client):
    bad = client.post(reverse("signup"), {"username": "mailer", "email": "not-an-address",
                                          "password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert bad.status_code == 200 and "Enter a valid email address." in bad.content.decode()
    assert not User.objects.filter(username="mailer").exists()
    client.post(reverse("signup"), {"username": "mailer", "email": "mailer@example.com",
                                    "password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    user = User.objects.get(username="mailer")
    assert user.email == "mailer@example.com"
    assert 'value="mailer@example.com"' in client.get(reverse("profile")).content.decode()

    def email(value: str) -> list[str]:  # the profile page the form returns to, and its messages
        response = client.post(reverse("account_email"), {"email": value}, follow=True)
        assert response.redirect_chain == [(reverse("profile"), 302)]
        return [str(m) for m in response.context["messages"]]

    assert email("nope") == ["Email address: Enter a valid email address."]
    assert email("new@example.com") == ["Your email address is saved."]
    user.refresh_from_db()
    assert user.email == "new@example.com"
    assert "you cannot reset a forgotten password now" in email("")[0]
    user.refresh_from_db()
    assert user.email == ""
    assert client.get(reverse("account_email")).status_code == 405


def test_the_api_sets_the_email_and_changes_the_password_with_a_new_token(shopper):
    api = APIClient()
    old_token = Token.objects.create(user=shopper)
    api.credentials(HTTP_AUTHORIZATION=f"Token {old_token.key}")
    bad = api.patch("/api/me/", {"email": "nope"}, format="json")
    assert bad.status_code == 400 and list(bad.json()["error"]["fields"]) == ["email"]
    assert api.patch("/api/me/", {"email": "api@example.com"}, format="json").json()["email"] == "api@example.com"

    url = "/api/me/password/"
    wrong = api.post(url, {"old_password": "guess", "new_password": NEW_PASSWORD}, format="json")
    assert wrong.status_code == 400 and list(wrong.json()["error"]["fields"]) == ["old_password"]
    weak = api.post(url, {"old_password": PASSWORD, "new_password": "forgetful"}, format="json")
    assert weak.status_code == 400 and list(weak.json()["error"]["fields"]) == ["new_password"]
    assert api.post(url, {"old_password": PASSWORD}, format="json").json()["error"]["fields"] == {
        "new_password": ["This field is required."]}
    shopper.refresh_from_db()
    assert shopper.check_password(PASSWORD)  # nothing changed yet

    response = api.post(url, {"old_password": PASSWORD, "new_password": NEW_PASSWORD}, format="json")
    assert response.status_code == 200 and response.json()["token"] != old_token.key
    assert api.get("/api/me/").status_code == 401  # the old token is gone
    api.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    assert api.get("/api/me/").json()["email"] == "api@example.com"
    assert APIClient().post("/api/auth/token/", {"username": "forgetful", "password": NEW_PASSWORD},
                            format="json").status_code == 200
    assert APIClient().post(url, {"old_password": PASSWORD, "new_password": NEW_PASSWORD},
                            format="json").status_code == 401


def test_api_sign_up_takes_an_email_address():
    api = APIClient()
    bad = api.post("/api/auth/signup/", {"username": "apimail", "password": NEW_PASSWORD, "email": "x"}, format="json")
    assert bad.status_code == 400 and list(bad.json()["error"]["fields"]) == ["email"]
    created = api.post("/api/auth/signup/", {"username": "apimail", "password": NEW_PASSWORD,
                                             "email": "apimail@example.com"}, format="json")
    assert created.status_code == 201 and created.json()["user"]["email"] == "apimail@example.com"


def test_password_attempts_share_one_budget_across_the_store_the_admin_and_the_api(client, shopper, settings):
    """10 a minute per address (the API's ``login`` rate): the storefront's log-in, the admin's,
    sign-up, password resets and ``/api/auth/token/`` count together, so none is a way around it."""
    for n in range(4):
        assert client.post(reverse("login"), {"username": "forgetful", "password": f"guess-{n}"}).status_code == 200
    for n in range(3):
        admin_login = client.post(reverse("admin:login"), {"username": "forgetful", "password": f"guess-{n}"})
        assert admin_login.status_code == 200
    assert client.post(reverse("password_reset"), {"email": "nobody@example.com"}).status_code == 302
    assert client.post(reverse("signup"), {"username": "x", "password1": "a", "password2": "b"}).status_code == 200
    assert APIClient().post("/api/auth/token/", {"username": "forgetful", "password": "guess"},
                            format="json").status_code == 400  # the 10th

    refused = client.post(reverse("login"), {"username": "forgetful", "password": PASSWORD})  # right, but too late
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert "Too many attempts from here" in refused.content.decode() and "_auth_user_id" not in client.session
    assert refused.context["form"].is_bound is False  # the password was not even checked
    admin_refused = client.post(reverse("admin:login"), {"username": "forgetful", "password": PASSWORD}, follow=True)
    assert "Too many attempts from here" in admin_refused.content.decode() and "_auth_user_id" not in client.session
    assert client.post(reverse("password_reset"), {"email": "forgetful@example.com"}).status_code == 429
    assert mail.outbox == []
    signup = client.post(reverse("signup"), {"username": "late", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert signup.status_code == 429 and not User.objects.filter(username="late").exists()
    assert APIClient().post("/api/auth/token/", {"username": "forgetful", "password": PASSWORD},
                            format="json").status_code == 429


def test_a_signed_in_shopper_has_their_own_budget_for_changing_the_password(client, shopper):
    client.force_login(shopper)
    for n in range(10):
        client.post(reverse("password_change"), {"old_password": f"guess-{n}", "new_password1": NEW_PASSWORD,
                                                 "new_password2": NEW_PASSWORD})
    refused = client.post(reverse("password_change"), {"old_password": PASSWORD, "new_password1": NEW_PASSWORD,
                                                       "new_password2": NEW_PASSWORD})
    assert refused.status_code == 429 and "Too many attempts" in refused.content.decode()
    shopper.refresh_from_db()
    assert shopper.check_password(PASSWORD)
    assert APIClient().post("/api/auth/token/", {"username": "forgetful", "password": PASSWORD},
                            format="json").status_code == 200  # the address's budget is another


def test_an_account_deleted_in_the_admin_takes_its_sessions_and_their_anonymous_events(staff_client, shopper):
    """No foreign key links a session or the events of its anonymous visit to the account: an
    erasure deleted them, the admin's delete button did not."""
    from django.contrib.sessions.models import Session
    from django.utils import timezone

    from catalog.models import Event, Item
    from recsite.sessions import SessionStore

    store = SessionStore()
    store.create()
    film = Item.objects.create(title="Browsed Film", slug="browsed-film", external_id="t:browsed")
    now = timezone.now()
    before_login = Event.objects.create(session_key=store.session_key, item=film, kind="view", created_at=now)
    Event.objects.create(user=shopper, session_key=store.session_key, item=film, kind="click", created_at=now)
    stranger = Event.objects.create(session_key="another-visitor", item=film, kind="view", created_at=now)

    url = reverse("admin:auth_user_delete", args=[shopper.pk])
    assert staff_client.post(url, {"post": "yes"}).status_code == 302
    assert not User.objects.filter(pk=shopper.pk).exists()
    assert not Event.objects.filter(pk=before_login.pk).exists()
    assert not Session.objects.filter(session_key=store.session_key).exists()
    assert Event.objects.filter(pk=stranger.pk).exists()


def test_an_app_asks_for_the_reset_link_through_the_api(client, shopper):
    api = APIClient()
    url = "/api/auth/password-reset/"
    unknown = api.post(url, {"email": "nobody@example.com"}, format="json")
    assert unknown.status_code == 202 and mail.outbox == []
    known = api.post(url, {"email": "forgetful@example.com"}, format="json")
    assert known.status_code == 202 and known.json() == unknown.json()  # says nothing about who is a customer
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["forgetful@example.com"]
    link = re.search(r"http://testserver(/accounts/reset/\S+/)", mail.outbox[0].body).group(1)
    assert "Choose a new password" in client.get(link, follow=True).content.decode()  # the storefront's page
    bad = api.post(url, {"email": "not-an-address"}, format="json")
    assert bad.status_code == 400 and list(bad.json()["error"]["fields"]) == ["email"]
    assert list(api.post(url, {"mail": "x@example.com"}, format="json").json()["error"]["fields"]) == ["mail"]


def test_an_account_gets_one_reset_mail_per_interval_whoever_asks(client, shopper, settings):
    """The throttle counts per client; this counts per inbox: asking again, from the store or the
    API, from here or elsewhere, sends nothing new until the interval is over, and the answer
    does not change (it would tell who is a customer)."""
    settings.PASSWORD_RESET_MAIL_INTERVAL = 2
    other = User.objects.create_user("neighbour", email="neighbour@example.com", password=PASSWORD)
    first = client.post(reverse("password_reset"), {"email": "forgetful@example.com"})
    again = client.post(reverse("password_reset"), {"email": "forgetful@example.com"}, REMOTE_ADDR="198.51.100.7")
    assert first.status_code == again.status_code == 302 and first.url == again.url
    api = APIClient()
    assert api.post("/api/auth/password-reset/", {"email": "forgetful@example.com"}, format="json").status_code == 202
    assert api.post("/api/auth/password-reset/", {"email": other.email}, format="json").status_code == 202
    assert [m.to for m in mail.outbox] == [["forgetful@example.com"], ["neighbour@example.com"]]
    time.sleep(2.1)
    client.post(reverse("password_reset"), {"email": "forgetful@example.com"})
    assert [m.to for m in mail.outbox][2:] == [["forgetful@example.com"]]


def _signed_in_app(user: User) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    assert api.get("/api/me/").status_code == 200
    return api


def test_a_new_password_signs_the_apps_out_however_it_is_set(client, shopper, settings):
    """An app that has the token keeps working through logins and a hash upgrade, and stops when
    the password changes: by the reset link, the store's change page, or the admin and shell."""
    app = _signed_in_app(shopper)
    settings.PASSWORD_HASHERS = [*settings.PASSWORD_HASHERS, "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher"]
    User.objects.filter(pk=shopper.pk).update(password=make_password(PASSWORD, hasher="pbkdf2_sha1"))
    assert client.login(username="forgetful", password=PASSWORD)  # Django rehashes with the first hasher
    assert User.objects.get(pk=shopper.pk).password.startswith("md5$")
    assert APIClient().post("/api/auth/token/", {"username": "forgetful", "password": PASSWORD},
                            format="json").json()["token"] == Token.objects.get(user=shopper).key
    assert app.get("/api/me/").status_code == 200  # neither a login nor the rehash signed it out

    client.post(reverse("password_reset"), {"email": "forgetful@example.com"})
    link = re.search(r"http://testserver(/accounts/reset/\S+/)", mail.outbox[0].body).group(1)
    url = client.get(link, follow=True).redirect_chain[-1][0]
    client.post(url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert app.get("/api/me/").status_code == 401 and not Token.objects.filter(user=shopper).exists()

    app = _signed_in_app(shopper)
    shopper.refresh_from_db()
    client.force_login(shopper)
    changed = client.post(reverse("password_change"), {"old_password": NEW_PASSWORD, "new_password1": PASSWORD,
                                                       "new_password2": PASSWORD})
    assert changed.url == reverse("password_change_done") and app.get("/api/me/").status_code == 401

    app = _signed_in_app(shopper)
    other = User.objects.create_user("bystander", password=PASSWORD)
    bystander = _signed_in_app(other)
    shopper.refresh_from_db()
    shopper.set_password(NEW_PASSWORD)  # what the admin's password form and manage.py changepassword do
    shopper.save()
    assert app.get("/api/me/").status_code == 401 and bystander.get("/api/me/").status_code == 200
    shopper.first_name = "Fran"
    shopper.save()  # a save without a new password revokes nothing
    assert _signed_in_app(shopper).get("/api/me/").status_code == 200


def test_an_app_is_signed_out_by_the_api_or_from_the_profile_page(client, shopper):
    app = _signed_in_app(shopper)
    other = _signed_in_app(User.objects.create_user("bystander", password=PASSWORD))
    assert APIClient().delete("/api/me/token/").status_code == 401
    assert app.delete("/api/me/token/").status_code == 204
    assert app.get("/api/me/").status_code == 401 and other.get("/api/me/").status_code == 200
    assert app.delete("/api/me/token/").status_code == 401  # its token is gone

    client.force_login(shopper)
    session_api = APIClient()
    session_api.force_authenticate(shopper)
    assert session_api.delete("/api/me/token/").status_code == 204  # nothing to revoke: still a 204
    page = client.get(reverse("profile")).content.decode()
    assert "No app is signed in to your account." in page and "Sign my apps out" not in page

    app = _signed_in_app(shopper)
    page = client.get(reverse("profile")).content.decode()
    assert "An app or script signed in to your account" in page and "Sign my apps out" in page
    assert client.get(reverse("account_apps_signout")).status_code == 405
    response = client.post(reverse("account_apps_signout"), follow=True)
    assert [str(m) for m in response.context["messages"]] == [
        "Your apps are signed out: they need your password to sign in again."]
    assert app.get("/api/me/").status_code == 401 and other.get("/api/me/").status_code == 200
    assert client.get(reverse("profile")).status_code == 200  # the browser session stays
    response = client.post(reverse("account_apps_signout"), follow=True)
    assert [str(m) for m in response.context["messages"]] == ["No app was signed in to your account."]
    client.logout()
    assert client.post(reverse("account_apps_signout")).status_code == 302  # to the login page


def test_the_profile_page_keeps_demographics_only_with_consent(client, shopper):
    """As the API does (tests/api/test_me.py): it had stored age, gender and occupation with the
    consent box unticked, and said "Your profile is saved"."""
    from catalog import services
    from catalog.models import Profile

    client.force_login(shopper)
    url = reverse("profile")
    shared = {"interests": "jazz", "age": "40", "gender": "F", "occupation": "writer"}
    page = client.post(url, shared).content.decode()
    assert "Your profile is saved" not in page and page.count("to share this, or leave it empty") == 3
    assert Profile.objects.get(user=shopper).given_demographics() == []
    assert client.post(url, {**shared, "demographics_consent": "on"}).status_code == 302
    profile = Profile.objects.get(user=shopper)
    assert (profile.age, profile.gender, profile.occupation) == (40, "F", "writer")
    # unticking the box, with the form still showing what was shared, withdraws and clears it
    assert client.post(url, shared).status_code == 302
    assert Profile.objects.get(user=shopper).given_demographics() == []
    # and whoever else writes a profile (the admin, a script) meets the same rule
    with pytest.raises(ValidationError) as refused:
        services.profile_update(user=shopper, age=40)
    assert set(refused.value.message_dict) == {"age"} and Profile.objects.get(user=shopper).age is None

"""Usernames are unique in any case, in the database too (catalog migration 0009): two sign-ups or
renames at once could both pass the ``username__iexact`` check and save "demo" and "DEMO"."""

import importlib

import pytest
from django.apps import apps
from django.contrib.auth.models import User
from django.db import IntegrityError, connection, transaction
from django.urls import reverse
from rest_framework.test import APIClient

from catalog.forms import SignupForm

pytestmark = pytest.mark.django_db
TAKEN = ["A user with that username already exists."]
PASSWORD = "Xq9!long-pass-2026"


@pytest.fixture
def migration():
    return importlib.import_module("catalog.migrations.0009_username_case_insensitive_unique")


def test_the_database_refuses_a_username_differing_only_in_case(migration):
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE tablename = %s AND indexname = %s",
                       [User._meta.db_table, migration.INDEX])
        (definition,), = cursor.fetchall()
    assert definition.startswith("CREATE UNIQUE INDEX") and "lower((username)::text)" in definition
    User.objects.create(username="Casey")
    for clash in ("casey", "CASEY"):
        with pytest.raises(IntegrityError), transaction.atomic():
            User.objects.create(username=clash)


def test_the_migration_names_existing_case_duplicates_and_can_be_reversed(migration):
    with connection.schema_editor() as editor:
        migration.drop_index(apps, editor)  # the reverse migration
        User.objects.bulk_create([User(username=name) for name in ("Casey", "CASEY", "dana", "Dana", "eve")])
        with pytest.raises(RuntimeError, match=r"2 group\(s\).*'CASEY', 'Casey'; 'Dana', 'dana'\. Rename"):
            migration.create_index(apps, editor)
        User.objects.filter(username="CASEY").update(username="casey2")  # (a delete queues trigger events that
        User.objects.filter(username="Dana").update(username="dana2")  # CREATE INDEX refuses in a transaction)
        migration.create_index(apps, editor)
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create(username="EVE")


def _sign_up_page(client, username: str):
    return client.post(reverse("signup"), {"username": username, "password1": PASSWORD, "password2": PASSWORD})


def _sign_up_api(client, username: str):
    return APIClient().post("/api/auth/signup/", {"username": username, "password": PASSWORD}, format="json")


def _errors(response) -> list[str]:
    if response.headers["Content-Type"].startswith("application/json"):
        assert response.status_code == 400, response.content
        return response.json()["error"]["fields"]["username"]
    assert response.status_code == 200, response  # the form again, not a redirect
    return response.context["form"].errors["username"]


@pytest.mark.parametrize("sign_up", [_sign_up_page, _sign_up_api])
def test_a_sign_up_that_lost_the_race_for_a_username_is_a_form_error(client, monkeypatch, sign_up):
    """The check passed before the other account was committed (as if the form had not looked):
    the database's refusal is the usual error, not a 500."""
    User.objects.create_user("demo-race")
    monkeypatch.setattr(SignupForm, "clean_username", lambda form: form.cleaned_data["username"])
    assert _errors(sign_up(client, "DEMO-RACE")) == TAKEN
    assert list(User.objects.filter(username__iexact="demo-race").values_list("username", flat=True)) == ["demo-race"]


@pytest.mark.parametrize("sign_up", [_sign_up_page, _sign_up_api])
def test_a_username_only_the_database_finds_taken_is_refused_before_saving(client, sign_up):
    """PostgreSQL lowers 'İlker' to 'ilker' but upper-cases 'ilker' to 'ILKER': Django's
    ``iexact`` let 'ilker' through, the unique index on lower(username) does not."""
    User.objects.create_user("İlker")
    assert _errors(sign_up(client, "ilker")) == TAKEN


def test_the_admin_refuses_a_rename_to_a_username_differing_only_in_case(client):
    User.objects.create_superuser("boss", "boss@example.com", "boss-password-2026")
    client.login(username="boss", password="boss-password-2026")
    shopper = User.objects.create_user("shopper")
    url = reverse("admin:auth_user_change", args=[shopper.pk])
    form = {"date_joined_0": "2026-01-01", "date_joined_1": "00:00:00", "is_active": "on"}
    for clash in ("BOSS", "Boss"):
        response = client.post(url, {**form, "username": clash})
        assert response.status_code == 200 and response.context["adminform"].form.errors["username"] == TAKEN
    assert client.post(url, {**form, "username": "Shopper"}).status_code == 302  # one's own name: not a clash
    assert User.objects.get(pk=shopper.pk).username == "Shopper"
    added = client.post(reverse("admin:auth_user_add"), {"username": "SHOPPER", "usable_password": "false"})
    assert added.status_code == 200 and added.context["adminform"].form.errors["username"] == TAKEN


@pytest.mark.parametrize("adding", [False, True])
def test_an_admin_save_that_lost_the_race_for_a_username_is_a_form_error(staff_client, monkeypatch, adding):
    """The check passed before the other account was committed (the first look misses it): the
    database's refusal is the form again with the usual error, not a 500."""
    from catalog.forms import UniqueUsernameMixin

    client = staff_client
    shopper, looks = User.objects.create_user("shopper"), []
    checked = UniqueUsernameMixin.clean_username

    def first_look_misses(form):
        looks.append(form.cleaned_data["username"])
        return form.cleaned_data["username"] if len(looks) == 1 else checked(form)

    monkeypatch.setattr(UniqueUsernameMixin, "clean_username", first_look_misses)
    if adding:
        response = client.post(reverse("admin:auth_user_add"), {"username": "BOSS", "usable_password": "false"})
    else:
        response = client.post(reverse("admin:auth_user_change", args=[shopper.pk]), {
            "date_joined_0": "2026-01-01", "date_joined_1": "00:00:00", "is_active": "on", "username": "Boss"})
    assert response.status_code == 200 and response.context["adminform"].form.errors["username"] == TAKEN
    assert looks == ["BOSS" if adding else "Boss"] * 2
    assert list(User.objects.filter(username__iexact="boss").values_list("username", flat=True)) == ["boss"]
    assert User.objects.get(pk=shopper.pk).username == "shopper"

"""Privacy: export is complete; erasure leaves nothing behind, including in trained models."""

from __future__ import annotations

import json

import numpy as np
import pytest
from django.apps import apps
from django.contrib.auth.models import User
from django.contrib.sessions.models import Session
from rest_framework.authtoken.models import Token
from rest_framework.fields import DateTimeField

from catalog import services
from catalog.models import CartLine, Event, Item, Profile, Review
from recommender.algorithms.neighbors import ItemKNN
from recommender.embedding import embed_rows
from recommender.models import ProfileEmbedding, ReviewEmbedding
from recommender.training import training_data


@pytest.fixture
def person(ml100k):
    user = User.objects.create_user("privacy-person", password="a-long-password-2026")
    services.profile_update(user=user, interests="film noir and jazz", demographics_consent=True, age=40)
    items = [Item.objects.get(external_id="ml:1"), Item.objects.get(external_id="ml:50")]
    services.review_save(user=user, item=items[0], rating=4.5, text="Loved the toys.")
    services.event_record(user=user, item=items[1], kind="view", session_key="sess-privacy")
    services.event_record(item=items[1], kind="click", session_key="sess-privacy")  # before logging in
    services.history_use(user=user, item=items[1], used=False)
    CartLine.objects.create(user=user, item=items[0])
    services.saved_add(user=user, item=items[1])
    embed_rows(kind="review", ids=Review.objects.filter(user=user).values_list("pk", flat=True))
    embed_rows(kind="profile", ids=[user.profile.pk])
    Token.objects.create(user=user)
    return user


def test_export_has_everything_stored_about_the_user(person, client):
    client.force_login(person)
    response = client.get("/accounts/export/")
    assert response.status_code == 200 and "attachment" in response["Content-Disposition"]
    data = json.loads(response.content)
    assert data["account"]["username"] == "privacy-person"
    assert data["profile"]["interests"] == "film noir and jazz" and data["profile"]["age"] == 40
    assert data["profile_has_embedding"] is True
    assert [(r["title"], r["rating"], r["text"]) for r in data["reviews"]] == [("Toy Story (1995)", 4.5,
                                                                              "Loved the toys.")]
    kinds = sorted(e["kind"] for e in data["events"])
    assert kinds == sorted(Event.objects.filter(user=person).values_list("kind", flat=True))
    assert {"rate", "view", "save"} <= set(kinds)
    assert [(x["item"], x["title"]) for x in data["not_used_for_recommendations"]] == [("ml:50", "Star Wars (1977)")]
    assert [(x["item"], x["title"]) for x in data["cart"]] == [("ml:1", "Toy Story (1995)")]
    assert [(x["item"], x["title"]) for x in data["my_list"]] == [("ml:50", "Star Wars (1977)")]
    # times are written as the API writes them (they ended "+00:00", the API's "Z")
    review = Review.objects.get(user=person)
    assert data["reviews"][0]["created_at"] == DateTimeField().to_representation(review.created_at)
    times = [data["account"]["date_joined"], data["cart"][0]["added_at"], data["my_list"][0]["added_at"],
             data["not_used_for_recommendations"][0]["since"], *(e["created_at"] for e in data["events"])]
    assert all(t.endswith("Z") for t in times), times


def test_erasure_leaves_nothing_in_any_table(person, client):
    client.force_login(person)
    session_key = client.session.session_key
    user_id, profile_id = person.pk, person.profile.pk
    review_ids = list(Review.objects.filter(user=person).values_list("pk", flat=True))
    response = client.post("/accounts/delete/", {"confirm": "privacy-person"})
    assert response.status_code == 302
    assert not User.objects.filter(pk=user_id).exists()
    assert not Profile.objects.filter(pk=profile_id).exists()
    assert not Review.objects.filter(pk__in=review_ids).exists()
    assert not Event.objects.filter(user_id=user_id).exists()
    assert not Event.objects.filter(session_key="sess-privacy").exists()  # anonymous events of the session too
    assert not ReviewEmbedding.objects.filter(review_id__in=review_ids).exists()
    assert not ProfileEmbedding.objects.filter(profile_id=profile_id).exists()
    assert not Token.objects.filter(user_id=user_id).exists()
    assert not Session.objects.filter(session_key=session_key).exists()
    # every table with a foreign key to the user: no row left
    for model in apps.get_models():
        for field in model._meta.get_fields():
            if getattr(field, "related_model", None) is User and field.concrete and field.many_to_one:
                assert not model.objects.filter(**{field.name: user_id}).exists(), model


def test_wrong_confirmation_deletes_nothing(person, client):
    client.force_login(person)
    client.post("/accounts/delete/", {"confirm": "someone-else"})
    assert User.objects.filter(pk=person.pk).exists()


def test_erased_users_no_longer_shape_item_similarity_after_training(ml100k):
    """Users who co-rate two unrelated obscure movies create similarity between them; after their
    erasure the next training no longer shows it."""
    a, b = Item.objects.get(external_id="ml:1500"), Item.objects.get(external_id="ml:1600")

    def similarity() -> float:
        data = training_data()
        model = ItemKNN(k=50, shrink=0.0).fit(data.interactions)
        i, j = data.interactions.item_index(a.external_id), data.interactions.item_index(b.external_id)
        return float(np.asarray(model.weights[i, j]).ravel()[0] if hasattr(model.weights, "tocsr")
                     else model.weights[i, j])

    baseline = similarity()
    fans = []
    for n in range(8):
        fan = User.objects.create_user(f"fan-{n}")
        services.review_save(user=fan, item=a, rating=5)
        services.review_save(user=fan, item=b, rating=5)
        fans.append(fan)
    boosted = similarity()
    assert boosted > baseline + 0.1
    from recommender.privacy import user_erase

    for fan in fans:
        user_erase(user=fan)
    assert similarity() == pytest.approx(baseline)


def test_opted_out_users_are_not_trained_on(ml100k):
    user = User.objects.get(username="ml_5")
    before = training_data().interactions
    services.profile_update(user=user, personalization_opt_out=True)
    after = training_data().interactions
    assert str(user.pk) in before.user_ids and str(user.pk) not in after.user_ids


def test_expired_sessions_are_deleted_every_day(db, settings):
    """Every anonymous visitor leaves a session (its cart, its key on its events); Django never
    deletes them itself. Beat runs ``recsite.clear_sessions`` daily."""
    from datetime import timedelta

    from django.utils import timezone

    from recommender.tasks import clear_sessions
    from recsite.sessions import SessionStore

    def session(expires_in: timedelta) -> str:
        store = SessionStore()
        store["cart"] = [1]
        store.set_expiry(timezone.now() + expires_in)
        store.create()
        return store.session_key

    expired = [session(timedelta(seconds=-1)), session(timedelta(days=-30))]
    current = session(timedelta(days=13))
    before = Session.objects.filter(expire_date__lt=timezone.now()).count()  # ours and any a test left
    assert before >= 2 and clear_sessions() == {"deleted": before}
    assert not Session.objects.filter(expire_date__lt=timezone.now()).exists()
    assert set(Session.objects.filter(session_key__in=[*expired, current]).values_list("session_key", flat=True)) == {
        current}
    entry = settings.CELERY_BEAT_SCHEDULE["clear-sessions"]
    assert entry["task"] == clear_sessions.name and entry["schedule"] == 24 * 3600

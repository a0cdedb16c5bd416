from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from catalog import services
from catalog.models import Category, Entity, Event, Item, ItemRelation, Profile, Review

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def user():
    return User.objects.create_user("alice", password="x-secret-123")


# Other tests of the session may have committed MovieLens to this database: every assertion
# here is about rows this module creates.


@pytest.fixture
def item():
    return services.item_create(title="Moon Harbor Tales", year=2031, genres=["Animation", "Comedy"])


def test_item_slug_external_id_and_str(item):
    assert item.slug == "moon-harbor-tales-2031"
    assert item.external_id == "local:moon-harbor-tales-2031"
    assert str(item) == "Moon Harbor Tales (2031)"
    assert item.get_absolute_url() == "/items/moon-harbor-tales-2031/"
    second = services.item_create(title="Moon Harbor Tales", year=2031)
    assert second.slug == "moon-harbor-tales-2031-2"


def test_item_validation_rejects_bad_year_and_price():
    with pytest.raises(ValidationError) as err:
        services.item_create(title="Bad", year=3000, price=Decimal("-1"))
    assert {"year", "price"} <= set(err.value.message_dict)
    assert not Item.objects.filter(title="Bad").exists()


def test_item_queryset_filters(item):
    hidden = services.item_create(title="Heat Wave Zero", year=2031, genres=["Crime"], is_active=False)
    ours = Item.objects.filter(pk__in=[item.pk, hidden.pk])
    assert list(ours.active().with_genre("Comedy")) == [item]
    assert not ours.active().with_genre("Crime").exists()


@pytest.mark.parametrize("rating", ["0", "5.5", "3.3", "abc", "", "nan", "-1"])
def test_review_rejects_bad_ratings(user, item, rating):
    with pytest.raises(ValidationError):
        services.review_save(user=user, item=item, rating=rating)
    assert not Review.objects.filter(item=item).exists()
    assert not Event.objects.filter(item=item).exists()  # nothing half-written


def test_review_half_stars_one_per_user_and_item_and_rate_event(user, item):
    first = services.review_save(user=user, item=item, rating="4.5", text="Great")
    again = services.review_save(user=user, item=item, rating=3)
    assert first.pk == again.pk
    assert Review.objects.get(item=item).rating == Decimal("3.0")
    assert Review.objects.get(item=item).text == "Great"  # text kept when not given
    assert list(Event.objects.filter(item=item).values_list("kind", "value")) == [("rate", 3.0), ("rate", 4.5)]
    assert str(again) == "alice rated Moon Harbor Tales (2031) 3.0"
    # the same rating again, or a new text alone, is not a new rating: no event
    services.review_save(user=user, item=item, rating="3.0", text="Good, on second thought")
    assert Review.objects.get(item=item).text == "Good, on second thought"
    assert Event.objects.filter(item=item).count() == 2


def test_database_constraints_hold_without_model_validation(user, item):
    Review.objects.create(user=user, item=item, rating=Decimal("4"), created_at=NOW)
    with pytest.raises(IntegrityError), transaction.atomic():
        Review.objects.create(user=user, item=item, rating=Decimal("2"), created_at=NOW)
    other = User.objects.create_user("bob")
    with pytest.raises(IntegrityError), transaction.atomic():
        Review.objects.create(user=other, item=item, rating=Decimal("2.3"), created_at=NOW)
    with pytest.raises(IntegrityError), transaction.atomic():
        Event.objects.create(item=item, kind="view", created_at=NOW)  # neither user nor session
    with pytest.raises(IntegrityError), transaction.atomic():
        Item.objects.create(title="x", slug="x", external_id="x", price=Decimal("-2"))


def test_events_anonymous_idempotent_and_validated(item):
    event, created = services.event_record(item=item, kind="view", session_key="abc", idempotency_key="k1")
    again, created_again = services.event_record(item=item, kind="view", session_key="abc", idempotency_key="k1")
    assert created and not created_again and event.pk == again.pk
    assert str(event).startswith("session abc view")
    with pytest.raises(ValidationError):
        services.event_record(item=item, kind="teleport", session_key="abc")
    with pytest.raises(ValidationError):
        services.event_record(item=item, kind="view")
    assert Event.objects.filter(item=item).count() == 1


def test_profile_and_knowledge_graph(user, item):
    profile = services.profile_update(user=user, interests="space operas", personalization_opt_out=True)
    assert Profile.objects.get(user=user).interests == "space operas"
    assert str(profile) == "Profile of alice"
    with pytest.raises(ValidationError):
        services.profile_update(user=user, age=500)
    entity = Entity.objects.create(external_id="m.0abc", name="John Lasseter")
    ItemRelation.objects.create(item=item, relation="directed_by", entity=entity)
    with pytest.raises(IntegrityError), transaction.atomic():
        ItemRelation.objects.create(item=item, relation="directed_by", entity=entity)
    assert str(Entity(external_id="m.1")) == "m.1"
    assert str(Category(name="Movies")) == "Movies"

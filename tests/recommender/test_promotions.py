"""Promotions: the store's featured films in the feed, on MovieLens-100K with a trained model."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from catalog import services
from catalog.models import Event, EventKind, Item, Review
from recommender import experiments, promotions, serving
from recommender.models import Experiment, Promotion
from recommender.serving import FeedContext, Row

PERSONAL = "Featured by the store: {}. Of its films, this one matches your taste best."


@pytest.fixture
def shopper(trained_model):
    return User.objects.get(username="ml_1")


@pytest.fixture
def promote(django_capture_on_commit_callbacks):
    """Create a running promotion as staff would: committed, so the cached list is dropped."""

    def create(name: str, items, *, position: int = 3, **fields) -> Promotion:
        with django_capture_on_commit_callbacks(execute=True):
            promotion = Promotion.objects.create(name=name, position=position, **fields)
            promotion.items.set(items)
        return promotion

    return create


def pks(recs) -> list[int]:
    return [rec.item.pk for rec in recs]


def test_a_running_promotion_shows_the_film_the_shopper_likes_best_at_its_position(shopper, promote):
    organic = serving.feed_for_user(shopper, k=10)
    further = serving.feed_for_user(shopper, k=30)[15:22]  # liked, but not in the top ten
    assert not set(pks(further)) & set(pks(organic))
    rated = Review.objects.filter(user=shopper).values_list("item_id", flat=True)
    obscure = list(Item.objects.exclude(pk__in=[*rated, *pks(organic)]).order_by("review_count", "pk")[:3])
    promotion = promote("Staff picks", [*[rec.item for rec in further], *obscure])

    feed = serving.feed_for_user(shopper, k=10)
    best = max(further, key=lambda rec: rec.score)
    assert len(feed) == 10 and [rec.algorithm for rec in feed].count("promoted") == 1
    card = feed[2]
    assert (card.algorithm, card.source, card.item) == ("promoted", "promotion", best.item)
    assert card.score == pytest.approx(best.score, abs=1e-6)  # the model's own score for this shopper
    assert card.sentence == PERSONAL.format("Staff picks")
    assert card.evidence == {"promotion": {"id": promotion.pk, "name": "Staff picks"}, "personal": True,
                             "contributions": {}}
    assert pks(rec for rec in feed if rec is not card) == pks(organic)[:9]  # the last one makes room

    serving.track([Row("for_you", "", feed)], FeedContext(request_id="r1"))
    assert card.tracking["promo"] == promotion.pk and f"promo={promotion.pk}" in card.href
    assert "promo" not in feed[0].tracking


def test_what_a_promotion_does_not_do(shopper, promote):
    organic = serving.feed_for_user(shopper, k=10)
    rated = list(Item.objects.filter(reviews__user=shopper)[:5])
    unrated = list(Item.objects.exclude(reviews__user=shopper).exclude(pk__in=pks(organic))
                   .filter(genres__contains=["Drama"]).exclude(genres__contains=["Comedy"]).order_by("pk")[:4])
    now = timezone.now()
    promote("Already in the feed", [organic[6].item, unrated[0]])  # no second card for it
    promote("Seen it all", rated)  # the shopper rated every film of it
    later = promote("Not yet", unrated[:2], starts_at=now + timedelta(days=1))
    over = promote("Over", unrated[:2], starts_at=now - timedelta(days=2), ends_at=now - timedelta(days=1))
    off = promote("Switched off", unrated[:2], is_active=False)
    assert pks(serving.feed_for_user(shopper, k=10)) == pks(organic)
    # the admin's status follows the same dates the feed does
    assert [promotions.promotion_status(p) for p in (later, over, off)] == ["scheduled", "ended", "off"]
    assert promotions.promotion_status(later, now=now + timedelta(days=2)) == "running"

    drama = promote("Drama week", unrated[1:3], position=1)
    card = serving.feed_for_user(shopper, k=10)[0]
    assert card.evidence["promotion"]["id"] == drama.pk and card.sentence == PERSONAL.format("Drama week")
    comedy = serving.feed_for_user(shopper, k=10, context=FeedContext(genre="Comedy"))
    assert "promoted" not in [rec.algorithm for rec in comedy]  # the genre filter holds
    excluded = serving.feed_for_user(shopper, k=10, context=FeedContext(exclude={unrated[1].pk, unrated[2].pk}))
    assert "promoted" not in [rec.algorithm for rec in excluded]
    featured = serving.feed_for_user(shopper, k=10)[0].item
    Item.objects.filter(pk=featured.pk).update(is_active=False)
    again = serving.feed_for_user(shopper, k=10)  # the cached feed had it: computed again
    other = ({*unrated[1:3]} - {featured}).pop()
    assert featured not in [rec.item for rec in again] and again[0].item == other  # the other film is featured

    promote("Another", [unrated[3]], position=2)
    promote("A third", [Item.objects.filter(genres__contains=["Horror"]).exclude(pk__in=pks(organic)).first()],
            position=4)
    feed = serving.feed_for_user(shopper, k=10)
    assert [rec.algorithm for rec in feed].count("promoted") == promotions.MAX_PER_FEED == 2
    assert [rec.item for rec in feed[:2]] == [other, unrated[3]]
    # one film (left): nothing was chosen for the shopper
    assert [rec.sentence for rec in feed[:2]] == ["Featured by the store: Drama week.",
                                                  "Featured by the store: Another."]


def test_without_personalization_the_most_reviewed_film_is_featured(shopper, promote):
    films = list(Item.objects.exclude(reviews__user=shopper).order_by("-review_count")[10:14])
    services.profile_update(user=shopper, personalization_opt_out=True)
    promote("Classics", films[::-1], position=1)
    card = serving.feed_for_user(shopper, k=10)[0]
    assert card.item == films[0] and card.sentence == "Featured by the store: Classics."
    assert card.evidence["personal"] is False


def test_staff_run_a_promotion_and_see_its_cards_shown_and_clicked(shopper, staff_client,
                                                                    django_capture_on_commit_callbacks):
    films = list(Item.objects.exclude(reviews__user=shopper).filter(genres__contains=["Film-Noir"])[:6])
    assert serving.feed_for_user(shopper, k=10)  # the (empty) promotions are cached now
    add = reverse("admin:recommender_promotion_add")
    today = timezone.localtime()
    form = {"name": "Film noir week", "items": [f.pk for f in films], "position": "2",
            "starts_at_0": today.strftime("%Y-%m-%d"), "starts_at_1": "00:00:00", "is_active": "on",
            "ends_at_0": (today - timedelta(days=1)).strftime("%Y-%m-%d"), "ends_at_1": "00:00:00"}
    refused = staff_client.post(add, form)
    assert refused.status_code == 200 and "The end must come after the start." in refused.content.decode()
    assert not Promotion.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        created = staff_client.post(add, {**form, "ends_at_0": "", "ends_at_1": ""})
    assert created.status_code == 302
    promotion = Promotion.objects.get()
    listing = staff_client.get(reverse("admin:recommender_promotion_changelist")).content.decode()
    assert "Film noir week" in listing and "running" in listing
    index = staff_client.get(reverse("admin:index")).content.decode()
    assert f'{promotion.pk}/change/">Film noir week</a> (position 2, 6 films)' in index

    # the next feed has it, in the store and the API, without waiting for the cache
    client = Client()  # the shopper's browser (staff_client is the test's own)
    client.force_login(shopper)
    home = client.get(reverse("home"))
    card = home.context["rows"][0].items[1]
    assert card.evidence["promotion"]["id"] == promotion.pk and card.item in films
    assert "Featured by the store" in home.content.decode()
    api = APIClient()
    api.force_authenticate(shopper)
    result = api.get("/api/recommendations/?k=5").json()["results"][1]
    assert (result["source"], result["explanation"]["signal"]) == ("promoted", "promotion")
    assert result["explanation"]["evidence"]["promotion"] == {"id": promotion.pk, "name": "Film noir week"}
    assert result["tracking"]["promo"] == promotion.pk

    client.get(card.href)  # the shopper opens the featured film
    click = Event.objects.filter(user=shopper, kind=EventKind.CLICK).latest("id")
    assert click.item == card.item and click.context["promo"] == promotion.pk
    change = staff_client.get(reverse("admin:recommender_promotion_change", args=[promotion.pk])).content.decode()
    assert "shown 1 time, clicked 1 (100.0%)" in change

    with django_capture_on_commit_callbacks(execute=True):
        promotion.is_active = False
        promotion.save()
    assert "promoted" not in [rec.algorithm for rec in serving.feed_for_user(shopper, k=10)]


def test_an_experiment_arm_without_promotions_measures_what_they_cost(trained_model, promote):
    """A variant {"promotions": false} leaves the featured films out of its users' feeds, so an
    A/B test compares click-through and purchases with and without them."""
    with pytest.raises(ValidationError, match="promotions is true"):
        experiments.variants_validate([{"name": "a"}, {"name": "b", "params": {"promotions": "no"}}])
    variants = [{"name": "featured", "weight": 50}, {"name": "plain", "weight": 50, "params": {"promotions": False}}]
    experiments.variants_validate(variants)
    experiment = Experiment.objects.create(key="promo-test", name="Promotions or not", is_active=True,
                                           variants=variants)
    users = User.objects.filter(username__in=[f"ml_{n}" for n in range(1, 40)]).order_by("pk")
    arm = {name: next(u for u in users if experiments.variant_for(experiment, experiments.unit_of(u, ""))["name"]
                      == name) for name in ("featured", "plain")}
    films = list(Item.objects.exclude(reviews__user__in=arm.values()).order_by("review_count", "pk")[:3])
    promote("House picks", films, position=1)
    for name, user in arm.items():
        context = FeedContext()
        experiments.apply(context, user)
        assert (context.variant, context.promotions) == (name, name == "featured")
        feed = serving.feed_for_user(user, k=10, context=context)
        assert ("promoted" in [rec.algorithm for rec in feed]) is (name == "featured")

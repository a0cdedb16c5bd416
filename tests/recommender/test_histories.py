"""A (user, item) pair counts once, the same way in training and in a live history: the
user's own rating when there is one, else the strongest implicit signal, at the time of the
pair's newest event."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from catalog import services
from catalog.models import Item, Review
from recommender import serving
from recommender.serving import FeedContext
from recommender.training import training_data


@pytest.fixture
def mixed(ml100k):
    """Rated 1 star and bought later; carted, bought and viewed again; viewed five times; saved to
    the list and viewed."""
    user = User.objects.create_user("mixed-signals")
    rated, bought, viewed, saved = (Item.objects.get(external_id=f"ml:{n}") for n in (1, 50, 100, 183))
    now = timezone.now()
    services.review_save(user=user, item=rated, rating=1)
    Review.objects.filter(user=user).update(created_at=now - timedelta(hours=5))
    services.event_record(user=user, item=rated, kind="purchase", created_at=now - timedelta(hours=4))
    for kind, hours in (("add_to_cart", 3), ("purchase", 2), ("view", 1)):
        services.event_record(user=user, item=bought, kind=kind, created_at=now - timedelta(hours=hours))
    for minutes in range(5):
        services.event_record(user=user, item=viewed, kind="view", created_at=now - timedelta(minutes=10 - minutes))
    for kind, minutes in (("save", 30), ("view", 20)):
        services.event_record(user=user, item=saved, kind=kind, created_at=now - timedelta(minutes=minutes))
    return user, {"rated": rated, "bought": bought, "viewed": viewed, "saved": saved}, now


def test_training_counts_each_pair_once_with_the_users_rating_first(mixed):
    user, items, now = mixed
    data = training_data().interactions
    u = data.user_index(str(user.pk))
    got = {data.item_ids[i]: (value, ts) for i, value, ts in data.history(u)}
    # the purchase does not override the 1-star rating, but dates the pair; views are not trained on
    assert got == {
        items["rated"].external_id: (1.0, int((now - timedelta(hours=4)).timestamp())),
        items["bought"].external_id: (4.5, int((now - timedelta(hours=2)).timestamp())),
        items["saved"].external_id: (4.0, int((now - timedelta(minutes=30)).timestamp())),
    }


def test_a_live_history_counts_each_item_once_as_training_does(mixed, trained_model):
    user, items, now = mixed
    model = serving.active_model()[1]
    state = serving._user_state(user, FeedContext(), model)
    idx = {name: model.index_of_pk[item.pk] for name, item in items.items()}
    assert state.profile.events == [
        (idx["rated"], 1.0, int((now - timedelta(hours=4)).timestamp())),
        (idx["bought"], 4.5, int((now - timedelta(hours=1)).timestamp())),
        (idx["saved"], 4.0, int((now - timedelta(minutes=20)).timestamp())),
        (idx["viewed"], 3.5, int((now - timedelta(minutes=6)).timestamp())),
    ]
    # the card's anchor is the event that gave the item its value
    assert state.anchors[idx["rated"]]["kind"] == "rated"
    assert state.anchors[idx["bought"]]["kind"] == "purchase"
    assert state.anchors[idx["saved"]]["kind"] == "save"  # saved (4.0), then viewed (3.5)

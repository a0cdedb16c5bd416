"""'Don't use for my recommendations': an item the user excludes leaves the live profile, the
explanations and training at once; what they did with it stays stored and listed."""

from __future__ import annotations

from collections import Counter

import pytest
from django.contrib.auth.models import User

from catalog import services
from catalog.models import Item, Review
from catalog.selectors import user_history
from recommender import serving
from recommender.training import training_data


@pytest.fixture
def shopper(trained_model):
    return User.objects.get(username="ml_1")


def anchors(recs) -> Counter:
    return Counter(r.evidence["anchor"]["pk"] for r in recs if r.evidence.get("anchor"))


def test_an_item_not_used_leaves_the_next_feed_and_its_explanations_at_once(shopper, settings):
    assert settings.RECSYS_FEED_CACHE_SECONDS > 0  # the cached feed must follow the change too
    before = serving.feed_for_user(shopper, k=10)
    anchor = anchors(before).most_common(1)[0][0]
    anchor_item = Item.objects.get(pk=anchor)
    assert anchor_item.display_title in " ".join(r.sentence for r in before)

    services.history_use(user=shopper, item=anchor_item, used=False)
    after = serving.feed_for_user(shopper, k=10)
    assert anchor not in anchors(after)
    assert anchor_item.display_title not in " ".join(r.sentence for r in after)
    assert [r.item.pk for r in after] != [r.item.pk for r in before]
    assert anchor not in {r.item.pk for r in after}  # rated: still not recommended again
    state = serving._user_state(shopper, serving.FeedContext(), serving.active_model()[1])
    assert anchor in state.seen and serving.active_model()[1].index_of_pk[anchor] not in state.anchors

    services.history_use(user=shopper, item=anchor_item, used=True)
    settings.RECSYS_FEED_CACHE_SECONDS = 0
    again = serving.feed_for_user(shopper, k=10)
    assert [r.item.pk for r in again] == [r.item.pk for r in before] and anchors(again) == anchors(before)


def test_a_new_users_only_viewed_item_not_used_leaves_the_feed_of_a_user_without_history(trained_model, settings):
    """Views count as taste too; with the only viewed item excluded the feed is a newcomer's."""
    settings.RECSYS_FEED_CACHE_SECONDS = 0
    user, newcomer = User.objects.create_user("history-viewer"), User.objects.create_user("history-newcomer")
    alien = Item.objects.get(slug="alien-1979")
    services.event_record(user=user, item=alien, kind="view")
    services.event_record(user=user, item=alien, kind="view")
    steered = serving.feed_for_user(user, k=10)
    assert alien.pk in anchors(steered)
    services.history_use(user=user, item=alien, used=False)
    plain = serving.feed_for_user(user, k=10)
    assert not anchors(plain)
    assert [r.item.pk for r in plain] == [r.item.pk for r in serving.feed_for_user(newcomer, k=10)]


def test_training_leaves_out_only_the_pairs_a_user_does_not_use(ml100k):
    user = User.objects.get(username="ml_1")
    item = Item.objects.get(external_id="ml:50")  # Star Wars, rated by ml_1 and 582 others

    def raters() -> set[str]:
        data = training_data().interactions
        column = data.items == data.item_index(item.external_id)
        return {data.user_ids[u] for u in data.users[column]}

    before = raters()
    assert str(user.pk) in before and len(before) == 583
    rows = len(training_data().interactions.users)
    services.history_use(user=user, item=item, used=False)
    assert raters() == before - {str(user.pk)}
    assert len(training_data().interactions.users) == rows - 1
    services.history_use(user=user, item=item, used=False)  # idempotent
    services.history_use(user=user, item=item, used=True)
    assert raters() == before


def test_history_lists_one_entry_per_item_strongest_action_first(ml100k):
    user = User.objects.create_user("history-lister")
    toy, fargo, alien = (Item.objects.get(slug=s) for s in ("toy-story-1995", "fargo-1996", "alien-1979"))
    jedi = Item.objects.get(slug="return-of-the-jedi-1983")
    services.onboarding_complete(user=user, items=[jedi])
    services.event_record(user=user, item=jedi, kind="more_like_this")
    services.event_record(user=user, item=toy, kind="view")
    services.event_record(user=user, item=toy, kind="view")
    services.event_record(user=user, item=toy, kind="purchase")
    services.event_record(user=user, item=toy, kind="impression")  # shown, not acted on: not history
    services.review_save(user=user, item=fargo, rating="4.5")
    services.history_use(user=user, item=alien, used=False)  # excluded in advance
    services.event_record(user=user, item=alien, kind="not_interested")

    entries = user_history(user=user)
    assert [e.item.slug for e in entries] == ["alien-1979", "fargo-1996", "toy-story-1995",
                                              "return-of-the-jedi-1983"]  # newest first
    alien_entry, fargo_entry, toy_entry, jedi_entry = entries
    assert [(a.kind, a.label) for a in jedi_entry.actions] == [("picked", "Picked at sign-up"),
                                                               ("more_like_this", "More like this")]
    assert (alien_entry.used, alien_entry.rating, alien_entry.actions) == (False, None, [])
    assert alien_entry.not_interested and not any(e.not_interested for e in entries[1:])
    assert fargo_entry.used and fargo_entry.rating == Review.objects.get(user=user).rating
    assert fargo_entry.actions == []  # the "rate" event is the review itself
    assert [(a.kind, a.times, a.label) for a in toy_entry.actions] == [("purchase", 1, "Bought"), ("view", 2, "Viewed")]
    assert [e.item.slug for e in user_history(user=user, item_ids=[toy.pk])] == ["toy-story-1995"]
    assert user_history(user=User.objects.create_user("history-empty")) == []


def test_show_again_undoes_not_interested_in_the_feed_and_the_other_rows_at_once(shopper):
    before = serving.feed_for_user(shopper, k=10)
    victim = before[0].item
    services.event_record(user=shopper, item=victim, kind="not_interested")
    assert victim.pk not in {r.item.pk for r in serving.feed_for_user(shopper, k=10)}
    assert victim.pk in serving._banned(shopper, serving.FeedContext())  # trending and new rows too
    assert user_history(user=shopper, item_ids=[victim.pk])[0].not_interested

    services.event_record(user=shopper, item=victim, kind="show_again")
    again = serving.feed_for_user(shopper, k=10)
    assert [r.item.pk for r in again] == [r.item.pk for r in before]  # the show_again is no taste signal
    assert victim.pk not in serving._banned(shopper, serving.FeedContext())
    assert user_history(user=shopper, item_ids=[victim.pk]) == []  # nothing else done with it

    services.event_record(user=shopper, item=victim, kind="not_interested")  # the latest say counts
    assert victim.pk not in {r.item.pk for r in serving.feed_for_user(shopper, k=10)}
    assert victim.pk in serving._banned(shopper, serving.FeedContext())

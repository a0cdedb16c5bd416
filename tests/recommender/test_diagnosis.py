"""Staff's "why not this film?" for one shopper: each answer read from the feed's own
computation, on real MovieLens-100K with the trained model; and the account's Recommendations
page in the admin."""

from __future__ import annotations

import numpy as np
import pytest
from django.contrib.auth.models import Permission, User
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from catalog import services
from catalog.models import Event, EventKind, Item, Review
from recommender import serving
from recommender.diagnosis import why_not
from recommender.models import ModelVersion
from recommender.serving import FeedContext

K = 12


@pytest.fixture
def shopper(trained_model):
    return User.objects.get(username="ml_1")


def diagnose(user, item, **context):
    context = FeedContext(**context)
    feed, trace = serving.feed_traced(user, k=K, context=context)
    return why_not(item, user=user, feed=feed, trace=trace, context=context), feed, trace


def by_score(trace):
    return sorted(trace.passed, key=lambda pk: -trace.scores[pk])


def test_the_traced_feed_is_the_served_feed(shopper):
    feed, trace = serving.feed_traced(shopper, k=K, context=FeedContext())
    assert [r.item.pk for r in feed] == [r.item.pk for r in serving.feed_for_user(shopper, k=K)]
    assert {r.item.pk for r in feed} <= trace.passed  # every card passed the filters
    for rec in feed:
        assert trace.scores[rec.item.pk] == pytest.approx(rec.score)


def test_a_card_in_the_feed_is_named_with_its_place_and_sentence(shopper):
    feed = serving.feed_for_user(shopper, k=K)
    found, _feed, _trace = diagnose(shopper, feed[2].item)
    assert (found.verdict, found.position) == ("shown", 3)
    assert found.sentence == f"It is card 3 of {K}: \u201c{feed[2].sentence}\u201d"


def test_a_film_ranked_below_the_feed_gets_its_rank_score_and_the_signals_it_lacks(shopper, trained_model):
    _found, feed, trace = diagnose(shopper, Item.objects.first())
    shown = {r.item.pk for r in feed}
    rank, pk = next((n, pk) for n, pk in enumerate(by_score(trace), 1) if n >= 30 and pk not in shown)
    thirtieth = Item.objects.get(pk=pk)
    found, feed, trace = diagnose(shopper, thirtieth)
    last = feed[-1]
    assert (found.verdict, found.rank) == ("outranked", rank)
    assert found.score == pytest.approx(trace.scores[thirtieth.pk]) and found.cutoff == pytest.approx(last.score)
    assert f"#{rank} of the {len(trace.passed)} candidates" in found.sentence
    assert f"it scores {found.score:.2f}, the last card {last.score:.2f}" in found.sentence
    # the gaps are the film's own contributions (they sum to its score) minus the last card's
    _version, model = serving.active_model()
    mine = model.signal_contributions(trace.state.profile, model.index_of_pk[thirtieth.pk])
    mine = {s: v + trace.extra.get(thirtieth.pk, {}).get(s, 0.0) for s, v in mine.items()}
    assert sum(mine.values()) == pytest.approx(found.score, abs=1e-3)
    assert found.card == last.item
    assert {share.signal for share in found.compared} == set(mine) - {"baseline"}
    for share in found.compared:
        assert share.item == pytest.approx(mine[share.signal], abs=1e-4)
        assert share.card == pytest.approx(last.contributions.get(share.signal, 0.0), abs=1e-4)
    assert found.gaps and all(gap < 0 for _s, gap in found.gaps)
    labels = {serving.label(s): s for s in mine}
    for name, gap in found.gaps:
        signal = labels[name]
        assert gap == pytest.approx(mine[signal] - last.contributions.get(signal, 0.0), abs=0.006)
        assert name in found.sentence


def test_a_film_within_the_feeds_scores_but_reranked_out_says_what_moved_it(shopper):
    _found, feed, trace = diagnose(shopper, Item.objects.first(), diversity=0.3)
    shown = {r.item.pk for r in feed}
    rank, pk = next((n, pk) for n, pk in enumerate(by_score(trace)[:K], 1) if pk not in shown)
    found, _feed, _trace = diagnose(shopper, Item.objects.get(pk=pk), diversity=0.3)
    assert (found.verdict, found.rank) == ("reranked", rank)
    assert "diversity (MMR, \u03bb = 0.3)" in found.sentence


def test_an_experiment_arm_is_diagnosed_by_its_own_algorithm(shopper):
    _found, feed, trace = diagnose(shopper, Item.objects.first(), algorithm="ease")
    assert {r.algorithm for r in feed} == {"ease"}
    shown = {r.item.pk for r in feed}
    rank, pk = next((n, pk) for n, pk in enumerate(by_score(trace), 1) if n > 2 * K and pk not in shown)
    found, *_ = diagnose(shopper, Item.objects.get(pk=pk), algorithm="ease")
    assert (found.verdict, found.rank, found.gaps) == ("outranked", rank, [])  # EASE alone: no signal shares
    popular = Item.objects.active().exclude(reviews__user=shopper).order_by("-review_count", "pk")[K + 1]
    found, *_ = diagnose(shopper, popular, algorithm="popularity", experiment="algo")
    assert (found.verdict, found.rank) == ("popularity", K + 2)
    assert "experiment “algo” serves the popularity baseline" in found.sentence


def test_the_shoppers_own_actions_are_named_with_their_dates(shopper):
    feed = serving.feed_for_user(shopper, k=K)
    rated = Review.objects.filter(user=shopper).select_related("item").first()
    found, *_ = diagnose(shopper, rated.item)
    assert found.verdict == "rated"
    assert found.sentence.startswith(f"They rated it {rated.rating:g} stars on ")

    unwanted, bought, viewed = feed[0].item, feed[1].item, feed[2].item
    services.event_record(user=shopper, item=unwanted, kind=EventKind.NOT_INTERESTED)
    services.event_record(user=shopper, item=bought, kind=EventKind.PURCHASE)
    services.event_record(user=shopper, item=viewed, kind=EventKind.VIEW)
    assert diagnose(shopper, unwanted)[0].verdict == "not_interested"
    assert "\u201cShow again\u201d" in diagnose(shopper, unwanted)[0].sentence
    assert diagnose(shopper, bought)[0].verdict == "bought"
    found, *_ = diagnose(shopper, viewed)
    assert found.verdict == "history" and "(they viewed it)" in found.sentence


def test_a_purchase_before_signing_in_is_named_without_a_date(shopper):
    """The session the shopper signed in from is part of their feed; its anonymous events have no
    account to date them by."""
    film = serving.feed_for_user(shopper, k=K)[0].item
    Event.objects.create(user=None, session_key="before-sign-in", item=film, kind=EventKind.PURCHASE,
                         created_at=timezone.now())
    found, *_ = diagnose(shopper, film, session_key="before-sign-in")
    assert found.verdict == "bought"
    assert found.sentence == "They bought it: a film a shopper has bought is not recommended to them again."


def test_a_film_the_shop_stopped_selling(shopper):
    item = serving.feed_for_user(shopper, k=K)[0].item
    Item.objects.filter(pk=item.pk).update(is_active=False)
    item.refresh_from_db()
    assert diagnose(shopper, item)[0].verdict == "inactive"


def test_a_film_outside_the_candidates_gets_the_place_its_score_would_have_among_them(shopper):
    _found, feed, trace = diagnose(shopper, Item.objects.first())
    _version, model = serving.active_model()
    history = {int(model.item_pks[e[0]]) for e in trace.state.profile.events}
    outside = Item.objects.active().exclude(pk__in=set(trace.scores) | history).order_by("-review_count").first()
    found, *_ = diagnose(shopper, outside)
    assert found.verdict == "not_candidate" and f"not among the {len(trace.scores)} candidates" in found.sentence
    assert found.score == pytest.approx(model.score(trace.state.profile, [model.index_of_pk[outside.pk]])[0])
    assert found.rank == sum(trace.scores[pk] > found.score for pk in trace.passed) + 1
    assert f"it would be #{found.rank} of the {len(trace.passed)} candidates" in found.sentence
    assert found.card == feed[-1].item and found.compared


def test_a_film_newer_than_the_model(shopper):
    new = Item.objects.create(title="A Film After Training", external_id="t:after")
    assert diagnose(shopper, new)[0].verdict == "new_item"


def test_without_personalization_the_answer_is_the_popular_order(shopper):
    services.profile_update(user=shopper, personalization_opt_out=True)
    popular = list(Item.objects.active().order_by("-review_count", "pk")[:K + 5])
    found, feed, _trace = diagnose(shopper, popular[K + 3])
    assert [r.item.pk for r in feed] == [i.pk for i in popular[:K]]
    assert (found.verdict, found.rank) == ("opted_out", K + 4)
    assert found.sentence.startswith("Personalization is off for this account")
    services.profile_update(user=shopper, personalization_opt_out=False)
    ModelVersion.objects.update(is_active=False)
    serving.model_cache_clear()
    rated = set(Review.objects.filter(user=shopper).values_list("item_id", flat=True))
    unrated = [i for i in Item.objects.active().order_by("-review_count", "pk")[:500] if i.pk not in rated]
    found, feed, _trace = diagnose(shopper, unrated[K + 3])  # what they rated is left out now
    assert [r.item.pk for r in feed] == [i.pk for i in unrated[:K]]
    assert (found.verdict, found.rank) == ("no_model", K + 4)
    assert found.sentence.startswith("No model is trained yet")


# ----------------------------------------------------------------- the admin page
def page_url(user) -> str:
    return reverse("admin:auth_user_recommendations", args=[user.pk])


def test_the_page_shows_the_shoppers_feed_and_records_nothing_as_them(staff_client, shopper):
    events = Event.objects.count()
    response = staff_client.get(page_url(shopper))
    assert response.status_code == 200
    feed = serving.feed_for_user(shopper, k=K)
    body = response.content.decode()
    table = body[body.index('id="recs-feed"'):]
    positions = [table.index(escape(r.item.display_title)) for r in feed]
    assert positions == sorted(positions)  # every card, in order
    assert escape(feed[0].sentence) in body
    assert Event.objects.count() == events  # no impressions, nothing as the shopper
    change = staff_client.get(reverse("admin:auth_user_change", args=[shopper.pk])).content.decode()
    assert page_url(shopper) in change  # linked from the account


def test_the_page_answers_why_not_by_title_or_id_and_says_what_it_cannot_find(staff_client, shopper):
    rated = Review.objects.filter(user=shopper).select_related("item").first().item
    by_title = staff_client.get(page_url(shopper), {"q": rated.display_title}).content.decode()
    assert 'data-verdict="rated"' in by_title and "They rated it" in by_title
    by_id = staff_client.get(page_url(shopper), {"q": str(rated.pk)}).content.decode()
    assert 'data-verdict="rated"' in by_id
    by_link = staff_client.get(page_url(shopper), {"item": rated.pk}).content.decode()  # a choice's link
    assert 'data-verdict="rated"' in by_link
    assert f'value="{escape(rated.display_title)}"' in by_link  # the box names it so that it finds it alone
    several = staff_client.get(page_url(shopper), {"q": "star"}).content.decode()
    assert "Several films match" in several and "data-verdict" not in several
    assert f'href="?item={Item.objects.get(title="Star Wars").pk}"' in several
    for params, message in (({"q": "qqqzzz"}, "No film matches \u201cqqqzzz\u201d."),
                            ({"item": "abc"}, "No film has that id."),
                            ({"item": "99999999999999999999"}, "No film has that id."),
                            ({"q": "star\x07trek"}, "Several films match"),  # a control character: a space
                            ({"q": "\x1b"}, "The feed")):  # nothing left to ask: the page alone
        response = staff_client.get(page_url(shopper), params)
        assert response.status_code == 200 and message in response.content.decode()
    assert staff_client.get(page_url(shopper), {"q": "star\x00"}).status_code == 400  # the admin's NUL guard


def test_only_staff_who_may_view_accounts_see_the_page(client, shopper):
    assert client.get(page_url(shopper)).status_code == 302  # to the log-in
    clerk = User.objects.create_user("clerk", password="clerk-password-2026", is_staff=True)
    client.force_login(clerk)
    assert client.get(page_url(shopper)).status_code == 403
    ContentType.objects.clear_cache()  # a flush by an earlier test renumbers the content types
    accounts = ContentType.objects.get_for_model(User)
    clerk.user_permissions.add(Permission.objects.get_or_create(codename="view_user", content_type=accounts)[0])
    clerk = User.objects.get(pk=clerk.pk)  # permissions are cached on the instance
    assert client.get(page_url(shopper)).status_code == 200
    assert client.get(reverse("admin:auth_user_recommendations", args=[10**9])).status_code == 404


# ----------------------------------------------------------------- a film's reach
def test_a_films_reach_is_each_sampled_shoppers_answer(trained_model):
    from recommender.audits import sample_users
    from recommender.diagnosis import reach

    users = list(User.objects.filter(pk__in=sample_users(8, 0)).order_by("pk"))
    feeds = {user.pk: {rec.item.pk for rec in serving.feed_for_user(user, k=K)} for user in users}
    film = serving.feed_for_user(users[0], k=K)[0].item  # in one feed at least
    found = reach(film, sample=8)
    assert [user.pk for user, _answer in found.answers] == [user.pk for user in users]
    assert found.users == 8 == sum(n for _verdict, n in found.verdicts)
    assert found.shown == sum(film.pk in feed for feed in feeds.values()) >= 1
    rated = Review.objects.filter(item=film, user__in=users, is_hidden=False).count()
    assert dict(found.verdicts).get("rated", 0) == rated
    below = [a.rank for _u, a in found.answers if a.verdict in ("outranked", "not_candidate")]
    assert found.median_rank == (pytest.approx(float(np.median(below))) if below else None)
    hurried = reach(film, sample=8, seconds=0)  # the time runs out after the first shopper
    assert (hurried.users, hurried.sampled) == (1, 8) and hurried.answers[0][0] == users[0]


def test_the_items_reach_page_names_each_shoppers_answer(staff_client, trained_model, client):
    film = Item.objects.get(title="Casablanca")
    url = reverse("admin:catalog_item_reach", args=[film.pk])
    page = staff_client.get(url).content.decode()
    assert "Reach of Casablanca (1942)" in page and page.count('href="/admin/auth/user/') >= 40
    assert f"/recommendations/?item={film.pk}" in page  # each answer links to that shopper's page
    change = staff_client.get(reverse("admin:catalog_item_change", args=[film.pk])).content.decode()
    assert url in change
    clerk = User.objects.create_user("itemclerk", password="clerk-password-2026", is_staff=True)
    ContentType.objects.clear_cache()
    items = ContentType.objects.get_for_model(Item)
    clerk.user_permissions.add(Permission.objects.get_or_create(codename="view_item", content_type=items)[0])
    client.force_login(clerk)
    assert client.get(url).status_code == 403  # it names shoppers: accounts' view permission too

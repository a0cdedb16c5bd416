"""Shoppers report reviews; moderators find them in the admin, hide or dismiss them."""

from __future__ import annotations

import json
import re

import pytest
from django.contrib.auth.models import User
from django.contrib.messages import get_messages
from django.urls import reverse

from catalog import services
from catalog.models import Item, Review, ReviewReport

pytestmark = pytest.mark.django_db


@pytest.fixture
def review(ml100k) -> Review:
    author = User.objects.create_user("author")
    return services.review_save(user=author, item=Item.objects.get(slug="star-wars-1977"), rating=1,
                                text="The ending: Vader is his father!")


@pytest.fixture
def shopper(client) -> User:
    user = User.objects.create_user("reporter")
    client.force_login(user)
    return user


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_a_shopper_reports_a_review_from_the_item_page(client, shopper, review):
    page = review.item.get_absolute_url()
    html = client.get(page).content.decode()
    assert f'action="{reverse("review_report", args=[review.pk])}"' in html and 'id="review-' in html
    response = client.post(reverse("review_report", args=[review.pk]), {"reason": "spoiler", "note": "the twist"})
    assert response.status_code == 302 and response["Location"] == f"{page}#review-{review.pk}"
    assert _messages(response) == ["Thanks: a moderator will look at this review."]
    assert list(ReviewReport.objects.values_list("user__username", "reason", "note")) == [
        ("reporter", "spoiler", "the twist")]
    html = client.get(page).content.decode()
    assert "Reported" in html  # the form says it was
    response = client.post(reverse("review_report", args=[review.pk]), {"reason": "abuse"})
    assert _messages(response) == ["Your report of this review is updated."]
    assert ReviewReport.objects.get().reason == "abuse"


@pytest.mark.parametrize(("form", "message"), [
    ({"reason": ""}, "Why?: Choose why you report it."),
    ({"reason": "boring"}, "Why?: Select a valid choice. boring is not one of the available choices."),
    ({"reason": "spam", "note": "x" * 501}, "Anything to add (optional): Ensure this value has at most 500 "
                                            "characters (it has 501)."),
])
def test_a_bad_report_is_a_message_and_saves_nothing(client, shopper, review, form, message):
    response = client.post(reverse("review_report", args=[review.pk]), form)
    assert response.status_code == 302 and _messages(response) == [message]
    assert not ReviewReport.objects.exists()


def test_ones_own_hidden_or_unknown_reviews_and_anonymous_visitors(client, review):
    url = reverse("review_report", args=[review.pk])
    response = client.post(url, {"reason": "spam"})
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    client.force_login(review.user)
    assert f'action="{url}"' not in client.get(review.item.get_absolute_url()).content.decode()
    response = client.post(url, {"reason": "spam"})
    assert _messages(response) == ["This is your own review: edit or delete it instead."]
    client.force_login(User.objects.create_user("other"))
    assert client.get(url).status_code == 405
    assert client.post(reverse("review_report", args=[10**12]), {"reason": "spam"}).status_code == 404
    Review.objects.filter(pk=review.pk).update(is_hidden=True)
    assert client.post(url, {"reason": "spam"}).status_code == 404
    assert not ReviewReport.objects.exists()


def test_moderators_find_reported_reviews_and_hide_or_dismiss_them(staff_client, review):
    other = services.review_save(user=User.objects.create_user("fan"), item=review.item, rating=5, text="Classic.")
    for name in ("r1", "r2"):
        services.review_report(user=User.objects.create_user(name), review=review, reason="spoiler")
    services.review_report(user=User.objects.get(username="r1"), review=other, reason="off_topic")
    index = staff_client.get(reverse("admin:index")).content.decode()
    assert "2 shown reviews reported by shoppers" in index and "?reports=open" in index
    changelist = reverse("admin:catalog_review_changelist")
    queue = staff_client.get(changelist, {"reports": "open"})  # the most reported first
    assert [r.pk for r in queue.context["cl"].result_list] == [review.pk, other.pk]
    assert [r.report_count for r in queue.context["cl"].result_list] == [2, 1]
    by_column = staff_client.get(changelist, {"reports": "open", "o": "6"})  # the reports column, fewest first
    assert [r.pk for r in by_column.context["cl"].result_list] == [other.pk, review.pk]
    page = staff_client.get(reverse("admin:catalog_review_change", args=[review.pk])).content.decode()
    assert "r1" in page and "Gives away the plot" in page  # who and why, inline
    staff_client.post(changelist, {"action": "hide", "_selected_action": [review.pk]})
    staff_client.post(changelist, {"action": "dismiss_reports", "_selected_action": [other.pk]})
    assert [r.pk for r in staff_client.get(changelist, {"reports": "open"}).context["cl"].result_list] == []
    assert [r.pk for r in staff_client.get(changelist, {"reports": "any"}).context["cl"].result_list] == [review.pk]
    assert "none waiting" in staff_client.get(reverse("admin:index")).content.decode()


def test_reports_are_in_the_reporters_export_and_go_with_their_account(client, shopper, review):
    services.review_report(user=shopper, review=review, reason="spoiler", note="the twist")
    data = json.loads(client.get(reverse("account_export")).content)
    assert [(r["review"], r["item"], r["reason"], r["note"]) for r in data["review_reports"]] == [
        (review.pk, review.item.external_id, "spoiler", "the twist")]
    assert data["review_reports"][0]["created_at"].endswith("Z")
    client.post(reverse("account_delete"), {"confirm": "reporter"})
    assert not User.objects.filter(username="reporter").exists() and not ReviewReport.objects.exists()


def test_a_moderator_who_types_a_rating_between_half_steps_is_told_the_rule(staff_client, review):
    """It said "Constraint “review_rating_half_steps” is violated."."""
    url = reverse("admin:catalog_review_change", args=[review.pk])
    page = staff_client.get(url).content.decode()
    management = dict(re.findall(r'name="([\w-]+-(?:TOTAL|INITIAL|MIN_NUM|MAX_NUM)_FORMS)"[^>]*value="(\d*)"', page))
    form = {**management, "user": review.user_id, "item": review.item_id, "text": review.text,
            "created_at_0": "2020-01-01", "created_at_1": "12:00:00"}
    for rating in ("3.7", "1.3"):
        response = staff_client.post(url, {**form, "rating": rating})
        assert response.status_code == 200, rating
        assert "Ratings go from 0.5 to 5 in half steps." in str(response.context["adminform"].form.errors), (
            response.context["adminform"].form.errors)
    assert Review.objects.get(pk=review.pk).rating == review.rating

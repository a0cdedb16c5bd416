"""A film's audience (the item admin's "Shoppers for this film"): the shoppers it would stand
highest for, on real MovieLens-100K with the trained model, with their feeds' reasons."""

from __future__ import annotations

import csv
import io
import re
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest
from django.contrib.auth.models import Permission, User
from django.contrib.contenttypes.models import ContentType
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from catalog import services
from catalog.models import EventKind, Item
from recommender import batch, serving
from recommender.audience import CSV_COLUMNS, audience
from recommender.models import ItemEmbedding, RecommendationExport
from recommender.selectors import mailing_results
from recommender.training import item_facts


@pytest.fixture
def film(trained_model) -> Item:
    return Item.objects.get(title="Contact", year=1997)  # 509 of 943 rated it: 434 to weigh


def test_a_films_shoppers_are_those_it_stands_highest_for_each_with_their_feeds_reason(film):
    found = audience(film, limit=40, campaign="contact-mail")
    _version, model = serving.active_model()
    raters = set(film.reviews.values_list("user_id", flat=True))
    assert 0 < found.weighed <= 943  # those it is placed for - len(raters) and found.left_out == 0 and not found.note
    assert len(found.fans) == 40 and not raters & {fan.user.pk for fan in found}
    order = [(fan.rank, -fan.score) for fan in found]
    assert order == sorted(order) and found.fans[0].rank == 1
    idx = model.index_of_pk[film.pk]
    for fan in found.fans[:5]:
        # the rank is the model's: the film is that far down the shopper's list as trained
        trained = model.data.user_ids.index(str(fan.user.pk))
        listed, _ = model.recommend(trained, k=fan.rank)
        assert idx not in listed[: fan.rank - 1].tolist()
        # the card is the film as the shopper's feed would explain it now, its link a mailing's
        card = fan.card
        assert card.item == film and card.sentence.startswith("Because you")
        assert sum(card.contributions.values()) == pytest.approx(card.score, abs=1e-3)
        link = parse_qs(urlsplit(card.href).query)
        assert link["src"] == ["batch"] and link["rid"] == ["contact-mail"] and link["pos"] == ["1"]


def test_shoppers_who_have_the_film_or_turned_it_down_since_are_left_out_at_once(film):
    fans = [fan.user for fan in audience(film, limit=6)]
    services.review_save(user=fans[0], item=film, rating=4)
    services.event_record(item=film, kind=EventKind.PURCHASE, user=fans[1])
    services.event_record(item=film, kind=EventKind.NOT_INTERESTED, user=fans[2])
    services.event_record(item=film, kind=EventKind.NOT_INTERESTED, user=fans[3])
    services.event_record(item=film, kind=EventKind.SHOW_AGAIN, user=fans[3])  # took it back
    services.profile_update(user=fans[4], personalization_opt_out=True)
    User.objects.filter(pk=fans[5].pk).update(is_staff=True)
    after = audience(film, limit=6)
    listed = [fan.user for fan in after]
    assert not set(listed) & {fans[0], fans[1], fans[2], fans[4], fans[5]}
    assert fans[3] in listed and after.left_out == 5


def test_a_film_newer_than_the_model_finds_its_shoppers_as_feeds_place_new_films(trained_model, staff_client):
    """Not trained on yet: each shopper's place for it is the one a feed gives a new film, by its
    facts (genres, year) at once, by its text too once it is embedded; Star Wars' fans first."""
    from recommender.embedding import embed_rows

    star_wars = Item.objects.get(external_id="ml:50")
    new = services.item_create(title="Star Wars: Special Edition", description=star_wars.description,
                               genres=star_wars.genres, tags=star_wars.tags, year=1977)
    by_facts = audience(new, limit=20)
    assert by_facts.new and not by_facts.note and len(by_facts.fans) == 20
    assert {fan.card.source for fan in by_facts} == {"kg"}  # no vector yet
    embed_rows(kind="item", ids=[new.pk])
    found = audience(new, limit=30, campaign="special-edition")
    assert found.new and len(found.fans) == 30 and 0 < found.weighed <= 943  # those it is placed for
    _version, model = serving.active_model()
    vector = np.asarray(ItemEmbedding.objects.get(item=new).vector)
    users, ranks, scores, signals, similarities = model.new_item_audience(vector, item_facts([new.pk])[new.pk],
                                                                          k=serving.POOL)
    # by place, then (a place ties for many) by its text's closeness to their taste
    expected = sorted((int(rank), -float(close), -float(score), int(model.data.user_ids[u])) for u, rank, close, score
                      in zip(users, ranks, similarities, scores, strict=True))
    assert [(fan.rank, fan.user.pk) for fan in found] == [(rank, pk) for rank, _c, _s, pk in expected[:30]]
    assert np.isfinite(similarities).all()  # every one of them has a taste the vector is weighed against
    assert "content" in signals  # its text now places it for some (its facts, for Star Wars' fans, first)
    for fan in found.fans[:5]:
        card = fan.card  # explained as a feed explains a new film: the signal that placed it
        assert card.item == new and card.score == pytest.approx(fan.score)
        assert card.contributions == {card.source: pytest.approx(fan.score, abs=1e-3)}
        assert card.sentence and parse_qs(urlsplit(card.href).query)["rid"] == ["special-edition"]
    fans_of_the_original = set(star_wars.reviews.filter(rating__gte=4).values_list("user_id", flat=True))
    share = sum(fan.user.pk in fans_of_the_original for fan in found) / len(found.fans)
    assert share > 1.3 * len(fans_of_the_original) / 943  # its audience is the original's fans, more than by chance
    html = staff_client.get(reverse("admin:catalog_item_audience", args=[new.pk]), {"limit": 5}).content.decode()
    assert "The film is newer than the model" in html and found.fans[0].user.username in html
    body = staff_client.get(f"/api/items/{new.pk}/audience/", {"limit": 5}).json()
    assert body["new"] is True and [r["user"] for r in body["results"]] == [f.user.pk for f in found.fans[:5]]


def test_a_new_film_nothing_places_and_one_not_on_sale_say_so(trained_model):
    bare = services.item_create(title="Untitled Reel")  # no text embedded, no genre, no year: no fact
    found = audience(bare)
    assert found.fans == [] and "newer than the model" in found.note and "(not embedded yet)" in found.note
    Item.objects.filter(pk=bare.pk).update(is_active=False)
    assert audience(Item.objects.get(pk=bare.pk)).note == "The film is not on sale."
    _version, model = serving.active_model()  # a new film's card needs the placement that put it there
    with pytest.raises(ValueError, match="newer than the model"):
        serving.card_for(User.objects.get(username="ml_1"), bare, model, serving.FeedContext())


def test_staff_list_and_download_a_films_shoppers_whose_clicks_count_as_a_mailing(film, staff_client):
    page = reverse("admin:catalog_item_audience", args=[film.pk])
    html = staff_client.get(page, {"limit": 12}).content.decode()
    first = audience(film, limit=12).fans
    assert html.count('<td class="why">') == 12 and first[0].user.username in html
    assert reverse("admin:catalog_item_audience", args=[film.pk]) in staff_client.get(
        reverse("admin:catalog_item_change", args=[film.pk])).content.decode()  # linked from the item page
    download = staff_client.get(page, {"limit": 12, "format": "csv"})
    campaign = f"audience-{film.pk}-{timezone.localdate():%Y%m%d}"
    assert download["Content-Disposition"] == f'attachment; filename="{campaign}.csv"'
    rows = list(csv.DictReader(io.StringIO(download.content.decode())))
    assert list(rows[0]) == CSV_COLUMNS and [r["username"] for r in rows] == [f.user.username for f in first]
    assert [r["reason"] for r in rows] == [f.card.sentence for f in first]
    # the mail's link, followed by the shopper: a click credited to the campaign
    shopper = User.objects.get(pk=rows[0]["user_id"])
    browser = Client()
    browser.force_login(shopper)
    link = urlsplit(rows[0]["url"])
    assert link.netloc == "testserver" and browser.get(f"{link.path}?{link.query}").status_code == 200
    assert [(m.campaign, m.clicks) for m in mailing_results()] == [(campaign, 1)]


@pytest.mark.parametrize(("limit", "message"), [("abc", "Enter a whole number."), ("0", "greater than or equal to 1"),
                                                ("201", "less than or equal to 200")])
def test_a_bad_number_of_shoppers_is_named_on_the_page(film, staff_client, limit, message):
    response = staff_client.get(reverse("admin:catalog_item_audience", args=[film.pk]),
                                {"limit": limit, "format": "csv"})
    assert response.status_code == 200 and message in response.content.decode()
    assert 'class="why"' not in response.content.decode()


def test_the_page_names_shoppers_so_it_needs_the_accounts_view_permission(film, client):
    def may(codename: str, model: type) -> Permission:
        ContentType.objects.clear_cache()  # a flush by an earlier test renumbers the content types
        kind = ContentType.objects.get_for_model(model)
        return Permission.objects.get_or_create(codename=codename, content_type=kind)[0]

    clerk = User.objects.create_user("clerk", password="clerk-password-2026", is_staff=True)
    clerk.user_permissions.add(may("view_item", Item))
    client.login(username="clerk", password="clerk-password-2026")
    page = reverse("admin:catalog_item_audience", args=[film.pk])
    assert client.get(page).status_code == 403
    clerk.user_permissions.add(may("view_user", User))
    assert client.get(page).status_code == 200
    # a worker's file needs the permission to add exports, as the account list's does
    assert 'name="worker_limit"' not in client.get(page).content.decode()
    assert client.post(page, {"worker_limit": 10}).status_code == 403
    clerk.user_permissions.add(may("add_recommendationexport", RecommendationExport))
    assert 'name="worker_limit"' in client.get(page).content.decode()


def test_a_worker_writes_the_audience_the_page_lists_and_an_erasure_takes_its_file(
        film, staff_client, settings, tmp_path, broker_down, django_capture_on_commit_callbacks):
    """For more shoppers than a page lists or weighs: an export under Recommendation exports. With
    the broker down it is left failed and starts again; its worker writes the page's rows."""
    settings.RECSYS_EXPORT_DIR = tmp_path
    page = reverse("admin:catalog_item_audience", args=[film.pk])
    bad = staff_client.post(page, {"worker_limit": 0}, follow=True).content.decode()
    assert "Shoppers to write: Ensure this value is greater than or equal to 1." in bad
    assert not RecommendationExport.objects.exists()
    response = staff_client.post(page, {"worker_limit": 25}, follow=True).content.decode()
    [job] = RecommendationExport.objects.all()
    assert f"Export #{job.pk}</a> not started: the task queue is unreachable." in response
    assert (job.item, job.total, job.status) == (film, 25, job.Status.FAILED)
    assert batch.export_restart(job)
    batch.export_run(RecommendationExport.objects.get(pk=job.pk))
    job.refresh_from_db()
    assert (job.status, job.done, job.error) == (job.Status.DONE, 25, "")
    expected = audience(film, limit=25, campaign=job.campaign)
    with (tmp_path / job.file_name).open(encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    assert [(int(r["user_id"]), int(r["rank"]), r["reason"]) for r in rows] == [
        (f.user.pk, f.rank, f.card.sentence) for f in expected]
    assert rows[0]["url"].startswith("http://testserver/items/") and rows[0]["campaign"] == job.campaign
    assert job.campaign == f"audience-{film.pk}-{timezone.localdate():%Y%m%d}"
    listing = staff_client.get(reverse("admin:recommender_recommendationexport_changelist")).content.decode()
    assert f"#{job.pk}: shoppers for Contact (1997)" in listing and "25 listed" in listing
    with django_capture_on_commit_callbacks(execute=True):
        User.objects.get(pk=expected.fans[3].user.pk).delete()  # the erasure finds it by the shoppers listed
    assert not RecommendationExport.objects.exists() and list(tmp_path.iterdir()) == []


def test_an_audience_naming_a_shopper_erased_while_it_was_written_keeps_no_file(film, settings, tmp_path,
                                                                               monkeypatch):
    from recommender import audience as audience_module

    settings.RECSYS_EXPORT_DIR = tmp_path
    job = batch.audience_queue(film, 10, by=None, base_url="")
    real = audience_module.write_csv

    def erase_midway(found, out, **kwargs):
        User.objects.filter(pk=found.fans[0].user.pk).delete()  # erased before the ids are recorded
        return real(found, out, **kwargs)

    monkeypatch.setattr(audience_module, "write_csv", erase_midway)
    batch.export_run(job)
    job.refresh_from_db()
    assert job.status == job.Status.FAILED and "deleted while the file was written" in job.error
    assert (job.file_name, job.user_ids, list(tmp_path.iterdir())) == ("", [], [])


def test_the_command_writes_the_same_shoppers_to_a_file(film, tmp_path):
    out = tmp_path / "contact.csv"
    call_command("audience", str(film.pk), "--limit", "25", "-o", str(out), "--campaign", "contact-mail",
                 "--base-url", "https://shop.example.com", "--no-progress", stdout=io.StringIO())
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    expected = audience(film, limit=25, campaign="contact-mail")
    assert [(int(r["user_id"]), int(r["rank"]), r["reason"]) for r in rows] == [
        (f.user.pk, f.rank, f.card.sentence) for f in expected]
    assert all(r["url"].startswith("https://shop.example.com/items/") and "rid=contact-mail" in r["url"] for r in rows)


@pytest.mark.parametrize(("args", "message"), [
    (["999999"], "item: no film with id '999999'"), (["abc"], "item: no film with id 'abc'"),
    (["{film}", "--limit", "0"], "limit: at least 1"), (["{film}", "--campaign", "a b"], "campaign: 1-64"),
    (["{film}", "--base-url", "ftp://shop"], "base-url: an http(s) address"),
])
def test_the_commands_bad_options_are_named_and_the_old_file_is_left_alone(film, tmp_path, args, message):
    out = tmp_path / "old.csv"
    out.write_text("before\n")
    with pytest.raises(CommandError, match=re.escape(message)):
        call_command("audience", *[a.format(film=film.pk) for a in args], "-o", str(out), "--no-progress")
    assert out.read_text() == "before\n" and [p.name for p in tmp_path.iterdir()] == ["old.csv"]


def test_the_command_says_when_nothing_places_a_new_film(trained_model, tmp_path):
    new = services.item_create(title="Untitled Reel")
    with pytest.raises(CommandError, match="newer than the model"):
        call_command("audience", str(new.pk), "-o", str(tmp_path / "new.csv"), "--no-progress")
    assert list(tmp_path.iterdir()) == []


def test_a_model_of_more_shoppers_than_a_page_weighs_points_to_the_command(film, staff_client, monkeypatch):
    from recommender import admin as recommender_admin

    monkeypatch.setattr(recommender_admin, "REQUEST_SHOPPERS", 900)
    html = staff_client.get(reverse("admin:catalog_item_audience", args=[film.pk])).content.decode()
    assert "The model knows 943 shoppers: more than a request weighs in time." in html
    assert f"manage.py audience {film.pk} -o audience.csv" in html
    assert 'class="why"' not in html


def test_the_api_gives_staff_who_may_view_accounts_the_same_shoppers(film):
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    def client(user: User) -> APIClient:
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
        return api

    url = f"/api/items/{film.pk}/audience/"
    boss = client(User.objects.create_superuser("apiboss", "apiboss@example.com", "apiboss-password-2026"))
    body = boss.get(url, {"limit": 8}).json()
    expected = audience(film, limit=8)
    assert body["count"] == 8 and body["weighed"] == expected.weighed and body["note"] == "" and body["new"] is False
    assert body["campaign"] == f"audience-{film.pk}-{timezone.localdate():%Y%m%d}"
    assert [(r["user"], r["rank"], r["recommendation"]["explanation"]["sentence"]) for r in body["results"]] == [
        (f.user.pk, f.rank, f.card.sentence) for f in expected]
    assert body["results"][0]["recommendation"]["tracking"]["rid"] == body["campaign"]
    bad = boss.get(url, {"limit": 201})
    assert bad.status_code == 400 and "limit" in bad.json()["error"]["fields"]
    # it names shoppers: staff without the accounts' view permission, and shoppers, are refused
    assert client(User.objects.create_user("apiclerk", is_staff=True)).get(url).status_code == 403
    assert client(User.objects.create_user("apishopper")).get(url).status_code == 403
    assert APIClient().get(url).status_code in (401, 403)

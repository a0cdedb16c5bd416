"""My list: films a signed-in shopper saves to watch or buy later, through the API and the
storefront, each save a signal the next feed reads."""

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from catalog import services
from catalog.models import Event, EventKind, Item, SavedItem
from recommender import serving
from tests.api.conftest import assert_error

pytestmark = pytest.mark.django_db


@pytest.fixture
def films(db) -> list[Item]:
    return [services.item_create(title=f"List Film {n}", year=2000 + n) for n in range(1, 4)]


def _ids(body: dict) -> list[int]:
    return [entry["item"]["id"] for entry in body["results"]]


def test_save_list_and_take_off(client_a, user_a, films):
    assert client_a.get("/api/me/list/").json()["results"] == []
    first = client_a.post("/api/me/list/", {"item": films[1].pk}, format="json")
    assert first.status_code == 201
    assert first.json()["item"] == {"id": films[1].pk, "slug": films[1].slug, "title": "List Film 2", "year": 2002,
                                    "genres": [], "image_url": ""}
    assert first.json()["added_at"].endswith("Z")
    assert client_a.post("/api/me/list/", {"item": films[0].pk}, format="json").status_code == 201
    again = client_a.post("/api/me/list/", {"item": films[1].pk}, format="json")
    assert again.status_code == 200 and again.json()["added_at"] == first.json()["added_at"]
    body = client_a.get("/api/me/list/").json()
    assert body["count"] == 2 and _ids(body) == [films[0].pk, films[1].pk]  # the latest saved first
    # one save event per film saved, read by the history as what the user did
    saves = Event.objects.filter(user=user_a, kind=EventKind.SAVE)
    assert sorted(saves.values_list("item_id", flat=True)) == sorted([films[0].pk, films[1].pk])
    assert saves.first().context == {"src": "api"}
    history = {entry["item"]["id"]: entry["actions"] for entry in client_a.get("/api/me/history/").json()["results"]}
    assert history[films[1].pk] == [{"kind": "save", "times": 1}]

    one = client_a.get(f"/api/me/list/{films[1].pk}/")
    assert one.status_code == 200 and one.json() == first.json()
    assert_error(client_a.get(f"/api/me/list/{films[2].pk}/"), 404)  # not on the list
    assert client_a.delete(f"/api/me/list/{films[1].pk}/").status_code == 204
    assert_error(client_a.get(f"/api/me/list/{films[1].pk}/"), 404)
    assert_error(client_a.delete(f"/api/me/list/{films[1].pk}/"), 404)
    assert _ids(client_a.get("/api/me/list/").json()) == [films[0].pk]
    assert saves.count() == 2  # what happened stays: taking a film off is not "not interested"


def test_bad_input_is_a_400_naming_the_field(client_a, user_a, films):
    assert_error(client_a.post("/api/me/list/", {}, format="json"), 400, "item")
    assert_error(client_a.post("/api/me/list/", {"item": "x"}, format="json"), 400, "item")
    assert_error(client_a.post("/api/me/list/", {"item": 10**12}, format="json"), 400, "item")
    assert_error(client_a.post("/api/me/list/", {"item": films[0].pk, "note": "x"}, format="json"), 400, "note")
    films[1].is_active = False
    films[1].save()
    assert_error(client_a.post("/api/me/list/", {"item": films[1].pk}, format="json"), 400, "item")
    assert_error(client_a.delete("/api/me/list/abc/"), 404)
    assert_error(client_a.get("/api/me/list/-1/"), 404)
    assert_error(client_a.delete("/api/me/list/999999/"), 404)
    assert_error(client_a.post("/api/me/list/suggestions/", {}, format="json"), 405)
    assert not SavedItem.objects.exists() and not Event.objects.filter(kind=EventKind.SAVE).exists()


def test_only_the_signed_in_user_has_a_list(anon, client_a, client_b, films):
    client_a.post("/api/me/list/", {"item": films[0].pk}, format="json")
    assert client_b.get("/api/me/list/").json()["results"] == []
    assert_error(client_b.delete(f"/api/me/list/{films[0].pk}/"), 404)  # not on *their* list
    for response in (anon.get("/api/me/list/"), anon.post("/api/me/list/", {"item": films[0].pk}),
                     anon.get("/api/me/list/suggestions/")):
        assert_error(response, 401)
    assert SavedItem.objects.count() == 1


def test_a_film_no_longer_sold_leaves_the_list_until_it_is_back(client_a, films):
    client_a.post("/api/me/list/", {"item": films[0].pk}, format="json")
    services.item_update(item=films[0], is_active=False)
    assert client_a.get("/api/me/list/").json()["count"] == 0
    services.item_update(item=films[0], is_active=True)
    assert _ids(client_a.get("/api/me/list/").json()) == [films[0].pk]


def test_a_full_list_says_so_and_keeps_what_it_holds(client_a, user_a, films, monkeypatch):
    monkeypatch.setattr(services, "SAVED_MAX_ITEMS", 2)
    for film in films[:2]:
        assert client_a.post("/api/me/list/", {"item": film.pk}, format="json").status_code == 201
    error = assert_error(client_a.post("/api/me/list/", {"item": films[2].pk}, format="json"), 400, "item")
    assert "at most 2" in error["fields"]["item"][0]
    assert client_a.get("/api/me/list/").json()["count"] == 2
    assert Event.objects.filter(user=user_a, kind=EventKind.SAVE).count() == 2  # no event for the refused one
    # a film the shop stopped selling does not take a place
    services.item_update(item=films[0], is_active=False)
    assert client_a.post("/api/me/list/", {"item": films[2].pk}, format="json").status_code == 201


def test_the_storefront_list(client, films, monkeypatch):
    page = films[0].get_absolute_url()
    anonymous = client.post(reverse("saved_add", args=[films[0].slug]), {"next": page})
    assert anonymous.status_code == 302 and anonymous["Location"] == f"{reverse('login')}?next={page}"
    assert client.get(reverse("saved_list")).status_code == 302  # to the login page
    assert not SavedItem.objects.exists()

    client.force_login(User.objects.create_user("lister", password="a-long-password-2026"))
    saved = client.post(reverse("saved_add", args=[films[0].slug]), {"next": page}, follow=True)
    assert saved.redirect_chain[-1][0] == page
    html = saved.content.decode()
    assert "List Film 1 (2001) is on your list." in html and "✓ On my list" in html
    again = client.post(reverse("saved_add", args=[films[0].slug]), {"next": page}, follow=True)
    assert "already on your list" in again.content.decode()
    client.post(reverse("saved_add", args=[films[1].slug]), {"next": page})
    mine = client.get(reverse("saved_list")).content.decode()
    assert "My list <small class=\"muted\">(2)</small>" in mine
    assert mine.index("List Film 2 (2002)") < mine.index("List Film 1 (2001)")  # the latest saved first
    gone = client.post(reverse("saved_remove", args=[films[0].slug]), follow=True).content.decode()
    assert "List Film 1 (2001) is off your list." in gone and "(1)</small>" in gone
    assert "Save to my list" in client.get(page).content.decode()
    # the buttons of the item page and of cards change in place (htmx): the page is not reloaded
    swapped = client.post(reverse("saved_add", args=[films[0].slug]), HTTP_HX_REQUEST="true")
    html = swapped.content.decode()
    assert swapped.status_code == 200 and "<html" not in html
    assert 'aria-pressed="true"' in html and "✓ On my list" in html
    assert reverse("saved_remove", args=[films[0].slug]) in html  # pressed again, it takes the film off
    off = client.post(reverse("saved_remove", args=[films[0].slug]), HTTP_HX_REQUEST="true").content.decode()
    assert 'aria-pressed="false"' in off and "Save to my list" in off
    monkeypatch.setattr(services, "SAVED_MAX_ITEMS", 1)  # List Film 2 is on it
    refused = client.post(reverse("saved_add", args=[films[0].slug]), HTTP_HX_REQUEST="true").content.decode()
    assert "Your list is full" in refused and 'aria-pressed="false"' in refused


def test_saving_changes_the_next_feed_and_explains_it(trained_model, client, monkeypatch):
    """A save is interest the live profile reads at once; My list's row goes with the films saved."""
    user = User.objects.create_user("fresh-lister", password="a-long-password-2026")
    before = serving.feed_for_user(user, k=10)
    alien, aliens = Item.objects.get(external_id="ml:183"), Item.objects.get(external_id="ml:176")
    services.saved_add(user=user, item=alien)
    services.saved_add(user=user, item=aliens)
    after = serving.feed_for_user(user, k=10)
    assert [r.item.pk for r in after] != [r.item.pk for r in before]
    assert any("you saved Alien" in r.sentence for r in after), [r.sentence for r in after]

    client.force_login(user)
    body = client.get("/api/me/list/suggestions/?k=6").json()
    (row,) = body["rows"]
    assert row["key"] == "with_list" and row["title"] == "More like your list" and len(row["results"]) == 6
    ids = {rec["item"]["id"] for rec in row["results"]}
    assert not ids & {alien.pk, aliens.pk}
    # each card is explained by the saved film it is like, and both have their turn
    anchors = [rec["explanation"]["evidence"]["anchor"]["title"] for rec in row["results"]]
    assert set(anchors) == {"Alien (1979)", "Aliens (1986)"}
    assert all(anchor in rec["explanation"]["sentence"] for anchor, rec in zip(anchors, row["results"], strict=True))
    assert {rec["tracking"]["src"] for rec in row["results"]} == {"with_list"}
    page = client.get(reverse("saved_list")).content.decode()
    assert 'data-row="with_list"' in page and "More like your list" in page
    # a film on the list is never suggested, also when it is not one of the row's anchors
    monkeypatch.setattr(serving, "GOES_WITH_ANCHORS", 1)
    (row,) = client.get("/api/me/list/suggestions/?k=12").json()["rows"]
    assert row["title"] == "Goes well with Aliens (1986)"
    assert len(row["results"]) == 12 and alien.pk not in {rec["item"]["id"] for rec in row["results"]}
    # a saved film's card says so wherever it shows: Aliens among Alien's similar movies
    item_page = client.get(alien.get_absolute_url()).content.decode()
    card = item_page[item_page.index(f'data-item="{aliens.pk}"'):]
    card = card[:card.index("</article>")]
    assert "✓ On my list" in card and 'aria-pressed="true"' in card

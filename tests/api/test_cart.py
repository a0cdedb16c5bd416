"""/api/cart/: the cart and the demo checkout, for signed-in and anonymous clients, and the one
cart they share with the storefront."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse

from catalog import services
from catalog.cart import CART_MAX_ITEMS, Cart
from catalog.models import CartLine, Event, EventKind, Item
from recsite.sessions import SessionStore
from tests.api.conftest import assert_error
from tests.conftest import own_connection

pytestmark = pytest.mark.django_db


@pytest.fixture
def films(db) -> list[Item]:
    return [services.item_create(title=f"Cart Film {n}", year=2000 + n, price=Decimal(f"{n}.50")) for n in range(1, 4)]


def _ids(body: dict) -> list[int]:
    return [item["id"] for item in body["items"]]


def test_add_list_remove_and_check_out(client_a, user_a, films):
    assert client_a.get("/api/cart/").json() == {"items": [], "count": 0, "total": 0}
    first = client_a.post("/api/cart/", {"item": films[1].pk}, format="json")
    assert first.status_code == 201 and _ids(first.json()) == [films[1].pk]
    assert client_a.post("/api/cart/", {"item": films[0].pk}, format="json").status_code == 201
    again = client_a.post("/api/cart/", {"item": films[1].pk}, format="json")
    assert again.status_code == 200 and _ids(again.json()) == [films[1].pk, films[0].pk]  # oldest first, once
    body = client_a.get("/api/cart/").json()
    assert body["count"] == 2 and body["total"] == 4.0  # 2.50 + 1.50
    assert body["items"][0] == {"id": films[1].pk, "slug": films[1].slug, "title": "Cart Film 2", "year": 2002,
                                "genres": [], "image_url": "", "price": 2.5}
    # one add_to_cart event per film actually added
    added = Event.objects.filter(user=user_a, kind=EventKind.ADD_TO_CART)
    assert sorted(added.values_list("item_id", flat=True)) == sorted([films[0].pk, films[1].pk])
    assert added.first().context == {"src": "api"}

    assert client_a.delete(f"/api/cart/{films[0].pk}/").status_code == 204
    assert_error(client_a.delete(f"/api/cart/{films[0].pk}/"), 404)
    client_a.post("/api/cart/", {"item": films[2].pk}, format="json")

    order = client_a.post("/api/cart/checkout/")
    assert order.status_code == 201
    assert [item["id"] for item in order.json()["purchased"]] == [films[1].pk, films[2].pk]
    assert order.json()["count"] == 2 and order.json()["total"] == 6.0
    purchases = Event.objects.filter(user=user_a, kind=EventKind.PURCHASE)
    assert sorted(purchases.values_list("item_id", "value")) == [(films[1].pk, 2.5), (films[2].pk, 3.5)]
    assert client_a.get("/api/cart/").json()["count"] == 0
    assert_error(client_a.post("/api/cart/checkout/"), 400, "cart")  # empty now
    assert Event.objects.filter(user=user_a, kind=EventKind.PURCHASE).count() == 2


def test_bad_input_is_a_400_naming_the_field(client_a, films):
    assert_error(client_a.post("/api/cart/", {}, format="json"), 400, "item")
    assert_error(client_a.post("/api/cart/", {"item": "x"}, format="json"), 400, "item")
    assert_error(client_a.post("/api/cart/", {"item": 10**12}, format="json"), 400, "item")
    assert_error(client_a.post("/api/cart/", {"item": films[0].pk, "qty": 2}, format="json"), 400, "qty")
    films[1].is_active = False
    films[1].save()
    assert_error(client_a.post("/api/cart/", {"item": films[1].pk}, format="json"), 400, "item")
    assert_error(client_a.delete("/api/cart/abc/"), 404)
    assert_error(client_a.delete("/api/cart/999999/"), 404)
    assert client_a.get("/api/cart/").json()["count"] == 0
    assert not Event.objects.filter(kind=EventKind.ADD_TO_CART).exists()


def test_a_full_cart_says_so_and_keeps_what_it_holds(client_a, user_a, db):
    films = [services.item_create(title=f"Many {n}", year=1990) for n in range(CART_MAX_ITEMS + 1)]
    CartLine.objects.bulk_create([CartLine(user=user_a, item=film) for film in films[:-1]])
    error = assert_error(client_a.post("/api/cart/", {"item": films[-1].pk}, format="json"), 400, "item")
    assert str(CART_MAX_ITEMS) in error["fields"]["item"][0]
    assert client_a.get("/api/cart/").json()["count"] == CART_MAX_ITEMS


def test_carts_are_per_user_and_an_item_the_shop_stops_selling_drops_out(client_a, client_b, films):
    client_a.post("/api/cart/", {"item": films[0].pk}, format="json")
    client_a.post("/api/cart/", {"item": films[1].pk}, format="json")
    assert client_b.get("/api/cart/").json()["count"] == 0
    assert_error(client_b.delete(f"/api/cart/{films[0].pk}/"), 404)
    films[0].is_active = False
    films[0].save()
    assert _ids(client_a.get("/api/cart/").json()) == [films[1].pk]
    order = client_a.post("/api/cart/checkout/").json()
    assert [item["id"] for item in order["purchased"]] == [films[1].pk]  # what could be bought


def test_checking_out_an_empty_cart_is_a_400_for_every_client(anon, client_a):
    """The session a first-time visitor's checkout saves must survive the order's rollback (it was
    an HTML 400 page: the session was 'deleted before the request completed')."""
    for client in (anon, client_a):
        assert_error(client.post("/api/cart/checkout/"), 400, "cart")


def test_checkout_takes_no_body_and_refuses_one_it_would_ignore(client_a, user_a, films):
    """A checkout bought the whole cart whatever its body said: ``{"items": [...]}`` (a partial
    order the API does not offer), malformed JSON and a form body were all a 201."""
    for film in films[:2]:
        client_a.post("/api/cart/", {"item": film.pk}, format="json")
    assert_error(client_a.post("/api/cart/checkout/", {"items": [films[0].pk]}, format="json"), 400, "items")
    assert assert_error(client_a.post("/api/cart/checkout/", "{bad", content_type="application/json"),
                        400)["code"] == "parse_error"
    assert_error(client_a.post("/api/cart/checkout/", "items=1", content_type="application/x-www-form-urlencoded"),
                 415)
    assert not Event.objects.filter(user=user_a, kind=EventKind.PURCHASE).exists()
    assert client_a.get("/api/cart/").json()["count"] == 2
    assert client_a.post("/api/cart/checkout/", {}, format="json").status_code == 201  # an empty object is no body


def test_anonymous_clients_keep_a_cart_in_their_session(anon, films):
    assert anon.post("/api/cart/", {"item": films[2].pk}, format="json").status_code == 201
    assert _ids(anon.get("/api/cart/").json()) == [films[2].pk]
    session_key = anon.cookies["sessionid"].value
    assert Event.objects.get(kind=EventKind.ADD_TO_CART).session_key == session_key
    order = anon.post("/api/cart/checkout/")
    assert order.status_code == 201
    purchase = Event.objects.get(kind=EventKind.PURCHASE)
    assert purchase.user is None and purchase.session_key == session_key
    assert anon.get("/api/cart/").json()["count"] == 0


def test_the_storefront_and_the_api_share_a_signed_in_cart(client, client_a, user_a, films):
    """One cart per account: added in the API, shown (and bought) on the cart page of another
    browser; what was in the cart before signing in joins it."""
    client_a.post("/api/cart/", {"item": films[0].pk}, format="json")
    client.post(reverse("cart_add", args=[films[1].slug]))  # anonymous, before logging in
    assert client.post(reverse("login"), {"username": "alice", "password": "alice-pw-2026"}).status_code == 302
    page = client.get(reverse("cart")).content.decode()
    assert "Cart Film 1" in page and "Cart Film 2" in page and "Cart (2)" in page
    assert _ids(client_a.get("/api/cart/").json()) == [films[0].pk, films[1].pk]
    client.post(reverse("checkout"))
    assert client_a.get("/api/cart/").json()["count"] == 0
    assert Event.objects.filter(user=user_a, kind=EventKind.PURCHASE).count() == 2


def test_merging_at_login_respects_the_limit(client, user_a, db):
    films = [services.item_create(title=f"Merge {n}", year=1990) for n in range(CART_MAX_ITEMS + 2)]
    CartLine.objects.bulk_create([CartLine(user=user_a, item=film) for film in films[: CART_MAX_ITEMS - 1]])
    for film in films[CART_MAX_ITEMS - 2:]:  # one already in the account's cart, then three new
        client.post(reverse("cart_add", args=[film.slug]))
    client.login(username="alice", password="alice-pw-2026")
    lines = list(CartLine.objects.filter(user=user_a).values_list("item_id", flat=True))
    assert len(lines) == CART_MAX_ITEMS and lines[-1] == films[CART_MAX_ITEMS - 1].pk
    assert "cart" not in client.session


def test_merging_at_login_skips_a_film_the_shop_stopped_selling(client, user_a, films):
    for film in films:
        client.post(reverse("cart_add", args=[film.slug]))
    services.item_update(item=films[1], is_active=False)
    client.login(username="alice", password="alice-pw-2026")
    assert list(CartLine.objects.filter(user=user_a).values_list("item_id", flat=True)) == [films[0].pk, films[2].pk]


def test_the_headers_count_leaves_out_a_film_the_shop_stopped_selling(client, films):
    for film in films[:2]:
        client.post(reverse("cart_add", args=[film.slug]))
    assert "Cart (2)" in client.get(reverse("home")).content.decode()
    services.item_update(item=films[0], is_active=False)
    assert "Cart (1)" in client.get(reverse("cart")).content.decode()
    client.force_login(User.objects.create_user("carol"))  # the account's cart counts the same way
    assert "Cart (1)" in client.get(reverse("browse")).content.decode()


def test_the_storefront_says_when_the_cart_is_full(client, db):
    films = [services.item_create(title=f"Full {n}", year=1990) for n in range(CART_MAX_ITEMS + 1)]
    for film in films[:-1]:
        client.post(reverse("cart_add", args=[film.slug]))
    page = client.post(reverse("cart_add", args=[films[-1].slug]), follow=True).content.decode()
    assert f"Your cart is full: it holds at most {CART_MAX_ITEMS} movies." in page
    assert f"Cart ({CART_MAX_ITEMS})" in page
    assert client.session["cart"] == [film.pk for film in films[:-1]]


def test_a_film_the_shop_stopped_selling_does_not_take_a_place_in_the_cart(client_a, user_a, db):
    films = [services.item_create(title=f"Slot {n}", year=1990) for n in range(CART_MAX_ITEMS + 1)]
    CartLine.objects.bulk_create([CartLine(user=user_a, item=film) for film in films[:-1]])
    services.item_update(item=films[0], is_active=False)
    assert client_a.get("/api/cart/").json()["count"] == CART_MAX_ITEMS - 1
    assert_error(client_a.delete(f"/api/cart/{films[0].pk}/"), 404)  # not in the cart the client sees
    assert client_a.post("/api/cart/", {"item": films[-1].pk}, format="json").status_code == 201


@pytest.mark.parametrize("signed_in", [True, False], ids=["account", "session"])
@pytest.mark.parametrize("action", ["checkout", "add"])
def test_a_second_request_waits_for_the_first_to_change_the_cart(signed_in, action):
    """A double-clicked "Check out" ordered the cart twice, and parallel adds went past the
    limit: the second request read the cart before the first committed."""
    holding = threading.Event()
    title = f"Race {action} {signed_in}"

    def setup() -> tuple[User | None, str, list[Item]]:
        user = User.objects.create_user(f"race-{action}-{signed_in}") if signed_in else None
        session = SessionStore()
        films = [services.item_create(title=f"{title} {n}", year=1990) for n in range(CART_MAX_ITEMS + 1)]
        for film in films[: CART_MAX_ITEMS - 1]:
            Cart(user, session).add(film)
        return user, session.session_key or "", films

    def act(user: User | None, key: str, film: Item) -> int:
        cart = Cart(user, SessionStore(key))
        try:
            return len(cart.checkout()) if action == "checkout" else int(cart.add(film))
        except ValidationError:
            return 0

    def act_and_hold(user: User | None, key: str, film: Item) -> int:
        with transaction.atomic():
            done = act(user, key, film)
            holding.set()
            time.sleep(1.0)  # meanwhile the second request reads the cart
        return done

    def cleanup(user: User | None, key: str) -> None:
        Event.objects.filter(item__title__startswith=title).delete()
        CartLine.objects.filter(item__title__startswith=title).delete()
        Item.objects.filter(title__startswith=title).delete()
        SessionStore(key).delete()
        if user is not None:
            user.delete()

    with ThreadPoolExecutor(2) as pool:
        user, key, films = pool.submit(own_connection(setup)).result()
        try:
            first = pool.submit(own_connection(act_and_hold, user, key, films[-2]))
            assert holding.wait(30)
            second = pool.submit(own_connection(act, user, key, films[-1]))
            assert first.result(60) == (CART_MAX_ITEMS - 1 if action == "checkout" else 1)
            assert second.result(60) == 0  # an empty cart, or a full one
            kind = EventKind.PURCHASE if action == "checkout" else EventKind.ADD_TO_CART
            events = pool.submit(own_connection(
                lambda: Event.objects.filter(item__title__startswith=title, kind=kind).count())).result()
            assert events == (CART_MAX_ITEMS - 1 if action == "checkout" else CART_MAX_ITEMS)
            held = pool.submit(own_connection(lambda: len(Cart(user, SessionStore(key)).items()))).result()
            assert held == (0 if action == "checkout" else CART_MAX_ITEMS)
        finally:
            pool.submit(own_connection(cleanup, user, key)).result()


def test_erasing_the_account_empties_its_cart(client_a, user_a, films):
    client_a.post("/api/cart/", {"item": films[0].pk}, format="json")
    assert client_a.delete("/api/me/").status_code == 204
    assert not User.objects.filter(pk=user_a.pk).exists()
    assert not CartLine.objects.exists()


def test_suggestions_go_with_the_cart_and_match_the_page(client, trained_model):
    """The cart page's row and GET /api/cart/suggestions/ for the same session: films like the
    cart's, each explained by a film in the cart, none of the cart's own, the anchors taking
    turns."""
    toy_story, star_wars, godfather = (Item.objects.get(external_id=f"ml:{n}") for n in (1, 50, 127))
    assert client.get("/api/cart/suggestions/").json()["rows"] == []  # an empty cart has none
    for film in (toy_story, star_wars, godfather):
        client.post(reverse("cart_add", args=[film.slug]))
    body = client.get("/api/cart/suggestions/", {"k": 12}).json()
    [row] = body["rows"]
    assert row["key"] == "with_cart" and row["title"] == "Goes well with your cart"
    results = row["results"]
    assert len(results) == 12
    cart = {toy_story.pk, star_wars.pk, godfather.pk}
    assert not cart & {r["item"]["id"] for r in results}
    anchors = [r["explanation"]["evidence"]["anchor"]["pk"] for r in results]
    assert anchors[:3] == [godfather.pk, star_wars.pk, toy_story.pk]  # the newest first, in turns
    titles = {film.pk: film.display_title for film in (toy_story, star_wars, godfather)}
    assert all(titles[a] in r["explanation"]["sentence"] for a, r in zip(anchors, results, strict=True))

    page = client.get(reverse("cart"))
    [page_row] = page.context["rows"]
    assert [rec.item.pk for rec in page_row.items] == [r["item"]["id"] for r in results]
    html = page.content.decode()
    assert 'data-row="with_cart"' in html and "Goes well with your cart" in html
    # each card shown is an impression with its row and position, so clicks are attributed
    shown = Event.objects.filter(kind=EventKind.IMPRESSION, context__src="with_cart")
    assert shown.count() == 12 and shown.filter(context__pos=1, item=page_row.items[0].item).exists()


def test_a_one_film_cart_names_it(client, trained_model):
    alien = Item.objects.get(external_id="ml:183")
    client.post(reverse("cart_add", args=[alien.slug]))
    [row] = client.get("/api/cart/suggestions/", {"k": 5}).json()["rows"]
    assert row["title"] == "Goes well with Alien (1979)" and len(row["results"]) == 5
    assert_error(client.get("/api/cart/suggestions/", {"k": 0}), 400, "k")

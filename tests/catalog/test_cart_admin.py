"""Signed-in shoppers' carts in the admin, read only (anonymous carts are in sessions: not shown)."""

import pytest
from django.contrib.auth.models import Permission, User
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse

from catalog.models import AccountCart, CartLine, Item


@pytest.fixture
def carts(ml100k) -> dict[str, list[Item]]:
    films = list(Item.objects.order_by("pk")[:3])
    films[2].is_active = False
    films[2].save(update_fields=["is_active"])
    for name, bought in (("carla", films), ("dave", films[:1]), ("erin", [])):
        user = User.objects.create_user(name)
        for item in bought:
            CartLine.objects.create(user=user, item=item)
    return {"carla": films, "dave": films[:1]}


def _staff(client, *codenames: str) -> User:
    ContentType.objects.clear_cache()  # a flush by an earlier test renumbers the content types
    staff = User.objects.create_user("clerk", password="clerk-password-2026", is_staff=True)
    kind = ContentType.objects.get_for_model(AccountCart, for_concrete_model=False)
    staff.user_permissions.set([Permission.objects.get_or_create(codename=codename, content_type=kind)[0]
                                for codename in codenames])
    client.login(username="clerk", password="clerk-password-2026")
    return staff


def test_staff_allowed_to_view_carts_see_each_owner_count_and_films_and_change_nothing(carts, client):
    _staff(client, "view_accountcart")
    listing = client.get(reverse("admin:catalog_accountcart_changelist"))
    assert listing.status_code == 200
    rows = [(cart.get_username(), cart.film_count) for cart in listing.context["cl"].result_list]
    assert sorted(rows) == [("carla", 3), ("dave", 1)]  # an empty cart is not listed
    page = listing.content.decode()
    assert "Add cart" not in page and 'value="delete_selected"' not in page
    carla = User.objects.get(username="carla")
    change = client.get(reverse("admin:catalog_accountcart_change", args=[carla.pk])).content.decode()
    films = carts["carla"]
    assert all(film.display_title in change for film in films) and "(no longer sold)" in change
    assert change.index(films[0].display_title) < change.index(films[1].display_title)  # oldest first
    assert 'name="_save"' not in change
    assert client.post(reverse("admin:catalog_accountcart_delete", args=[carla.pk]), {"post": "yes"}).status_code == 403
    assert client.get(reverse("admin:catalog_accountcart_add")).status_code == 403
    assert User.objects.filter(username="carla").exists() and CartLine.objects.filter(user=carla).count() == 3


def test_carts_need_the_view_permission(carts, client):
    _staff(client)
    assert client.get(reverse("admin:catalog_accountcart_changelist")).status_code == 403

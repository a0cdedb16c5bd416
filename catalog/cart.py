"""A session cart: item ids in the session, so anonymous shoppers have one too."""

from __future__ import annotations

from decimal import Decimal

from django.contrib.sessions.backends.base import SessionBase

from catalog.models import Item

CART_KEY = "cart"
CART_MAX_ITEMS = 50


def cart_items(session: SessionBase) -> list[Item]:
    ids = session.get(CART_KEY, [])
    by_pk = Item.objects.active().in_bulk(ids)
    return [by_pk[pk] for pk in ids if pk in by_pk]


def cart_add(session: SessionBase, item: Item) -> bool:
    ids = list(session.get(CART_KEY, []))
    if item.pk in ids or len(ids) >= CART_MAX_ITEMS:
        return False
    session[CART_KEY] = [*ids, item.pk]
    return True


def cart_remove(session: SessionBase, item: Item) -> None:
    session[CART_KEY] = [pk for pk in session.get(CART_KEY, []) if pk != item.pk]


def cart_clear(session: SessionBase) -> None:
    session.pop(CART_KEY, None)


def cart_total(items: list[Item]) -> Decimal:
    return sum((item.price for item in items), Decimal("0"))

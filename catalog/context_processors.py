"""Template context for every storefront page."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from catalog import selectors
from catalog.cart import Cart


def cart(request: HttpRequest) -> dict[str, object]:
    """``cart_count`` for the header: a callable, so only pages that show it count."""
    if not (hasattr(request, "user") and hasattr(request, "session")):  # a request no middleware saw
        return {"cart_count": 0}
    return {"cart_count": Cart.of(request).count}


def saved(request: HttpRequest) -> dict[str, object]:
    """``saved_ids``: the ids of the films on the signed-in shopper's list, for the cards' "Save"
    buttons; read once, and only by a page that shows one."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"saved_ids": frozenset()}
    return {"saved_ids": SimpleLazyObject(lambda: selectors.saved_ids(user=user))}

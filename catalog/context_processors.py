"""Template context for every storefront page."""

from __future__ import annotations

from django.http import HttpRequest

from catalog.cart import Cart


def cart(request: HttpRequest) -> dict[str, object]:
    """``cart_count`` for the header: a callable, so only pages that show it count."""
    if not (hasattr(request, "user") and hasattr(request, "session")):  # a request no middleware saw
        return {"cart_count": 0}
    return {"cart_count": Cart.of(request).count}

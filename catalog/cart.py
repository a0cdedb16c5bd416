"""The shopper's cart: ``CartLine`` rows for a signed-in shopper (one cart on every device and in
the API), item ids in the session for an anonymous one. Signing in moves the session's cart into
the account's (``cart_merge_on_login``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.sessions.backends.base import SessionBase
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest

from catalog import services
from catalog.models import CartLine, EventKind, Item

CART_KEY = "cart"
CART_MAX_ITEMS = 50


@dataclass(frozen=True)
class Cart:
    user: AbstractBaseUser | None
    session: SessionBase

    @classmethod
    def of(cls, request: HttpRequest) -> Cart:
        return cls(request.user if request.user.is_authenticated else None, request.session)

    def _stored_ids(self) -> list[int]:
        """Every id stored in the cart, oldest first (also films the shop stopped selling since)."""
        if self.user is None:
            return list(self.session.get(CART_KEY, []))
        return list(CartLine.objects.filter(user=self.user).values_list("item_id", flat=True))

    def items(self) -> list[Item]:
        """What can be bought, oldest first. A film the shop stopped selling is not shown, counted
        or removable; its line stays, in case it comes back, until the checkout empties the cart."""
        return _active_in_order(self._stored_ids())

    def item_ids(self) -> list[int]:
        return [item.pk for item in self.items()]

    def count(self) -> int:
        """``len(self.items())`` in one ``count(*)`` (the header's count)."""
        if self.user is None:
            ids = self.session.get(CART_KEY, [])
            return Item.objects.active().filter(pk__in=ids).count() if ids else 0
        return CartLine.objects.filter(user=self.user, item__is_active=True).count()

    def add(self, item: Item, *, context: dict[str, Any] | None = None) -> bool:
        """Put ``item`` in the cart and record an ``add_to_cart`` event: False (and no event) if it
        was there; a ``ValidationError`` if the cart is full."""
        session_key = self._session_key()
        with self._locked():
            ids = self.item_ids()
            if item.pk in ids:
                return False
            if len(ids) >= CART_MAX_ITEMS:
                raise ValidationError({"item": f"Your cart is full: it holds at most {CART_MAX_ITEMS} movies."})
            if self.user is not None and not _line_created(self.user, item):  # its line outlived a deactivation
                return False
            services.event_record(item=item, kind=EventKind.ADD_TO_CART, user=self.user, session_key=session_key,
                                  context=context)
            if self.user is None:
                self.session[CART_KEY] = [*ids, item.pk]
        return True

    def remove(self, item: Item) -> bool:
        """Take ``item`` out; False if it was not in the cart (or cannot be bought)."""
        if not item.is_active:
            return False
        if self.user is not None:  # one statement: no lock needed
            return CartLine.objects.filter(user=self.user, item=item).delete()[0] > 0
        with self._locked():
            ids = self._stored_ids()
            self.session[CART_KEY] = [pk for pk in ids if pk != item.pk]
        return item.pk in ids

    def clear(self) -> None:
        if self.user is not None:
            CartLine.objects.filter(user=self.user).delete()
        self.session.pop(CART_KEY, None)

    def _session_key(self) -> str:
        """The session's key for the events (a token client's signed-in calls have none)."""
        return services.session_key_of(self.session) if self.user is None else self.session.session_key or ""

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """A transaction in which the cart is this request's alone, so a double-clicked "Check
        out" orders once and parallel adds keep to the limit. A signed-in cart locks the user's
        row. A session cart locks the session's row and re-reads the cart from it (this request
        read its copy before the lock), and saves it before the lock is let go."""
        with transaction.atomic():
            if self.user is not None:
                services.user_lock(self.user)
                yield
                return
            rows = type(self.session).get_model_class().objects.select_for_update()
            row = rows.filter(session_key=self.session.session_key).first() if self.session.session_key else None
            if row is not None:
                self.session[CART_KEY] = self.session.decode(row.session_data).get(CART_KEY, [])
            yield
            if row is not None:
                self.session.save()

    def checkout(self, *, context: dict[str, Any] | None = None) -> list[Item]:
        """A demo order of what can be bought (one ``purchase`` event each) and an empty cart,
        together or not at all; a ``ValidationError`` for an empty cart."""
        session_key = self._session_key()
        with self._locked():
            items = self.items()
            services.order_place(items=items, user=self.user, session_key=session_key, context=context)
            self.clear()
        return items


def _line_created(user: AbstractBaseUser, item: Item) -> bool:
    try:
        with transaction.atomic():
            CartLine.objects.create(user=user, item=item)
    except IntegrityError:
        return False
    return True


def _active_in_order(ids: list[int]) -> list[Item]:
    by_pk = Item.objects.active().in_bulk(ids)
    return [by_pk[pk] for pk in ids if pk in by_pk]


def cart_total(items: list[Item]) -> Decimal:
    return sum((item.price for item in items), Decimal("0"))


def cart_merge_on_login(sender: Any, request: HttpRequest | None, user: AbstractBaseUser, **kwargs: Any) -> None:
    """``user_logged_in`` receiver: what the shopper put in the cart before signing in joins the
    account's cart (up to the limit) and leaves the session. Its ``add_to_cart`` events were
    recorded when it was added."""
    if request is None or not hasattr(request, "session"):
        return
    ids = request.session.pop(CART_KEY, [])
    if not ids:
        return
    held = set(Cart(user, request.session).item_ids())
    joining = [item for item in _active_in_order(ids) if item.pk not in held][: max(CART_MAX_ITEMS - len(held), 0)]
    CartLine.objects.bulk_create([CartLine(user=user, item=item) for item in joining], ignore_conflicts=True)

"""Writes to the catalog. Each runs in a transaction and validates with ``full_clean``; the
recommender hears about saved rows through Django's ``post_save`` and about bulk imports through
:mod:`catalog.signals`, acting after commit (serving reads events directly, per request)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.sessions.backends.base import SessionBase
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.text import slugify

from catalog.datasets import rating_value
from catalog.models import (
    REPORT_NOTE_MAX,
    Event,
    EventKind,
    HistoryExclusion,
    Item,
    Profile,
    Review,
    ReviewReport,
    SavedItem,
)


def unique_slug(title: str, year: int | None, *, exclude_pk: int | None = None) -> str:
    base = slugify(f"{title} {year}" if year else title)[:240] or "item"
    slug, n = base, 2
    while Item.objects.filter(slug=slug).exclude(pk=exclude_pk).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


def local_external_id(slug: str) -> str:
    """``local:<slug>``; when that is too long for the field (a slug runs to 255 characters, an
    external id to 100), its start and a digest of the whole slug, so it stays unique."""
    external_id = f"local:{slug}"
    limit = Item._meta.get_field("external_id").max_length
    if len(external_id) <= limit:
        return external_id
    return f"{external_id[:limit - 13]}-{hashlib.sha256(slug.encode()).hexdigest()[:12]}"


def _lock_until_commit(name: str) -> None:
    """A PostgreSQL advisory lock on ``name``, held until the transaction ends."""
    key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])


@transaction.atomic
def item_create(*, title: str, external_id: str | None = None, **fields: Any) -> Item:
    """A new item; its slug and external id are generated unless given.

    Creates that generate a slug take turns (a double submit of one title, or titles whose
    slugs meet: "X" takes "x-2" that "X 2" wants), so each gets its own instead of the later
    ones failing on the unique index (a 500); items are created one at a time by staff, so
    the wait is short. A given slug or external id that a concurrent create takes between
    ``full_clean`` and the insert is reported by ``full_clean`` again, as when it was taken
    before."""
    item = Item(title=title, **fields)
    if fields.get("slug"):
        item.slug = fields["slug"]
    else:
        _lock_until_commit("catalog.services.item_create")
        item.slug = unique_slug(title, fields.get("year"))
    item.external_id = external_id or local_external_id(item.slug)
    item.full_clean()
    try:
        with transaction.atomic():
            item.save()
    except IntegrityError:
        item.full_clean()  # the row that took the slug or external id is committed now: a ValidationError
        raise
    return item


@transaction.atomic
def item_update(*, item: Item, **fields: Any) -> Item:
    for name, value in fields.items():
        setattr(item, name, value)
    item.full_clean()
    item.save()
    return item


def parse_rating(value: object) -> Decimal:
    """A rating from a form or API value: 0.5 to 5.0 in half steps, else ValidationError."""
    try:
        return rating_value(value)
    except ValueError as exc:
        raise ValidationError({"rating": str(exc)}) from None


@transaction.atomic
def review_save(*, user: AbstractBaseUser, item: Item, rating: object, text: str | None = None) -> Review:
    """Create or update the user's one review of ``item``; a new or changed rating records a
    ``rate`` event (editing only the text does not: the feed would take it for a fresh rating)."""
    value = parse_rating(rating)
    review = Review.objects.select_for_update().filter(user=user, item=item).first()
    if review is None:
        review = Review(user=user, item=item, created_at=timezone.now())
    rated = review.pk is None or review.rating != value
    review.rating = value
    if text is not None:
        review.text = text.strip()
    review.full_clean()
    review.save()
    if rated:
        event_record(user=user, item=item, kind=EventKind.RATE, value=float(value))
    return review


@transaction.atomic
def review_update(*, review: Review, rating: object = None, text: str | None = None) -> Review:
    """Change ``review``'s rating and/or text (None: keep), as :func:`review_save` does.
    Review.DoesNotExist if it was deleted meanwhile (saving by user and item would write it
    again)."""
    current = Review.objects.select_for_update().select_related("user", "item").get(pk=review.pk)
    return review_save(user=current.user, item=current.item, rating=current.rating if rating is None else rating,
                       text=text)


@transaction.atomic
def review_delete(*, review: Review) -> None:
    review.delete()


@transaction.atomic
def review_report(*, user: AbstractBaseUser, review: Review, reason: str, note: str = "") -> tuple[ReviewReport, bool]:
    """``user`` reports ``review`` to the moderators (one report each: reporting again changes
    the reason and note). Returns the report and whether it is new. ValidationError on
    ``review`` for one's own review, on ``reason``/``note`` for bad values."""
    if review.user_id == user.pk:
        raise ValidationError({"review": "This is your own review: edit or delete it instead."})
    report = ReviewReport(review=review, user=user, reason=reason, note=(note or "").strip())
    if len(report.note) > REPORT_NOTE_MAX:  # a TextField's max_length is the forms' to check
        raise ValidationError({"note": f"At most {REPORT_NOTE_MAX} characters."})
    report.full_clean(exclude=["review", "user"], validate_unique=False, validate_constraints=False)
    # (a concurrent first report by the same user: get_or_create's IntegrityError retry finds it)
    return ReviewReport.objects.update_or_create(review=review, user=user,
                                                 defaults={"reason": report.reason, "note": report.note})


def sessions_forget(*, session_keys: Iterable[str]) -> None:
    """Delete these browser sessions and their anonymous events (what was done in them before
    signing in): the part of an account that no foreign key cascades."""
    keys = {key for key in session_keys if key}
    if keys:
        Event.objects.filter(user=None, session_key__in=keys).delete()
        Session.objects.filter(session_key__in=keys).delete()


def account_deleting(sender: type, instance: AbstractBaseUser, **kwargs: object) -> None:
    """``pre_delete`` of the user model: however an account is deleted (the admin, the shell, an
    erasure), the sessions its events name go with it, and their anonymous events."""
    sessions_forget(session_keys=Event.objects.filter(user=instance).exclude(session_key="")
                    .values_list("session_key", flat=True).distinct())


def api_tokens_revoke(*, user: AbstractBaseUser) -> int:
    """Sign the account's apps out: its API token stops working (the next ``POST
    /api/auth/token/`` issues a new one). Returns how many tokens there were."""
    from rest_framework.authtoken.models import Token

    return Token.objects.filter(user=user).delete()[0]


def password_saved(sender: type, instance: AbstractBaseUser, created: bool, **kwargs: object) -> None:
    """``post_save`` of the user model: a password set anew (the store's change and reset pages,
    the API, the admin, ``manage.py changepassword``) signs the account's apps out, as Django
    signs its other browser sessions out. ``set_password`` leaves the new password in
    ``_password`` until the save has run; a login's rehash of the same password does not."""
    if not created and getattr(instance, "_password", None) is not None:
        api_tokens_revoke(user=instance)


VISIT_KEY = "recsite_visit"  # session data: the key events were recorded under (signing in changes the key)


def session_key_of(session: SessionBase) -> str:
    """The session's key for events, saving a first-time visitor's session to get one. Call it
    before a transaction: rolled back, the save would take the row the new cookie names. The
    key is kept in the session's data too, where a sign-in finds it (:func:`visit_claim_on_login`)."""
    if not session.session_key:
        session.save()
    key = session.session_key or ""
    if key and session.get(VISIT_KEY) != key:
        session[VISIT_KEY] = key
    return key


def visit_claim_on_login(sender: Any, request: HttpRequest | None, user: AbstractBaseUser, **kwargs: Any) -> None:
    """``user_logged_in`` receiver: what the shopper did in this browser session before signing
    in (views, clicks, cart adds, "not interested"...) becomes the account's, as the cart does.
    Django gives a signed-in session a new key, so without this the feed would forget those
    actions, a mailed link clicked before signing in would not be credited with the purchase
    that followed, and the account's export and erasure would miss them. Impressions stay the
    session's (what was shown, not what the shopper did): an erasure deletes them with the
    session, as it deletes every session the account's events name."""
    session = getattr(request, "session", None)
    visit = session.pop(VISIT_KEY, "") if session is not None else ""
    if visit and visit != session.session_key:
        visit_claim(user=user, session_key=visit)


def visit_claim(*, user: AbstractBaseUser, session_key: str) -> int:
    """The anonymous events recorded under ``session_key`` become ``user``'s, impressions apart
    (see :func:`visit_claim_on_login`); how many. An API client claims its own session key when
    it signs in or up."""
    if not session_key:
        return 0
    return Event.objects.filter(user=None, session_key=session_key).exclude(kind=EventKind.IMPRESSION).update(
        user=user)


def event_record(
    *,
    item: Item,
    kind: str,
    user: AbstractBaseUser | None = None,
    session_key: str = "",
    value: float | None = None,
    context: dict[str, Any] | None = None,
    idempotency_key: str | None = None,
    created_at: Any = None,
) -> tuple[Event, bool]:
    """Append an event; with ``idempotency_key`` a retried call returns the stored one.

    Returns ``(event, created)``.
    """
    if kind not in EventKind.values:
        raise ValidationError({"kind": f"Unknown event kind {kind!r}."})
    user = user if user is not None and user.is_authenticated else None
    if user is None and not session_key:
        raise ValidationError({"session_key": "An anonymous event needs a session key."})
    if idempotency_key:
        existing = Event.objects.filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            return existing, False
    with transaction.atomic():
        event = Event(
            user=user, session_key=session_key or "", item=item, kind=kind, value=value,
            context=context or {}, idempotency_key=idempotency_key or None,
            created_at=created_at or timezone.now(),
        )
        event.full_clean(validate_unique=False)
        event.save()
    return event, True


def user_lock(user: AbstractBaseUser) -> None:
    """Lock ``user``'s row until the transaction ends, so that the account's parallel requests
    (a double click, two tabs) take turns: a limit checked and then kept holds."""
    list(get_user_model().objects.select_for_update().filter(pk=user.pk).values_list("pk"))


SAVED_MAX_ITEMS = 500


@transaction.atomic
def saved_add(*, user: AbstractBaseUser, item: Item, context: dict[str, Any] | None = None
               ) -> tuple[SavedItem, bool]:
    """Put ``item`` on ``user``'s list and record a ``save`` event (interest the next feed reads
    at once). Returns ``(entry, created)``: not created, and no event, if it was there; a
    ``ValidationError`` for a film the shop no longer sells or a full list."""
    if not item.is_active:
        raise ValidationError({"item": f"{item.display_title} is no longer in the shop."})
    user_lock(user)
    saved = SavedItem.objects.filter(user=user)
    entry = saved.filter(item=item).first()
    if entry is not None:
        return entry, False
    if saved.filter(item__is_active=True).count() >= SAVED_MAX_ITEMS:
        raise ValidationError({"item": f"Your list is full: it holds at most {SAVED_MAX_ITEMS} movies."})
    entry = SavedItem.objects.create(user=user, item=item)
    event_record(item=item, kind=EventKind.SAVE, user=user, context=context)
    return entry, True


def saved_remove(*, user: AbstractBaseUser, item: Item) -> bool:
    """Take ``item`` off ``user``'s list; False if it was not on it. The ``save`` event stays:
    it happened, and a film taken off a list (often: watched) was still of interest."""
    return SavedItem.objects.filter(user=user, item=item).delete()[0] > 0


@transaction.atomic
def history_use(*, user: AbstractBaseUser, item: Item, used: bool) -> None:
    """Use ``item`` as evidence of ``user``'s taste again, or stop using it (``used=False``):
    what the user did with it stays stored, but the next feed and the next trained model leave
    it out. Idempotent."""
    if used:
        HistoryExclusion.objects.filter(user=user, item=item).delete()
    else:
        HistoryExclusion.objects.get_or_create(user=user, item=item)


def profile_get(*, user: AbstractBaseUser) -> Profile:
    profile, _ = Profile.objects.get_or_create(user=user)
    user.profile = profile  # ``user.profile`` reads this one from now on, not a stale copy
    return profile


@transaction.atomic
def profile_update(*, user: AbstractBaseUser, **fields: Any) -> Profile:
    profile = Profile.objects.select_for_update().get(pk=profile_get(user=user).pk)
    for name, value in fields.items():
        setattr(profile, name, value)
    profile.full_clean()
    profile.save()
    user.profile = profile
    return profile


@transaction.atomic
def order_place(
    *, items: list[Item], user: AbstractBaseUser | None = None, session_key: str = "",
    context: dict[str, Any] | None = None,
) -> list[Event]:
    """A demo checkout: one ``purchase`` event per item, all or nothing."""
    if not items:
        raise ValidationError({"cart": "Your cart is empty."})
    return [
        event_record(item=item, kind=EventKind.PURCHASE, user=user, session_key=session_key,
                     value=float(item.price), context=context)[0]
        for item in items
    ]


@transaction.atomic
def onboarding_complete(*, user: AbstractBaseUser, items: list[Item]) -> Profile:
    """Record a new user's picks as strong positive signals (``more_like_this``)."""
    for item in items:
        event_record(item=item, kind=EventKind.MORE_LIKE_THIS, user=user, context={"source": "onboarding"})
    return profile_update(user=user, onboarded=True)

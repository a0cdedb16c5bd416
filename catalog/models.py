"""The shop's data: categories, items, reviews, activity events, profiles, history exclusions,
carts and lists, knowledge graph."""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.db.models.fields.json import KeyTransform
from django.urls import reverse

from catalog.datasets import (
    EXTERNAL_ID_MAX,
    GENRE_MAX,
    MAX_RATING,
    MIN_RATING,
    PRICE_DECIMALS,
    PRICE_DIGITS,
    RATING_RULE,
    TITLE_MAX,
    URL_MAX,
    YEAR_MAX,
    YEAR_MIN,
)

REVIEW_TEXT_MAX = 5000
ATTRIBUTES_HELP = 'A JSON object, e.g. {"language": "English"}; {} for none.'  # the admin's help, and the error
REPORT_NOTE_MAX = 500
MAX_ID = 2**63 - 1  # PostgreSQL bigint


def id_from_text(value: object) -> int | None:
    """A row id written in a URL or a form, or None (never a database error for ``-1``, ``abc``
    or ``10**30``). Only ASCII digits: Python's ``int`` also reads ``٣``, ``+3`` and ``3_0``,
    each another spelling of the same id."""
    text = str(value)
    if not (text.isascii() and text.isdigit()):
        return None
    pk = int(text)
    return pk if 1 <= pk <= MAX_ID else None


class Category(models.Model):
    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name


class ItemQuerySet(models.QuerySet):
    def active(self) -> ItemQuerySet:
        return self.filter(is_active=True)

    def with_genre(self, genre: str) -> ItemQuerySet:
        return self.filter(genres__contains=[genre])


class Item(models.Model):
    external_id = models.CharField(max_length=EXTERNAL_ID_MAX, unique=True,
                                   help_text="Stable id from the source system.")
    slug = models.SlugField(max_length=255, unique=True)
    title = models.CharField(max_length=TITLE_MAX)
    description = models.TextField(blank=True)
    category = models.ForeignKey(Category, null=True, blank=True, on_delete=models.SET_NULL, related_name="items")
    genres = ArrayField(models.CharField(max_length=GENRE_MAX), default=list, blank=True)
    tags = ArrayField(models.CharField(max_length=50), default=list, blank=True)
    attributes = models.JSONField(default=dict, blank=True)
    year = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(YEAR_MIN), MaxValueValidator(YEAR_MAX)]
    )
    price = models.DecimalField(max_digits=PRICE_DIGITS, decimal_places=PRICE_DECIMALS, default=Decimal("9.99"),
                                validators=[MinValueValidator(Decimal("0"))])
    image_url = models.URLField(blank=True, max_length=URL_MAX)
    is_active = models.BooleanField(default=True)
    # Rating statistics of the visible reviews, kept by PostgreSQL (migration catalog 0005):
    # triggers on catalog_review add each write's difference in the writing transaction, and
    # a trigger on catalog_item keeps them when the app saves an item it read earlier.
    review_count = models.PositiveIntegerField(default=0, db_default=0, editable=False,
                                               help_text="Visible reviews (kept by the database).")
    rating_total = models.DecimalField(max_digits=12, decimal_places=1, default=Decimal(0), db_default=Decimal(0),
                                       editable=False, help_text="Sum of the visible reviews' ratings.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ItemQuerySet.as_manager()

    class Meta:
        ordering = ["title", "id"]
        indexes = [
            GinIndex(fields=["genres"], name="item_genres_gin"),
            models.Index(fields=["is_active", "-created_at"], name="item_active_created"),
            models.Index(fields=["year"], name="item_year"),
            models.Index(fields=["-review_count", "title", "id"], name="item_popular"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(price__gte=0), name="item_price_non_negative"),
        ]

    def __str__(self) -> str:
        return self.display_title

    def get_absolute_url(self) -> str:
        return reverse("item_detail", kwargs={"slug": self.slug})

    def clean(self) -> None:
        if not isinstance(self.attributes, dict):
            raise ValidationError({"attributes": ATTRIBUTES_HELP})

    @property
    def display_title(self) -> str:
        return f"{self.title} ({self.year})" if self.year else self.title

    @property
    def initial(self) -> str:
        """The letter a poster without an image shows: the title's first, past a leading article
        ("E" for The English Patient, not "T" for half the catalogue)."""
        title = self.title
        for article in ("The ", "A ", "An "):
            if title.startswith(article) and title[len(article):].strip():
                title = title[len(article):]
                break
        return next((char.upper() for char in title if char.isalnum()), "?")

    @property
    def poster_hue(self) -> int:
        """The hue of a poster without an image: the same for a film on every page."""
        return zlib.crc32(self.title.encode()) % 360

    @property
    def avg_rating(self) -> float | None:
        """The mean of the visible reviews' ratings; None when there are none."""
        return float(self.rating_total) / self.review_count if self.review_count else None


class Review(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reviews")
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="reviews")
    rating = models.DecimalField(
        max_digits=2, decimal_places=1, validators=[MinValueValidator(MIN_RATING), MaxValueValidator(MAX_RATING)]
    )
    text = models.TextField(blank=True, max_length=REVIEW_TEXT_MAX)
    is_hidden = models.BooleanField(
        default=False, help_text="Hidden by a moderator: not shown, embedded or trained on."
    )
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "item"], name="review_one_per_user_item"),
            models.CheckConstraint(
                condition=Q(rating__gte=MIN_RATING) & Q(rating__lte=MAX_RATING),
                name="review_rating_range", violation_error_message=RATING_RULE,
            ),
            # half steps: 2 * rating is a whole number
            models.CheckConstraint(
                condition=Q(rating__in=[Decimal(n) / 2 for n in range(1, 11)]), name="review_rating_half_steps",
                violation_error_message=RATING_RULE,
            ),
        ]
        indexes = [models.Index(fields=["item", "-created_at"], name="review_item_recent")]

    def __str__(self) -> str:
        return f"{self.user} rated {self.item} {self.rating}"


class ReviewReport(models.Model):
    """A shopper's report of someone else's review, for the moderators: one per shopper and
    review (reporting again changes the reason). Open while the review is shown."""

    class Reason(models.TextChoices):
        SPAM = "spam", "Spam or advertising"
        ABUSE = "abuse", "Abusive, hateful or harassing"
        SPOILER = "spoiler", "Gives away the plot"
        OFF_TOPIC = "off_topic", "Not about this film"
        OTHER = "other", "Something else"

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="reports")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="review_reports")
    reason = models.CharField(max_length=20, choices=Reason.choices)
    note = models.TextField(blank=True, max_length=REPORT_NOTE_MAX, help_text="What the shopper added, if anything.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["review", "user"], name="review_report_one_per_user")]

    def __str__(self) -> str:
        return f"{self.user} reported review {self.review_id}: {self.get_reason_display()}"


class EventKind(models.TextChoices):
    IMPRESSION = "impression", "Impression"
    VIEW = "view", "Viewed"
    CLICK = "click", "Clicked"
    ADD_TO_CART = "add_to_cart", "Added to cart"
    SAVE = "save", "Saved to my list"
    PURCHASE = "purchase", "Bought"
    RATE = "rate", "Rated"
    NOT_INTERESTED = "not_interested", "Not interested"
    SHOW_AGAIN = "show_again", "Shown again"  # undoes an earlier "not interested"
    MORE_LIKE_THIS = "more_like_this", "More like this"


TAGS = {"exp": "experiment", "promo": "promotion"}  # context keys with an index: their events are counted
# the keys a recommendation's ``tracking`` gives an event's context, with their type: the row
# ("src"), the place in it, the request, the algorithm, the experiment and its arm, the promotion
TRACKING = {"src": str, "pos": int, "rid": str, "algo": str, "exp": str, "variant": str, "promo": int}


class Event(models.Model):
    """Append-only user activity. ``context`` holds the recommender, position, request id and
    experiment variant that produced what the user acted on."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE,
                             related_name="events")
    session_key = models.CharField(max_length=64, blank=True, db_index=False)
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=20, choices=EventKind.choices)
    value = models.FloatField(null=True, blank=True)
    context = models.JSONField(default=dict, blank=True)
    idempotency_key = models.CharField(max_length=100, null=True, blank=True, unique=True)
    created_at = models.DateTimeField(db_index=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # a user's or session's actions, newest first (the live profile, the feed cache key):
            # without impressions, which outnumber actions a hundredfold for an active user
            models.Index(fields=["user", "-created_at", "-id"], name="event_user_actions",
                         condition=~Q(kind="impression")),
            models.Index(fields=["session_key", "-created_at", "-id"], name="event_session_actions",
                         condition=~Q(session_key="") & ~Q(kind="impression")),
            models.Index(fields=["item", "kind"], name="event_item_kind"),
            models.Index(fields=["kind", "-created_at"], name="event_kind_recent"),
            # the events an experiment's report and a promotion's results count, among all the
            # impressions (queries name the key too: ``tagged_events``)
            *(models.Index(KeyTransform(key, "context"), "kind", name=f"event_{name}",
                           condition=Q(context__has_key=key)) for key, name in TAGS.items()),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(user__isnull=False) | ~Q(session_key=""), name="event_has_actor"),
        ]

    def __str__(self) -> str:
        actor = self.user or f"session {self.session_key[:8]}"
        return f"{actor} {self.kind} {self.item}"


def tagged_events(key: str, value: object) -> models.QuerySet[Event]:
    """The events whose context says ``key: value`` (an experiment's, a promotion's), through
    the key's partial index."""
    return Event.objects.filter(**{"context__has_key": key, f"context__{key}": value})


class Profile(models.Model):
    class Gender(models.TextChoices):
        FEMALE = "F", "Female"
        MALE = "M", "Male"
        OTHER = "O", "Other"

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile")
    interests = models.TextField(blank=True, max_length=2000, help_text="Free text used to personalise a new account.")
    # Demographics: used only by fairness audits, and only with consent; never ranking features.
    age = models.PositiveSmallIntegerField(null=True, blank=True, validators=[MaxValueValidator(130)])
    gender = models.CharField(max_length=1, choices=Gender.choices, blank=True)
    occupation = models.CharField(max_length=50, blank=True)
    demographics_consent = models.BooleanField(default=False)
    personalization_opt_out = models.BooleanField(default=False)
    onboarded = models.BooleanField(default=False)

    DEMOGRAPHICS = ("age", "gender", "occupation")

    class Meta:
        ordering = ["user_id"]

    def __str__(self) -> str:
        return f"Profile of {self.user}"

    @classmethod
    def demographics_in(cls, values: Mapping[str, Any]) -> list[str]:
        """The demographics ``values`` gives (a form's cleaned data, a request's, a profile's)."""
        return [name for name in cls.DEMOGRAPHICS if values.get(name) not in (None, "")]

    def given_demographics(self) -> list[str]:
        return self.demographics_in({name: getattr(self, name) for name in self.DEMOGRAPHICS})

    def clean(self) -> None:
        """Demographics are stored only with consent, whoever writes them (the store, the API,
        the admin): the rule every form and serializer words for its own readers."""
        if not self.demographics_consent and (given := self.given_demographics()):
            raise ValidationError({name: "Kept only with consent to their use in fairness audits." for name in given})


class HistoryExclusion(models.Model):
    """An item the user asked us not to use for their recommendations (a gift, a film watched
    for someone else). Their ratings and events about it stay stored, and it is still not
    recommended again once rated or bought, but neither the live profile nor training reads
    them as the user's taste."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="history_exclusions")
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["user", "item"], name="history_exclusion_once")]

    def __str__(self) -> str:
        return f"{self.user} does not use {self.item}"


class CartLine(models.Model):
    """A movie in a signed-in shopper's cart: kept with the account, so the storefront on any
    device and the API share one cart. An anonymous shopper's cart lives in their session and
    moves here when they sign in (``catalog.cart``)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="cart_lines")
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="+")
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["added_at", "id"]
        constraints = [models.UniqueConstraint(fields=["user", "item"], name="cart_line_once")]

    def __str__(self) -> str:
        return f"{self.item} in {self.user}'s cart"


class SavedItem(models.Model):
    """A film on a signed-in shopper's list ("My list": to watch or buy later), kept with the
    account so the storefront and the API share it. Saving records a ``save`` event, which the
    recommendations read as interest (``catalog.services.saved_add``)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_items")
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="+")
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-added_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["user", "item"], name="saved_item_once")]

    def __str__(self) -> str:
        return f"{self.item} on {self.user}'s list"


class AccountCart(get_user_model()):  # type: ignore[misc]
    """A signed-in shopper's cart in the admin: the account, read through its ``CartLine`` rows
    (a proxy: no table of its own). An anonymous shopper's cart is in their session, not here."""

    class Meta:
        proxy = True
        verbose_name = "cart"

    def __str__(self) -> str:
        return f"{self.get_username()}'s cart"


class Entity(models.Model):
    """A knowledge-graph node (a person, genre, country, award...), e.g. a Freebase id."""

    external_id = models.CharField(max_length=100, unique=True)
    name = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["external_id"]
        verbose_name_plural = "entities"

    def __str__(self) -> str:
        return self.name or self.external_id


class ItemRelation(models.Model):
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="relations")
    relation = models.CharField(max_length=50)
    entity = models.ForeignKey(Entity, on_delete=models.CASCADE, related_name="item_relations")

    class Meta:
        ordering = ["item_id", "relation", "entity_id"]
        constraints = [
            models.UniqueConstraint(fields=["item", "relation", "entity"], name="item_relation_unique"),
        ]
        indexes = [models.Index(fields=["entity", "relation"], name="relation_entity")]

    def __str__(self) -> str:
        return f"{self.item} {self.relation} {self.entity}"

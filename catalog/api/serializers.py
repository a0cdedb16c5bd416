"""Input and output shapes of the catalog API (no business rules: those live in services)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from catalog import selectors
from catalog.api.base import GenreField, IdField, QueryParams, RejectUnknownFields, YearRangeParams
from catalog.datasets import YEAR_MAX, YEAR_MIN, DatasetError
from catalog.importing import check_namespace
from catalog.models import (
    MAX_RATING,
    MIN_RATING,
    REPORT_NOTE_MAX,
    REVIEW_TEXT_MAX,
    TRACKING,
    Category,
    EventKind,
    Item,
    Review,
    ReviewReport,
)

EVENTS_PER_REQUEST = 100
PASSWORD_MAX = 4096  # what sign-up, log-in and a password change take alike (a hash is stored)
CONTEXT_MAX_KEYS = 50
CONTEXT_MAX_CHARS = 4000


class CategorySerializer(serializers.ModelSerializer):
    class Meta:
        model = Category
        fields = ["id", "name", "slug", "description"]


class CategoryRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Category
        fields = ["id", "name", "slug"]


class ItemSummarySerializer(serializers.ModelSerializer):
    image_url = serializers.CharField(read_only=True, help_text="A URL, or empty.")

    class Meta:
        model = Item
        fields = ["id", "slug", "title", "year", "genres", "image_url"]


class ItemSerializer(serializers.ModelSerializer):
    category = CategoryRefSerializer(allow_null=True, read_only=True)
    price = serializers.DecimalField(max_digits=8, decimal_places=2, coerce_to_string=False)
    avg_rating = serializers.SerializerMethodField(help_text="Mean of the visible reviews' ratings; null if none.")
    image_url = serializers.CharField(read_only=True, help_text="A URL, or empty.")

    class Meta:
        model = Item
        fields = [
            "id", "external_id", "slug", "title", "description", "category", "genres", "tags", "attributes",
            "year", "price", "image_url", "is_active", "avg_rating", "review_count", "created_at", "updated_at",
        ]
        read_only_fields = fields

    def get_avg_rating(self, item: Item) -> float | None:
        return None if item.avg_rating is None else round(item.avg_rating, 3)


class RatingBarSerializer(serializers.Serializer):
    stars = serializers.IntegerField(help_text="5 down to 1; a half star counts with the whole star below it.")
    count = serializers.IntegerField(help_text="Visible reviews with that many stars.")
    share = serializers.FloatField(help_text="Their share of the visible reviews, 0-1.")


class ItemDetailSerializer(ItemSerializer):
    """One item, as its page shows it: with the spread of its ratings."""

    rating_histogram = serializers.SerializerMethodField(help_text=(
        "Visible reviews by stars, 5 down to 1; empty when there are none."))

    class Meta(ItemSerializer.Meta):
        fields = [*ItemSerializer.Meta.fields, "rating_histogram"]
        read_only_fields = fields

    @extend_schema_field(RatingBarSerializer(many=True))
    def get_rating_histogram(self, item: Item) -> list[dict[str, Any]]:
        return [{"stars": stars, "count": count, "share": round(share, 4)}
                for stars, count, share in selectors.item_rating_histogram(item=item)]


def _price_field(**kwargs: Any) -> serializers.DecimalField:
    field = Item._meta.get_field("price")
    return serializers.DecimalField(max_digits=field.max_digits, decimal_places=field.decimal_places,
                                    min_value=Decimal("0"), required=False, coerce_to_string=False, **kwargs)


class ItemFieldsSerializer(serializers.Serializer):
    """What describes an item, as staff write it (the API's edits and its catalogue import), in
    the limits of ``Item``'s fields."""

    title = serializers.CharField(max_length=Item._meta.get_field("title").max_length)
    description = serializers.CharField(allow_blank=True, required=False, max_length=20000)
    genres = serializers.ListField(child=serializers.CharField(max_length=50), max_length=50, required=False)
    year = serializers.IntegerField(min_value=YEAR_MIN, max_value=YEAR_MAX, allow_null=True, required=False)
    price = _price_field()
    image_url = serializers.URLField(allow_blank=True, required=False,
                                     max_length=Item._meta.get_field("image_url").max_length)


class ItemWriteSerializer(RejectUnknownFields, ItemFieldsSerializer):
    """Staff input for creating (all but ``title`` optional) or updating an item."""

    read_only_keys = tuple(ItemDetailSerializer.Meta.fields)  # GET's keys are known (the read-only ones ignored)

    external_id = serializers.CharField(max_length=100, required=False, help_text="Only on create.")
    category = serializers.PrimaryKeyRelatedField(queryset=Category.objects.all(), allow_null=True, required=False)
    tags = serializers.ListField(child=serializers.CharField(max_length=50), max_length=100, required=False)
    attributes = serializers.DictField(required=False)
    is_active = serializers.BooleanField(required=False)


IMPORT_MAX_ITEMS = 10_000


class ImportedItemSerializer(RejectUnknownFields, ItemFieldsSerializer):
    """One item of a catalogue import, known by ``namespace:item_id``. Anything but the title
    left out (or null, empty) keeps a known item's own; a new item gets the default price (9.99)."""

    item_id = serializers.CharField(max_length=99, help_text="Your system's id of the item.")
    price = _price_field(allow_null=True)


class ItemImportSerializer(RejectUnknownFields, serializers.Serializer):
    """A catalogue import: up to 10,000 items created or updated together (a bad one: nothing)."""

    namespace = serializers.CharField(max_length=40, help_text=(
        "Prefix of the items' external_id (namespace:item_id): the same namespace and item_id update "
        "the same item. Letters, digits and dashes."))
    items = ImportedItemSerializer(many=True, allow_empty=False, max_length=IMPORT_MAX_ITEMS,
                                   help_text=f"1 to {IMPORT_MAX_ITEMS:,} items; more is a 400 on items.")

    def validate_namespace(self, value: str) -> str:
        try:
            check_namespace(value)
        except DatasetError as exc:
            message = str(exc)
            raise serializers.ValidationError(f"{message[:1].upper()}{message[1:]}.") from None
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        seen: set[str] = set()
        errors: dict[str, list[str]] = {}
        limit = Item._meta.get_field("external_id").max_length - len(attrs["namespace"]) - 1
        for index, item in enumerate(attrs["items"]):
            if item["item_id"] in seen:
                errors[f"items.{index}.item_id"] = [f"{item['item_id']} is in the list twice."]
            elif len(item["item_id"]) > limit:
                errors[f"items.{index}.item_id"] = [f"At most {limit} characters with this namespace."]
            seen.add(item["item_id"])
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


class ItemImportResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()


class ItemFilters(YearRangeParams):
    genre = GenreField()
    q = serializers.CharField(max_length=300, required=False, allow_blank=True,
                              help_text="Search text (hybrid full-text + semantic), best matches first.")
    sort = serializers.ChoiceField(
        choices=list(selectors.ITEM_SORTS), required=False,
        help_text="popular: most rated first; rating: best rated first (a Bayesian average, unrated last); "
                  "newest: by release year; title (the default). Not with q: matches come best first.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        if attrs.get("sort") and (attrs.get("q") or "").strip():
            raise serializers.ValidationError({"sort": "Search results come best match first: leave out sort or q."})
        return attrs


class ReviewSerializer(serializers.ModelSerializer):
    user = serializers.CharField(source="user.username", read_only=True)
    rating = serializers.DecimalField(max_digits=2, decimal_places=1, coerce_to_string=False, read_only=True)

    class Meta:
        model = Review
        fields = ["id", "item", "user", "rating", "text", "created_at", "updated_at"]
        read_only_fields = fields


def rating_field() -> serializers.DecimalField:
    """A rating: any number of digits ("4.50" is 4.5); the half steps are the service's rule
    (``services.parse_rating``), so 4.25 gets that message, not one about digits."""
    return serializers.DecimalField(max_digits=None, decimal_places=None, min_value=MIN_RATING, max_value=MAX_RATING,
                                    coerce_to_string=False, help_text="0.5 to 5 in half steps.")


class ReviewCreateSerializer(RejectUnknownFields, serializers.Serializer):
    read_only_keys = tuple(ReviewSerializer.Meta.fields)

    item = IdField()
    rating = rating_field()
    text = serializers.CharField(allow_blank=True, required=False, max_length=REVIEW_TEXT_MAX, trim_whitespace=False)


class ReviewUpdateSerializer(RejectUnknownFields, serializers.Serializer):
    read_only_keys = tuple(ReviewSerializer.Meta.fields)  # "item" too: a review stays on its item

    rating = rating_field()
    text = serializers.CharField(allow_blank=True, required=False, max_length=REVIEW_TEXT_MAX, trim_whitespace=False)


class ReviewReportSerializer(RejectUnknownFields, serializers.ModelSerializer):
    note = serializers.CharField(allow_blank=True, required=False, default="", max_length=REPORT_NOTE_MAX,
                                 help_text="Anything the moderators should know (optional).")

    class Meta:
        model = ReviewReport
        fields = ["review", "reason", "note", "created_at"]
        read_only_fields = ["review", "created_at"]


class ReviewFilters(QueryParams):
    item = IdField(required=False, help_text="Reviews of this item.")
    mine = serializers.BooleanField(required=False, default=False, help_text="Only the current user's reviews.")
    written = serializers.BooleanField(required=False, default=False, help_text=(
        "Only reviews with a text (the item page's list); the others are ratings alone."))

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("item") is None and not attrs.get("mine"):
            raise serializers.ValidationError({"item": "Pass item=<id> or mine=1."})
        return attrs


class EventInSerializer(RejectUnknownFields, serializers.Serializer):
    item = IdField()
    kind = serializers.ChoiceField(choices=EventKind.choices)
    value = serializers.FloatField(allow_null=True, required=False, default=None, help_text=(
        "For rate events the rating (0.5 to 5 in half steps, required); a purchase's price; else optional."))
    context = serializers.DictField(required=False, default=dict,
                                    help_text="Where the event came from (recommender, position, request id...).")
    idempotency_key = serializers.CharField(max_length=64, help_text="Unique per client event; retries reuse it.")
    session_key = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")

    def validate_context(self, value: dict[str, Any]) -> dict[str, Any]:
        if len(value) > CONTEXT_MAX_KEYS:
            raise serializers.ValidationError(f"At most {CONTEXT_MAX_KEYS} keys.")
        if len(json.dumps(value, ensure_ascii=False)) > CONTEXT_MAX_CHARS:
            raise serializers.ValidationError(f"At most {CONTEXT_MAX_CHARS:,} characters as JSON.")
        for key, kind in TRACKING.items():  # what reports group and count by: as `tracking` gave them
            if key in value and (type(value[key]) is not kind):
                raise serializers.ValidationError(
                    f"{key!r} is {'a whole number' if kind is int else 'text'} (send `tracking` back as it came).")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """A ``rate`` event's value is the rating, as a review's: it took any number, or none; a
        ``purchase``'s, when given, its price (it took a negative one)."""
        if attrs["kind"] == EventKind.RATE:
            value = attrs.get("value")
            if value is None or not float(MIN_RATING) <= value <= float(MAX_RATING) or (value * 2) % 1:
                raise serializers.ValidationError({"value": (
                    "A rate event's value is the rating: 0.5 to 5 in half steps. (A rating that makes a "
                    "review is POST /api/reviews/, which records its rate event itself.)")})
        if attrs["kind"] == EventKind.PURCHASE and attrs.get("value") is not None and attrs["value"] < 0:
            raise serializers.ValidationError({"value": "A purchase's value is its price: 0 or more."})
        return attrs


class EventBatchSerializer(RejectUnknownFields, serializers.Serializer):
    events = serializers.ListField(child=EventInSerializer(), min_length=1, max_length=EVENTS_PER_REQUEST)


class EventResultSerializer(serializers.Serializer):
    idempotency_key = serializers.CharField()
    status = serializers.ChoiceField(choices=["created", "duplicate"])


class EventBatchResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    results = EventResultSerializer(many=True)


def claim_field() -> serializers.CharField:
    return serializers.CharField(max_length=64, required=False, allow_blank=True, default="", help_text=(
        "The session key this client sent anonymous events under (`/api/events/`): what the visitor did "
        "becomes the account's, impressions apart. A secret of the client's: whoever knows it may claim them."))


class TokenRequestSerializer(RejectUnknownFields, serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=PASSWORD_MAX, trim_whitespace=False, style={"input_type": "password"})
    session_key = claim_field()


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField()


class CartItemSerializer(ItemSummarySerializer):
    price = serializers.DecimalField(max_digits=8, decimal_places=2, coerce_to_string=False)

    class Meta(ItemSummarySerializer.Meta):
        fields = [*ItemSummarySerializer.Meta.fields, "price"]


class CartSerializer(serializers.Serializer):
    items = CartItemSerializer(many=True, help_text="What can be bought, in the order it was added.")
    count = serializers.IntegerField()
    total = serializers.DecimalField(max_digits=10, decimal_places=2, coerce_to_string=False)


class CartAddSerializer(RejectUnknownFields, serializers.Serializer):
    item = IdField(help_text="An active item's id.")


class NoBodySerializer(RejectUnknownFields, serializers.Serializer):
    """The body of a request that takes none (an empty object, or no body): any key is a 400
    naming it, so a request meant to say something is not carried out as if it had not."""


class OrderSerializer(serializers.Serializer):
    purchased = CartItemSerializer(many=True)
    count = serializers.IntegerField()
    total = serializers.DecimalField(max_digits=10, decimal_places=2, coerce_to_string=False)

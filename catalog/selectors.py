"""Reads of the catalog (HackSoft style: views and the API call these, never raw ORM)."""

from __future__ import annotations

from django.db.models import Avg, Case, Count, IntegerField, QuerySet, Value, When

from catalog.models import Item, ItemRelation, Review


def item_list(*, genre: str | None = None, include_inactive: bool = False) -> QuerySet[Item]:
    items = Item.objects.all() if include_inactive else Item.objects.active()
    if genre:
        items = items.with_genre(genre)
    return items.annotate(avg_rating=Avg("reviews__rating"), review_count=Count("reviews")).order_by("title", "id")


def item_get(*, slug: str) -> Item:
    return Item.objects.active().select_related("category").get(slug=slug)


def item_reviews(*, item: Item) -> QuerySet[Review]:
    """Visible reviews, written ones first, newest first."""
    has_text = Case(When(text="", then=Value(0)), default=Value(1), output_field=IntegerField())
    return (
        item.reviews.filter(is_hidden=False).select_related("user")
        .annotate(has_text=has_text).order_by("-has_text", "-created_at", "-id")
    )


def item_rating_summary(*, item: Item) -> dict[str, object]:
    stats = item.reviews.filter(is_hidden=False).aggregate(avg=Avg("rating"), count=Count("id"))
    return {"avg": stats["avg"], "count": stats["count"]}


def item_facts(*, item: Item) -> dict[str, list[str]]:
    """Knowledge-graph facts of an item, by relation: entity names (ids when unnamed)."""
    facts: dict[str, list[str]] = {}
    for relation, name, external_id in (
        ItemRelation.objects.filter(item=item).values_list("relation", "entity__name", "entity__external_id")
    ):
        facts.setdefault(relation, []).append(name or external_id)
    return facts


def genre_list() -> list[str]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT unnest(genres) AS g FROM catalog_item WHERE is_active ORDER BY g"
        )
        return [row[0] for row in cursor.fetchall()]


def user_reviews(*, user) -> QuerySet[Review]:
    return Review.objects.filter(user=user).select_related("item").order_by("-created_at", "-id")


def user_events(*, user):
    from catalog.models import Event

    return Event.objects.filter(user=user).exclude(kind="impression").select_related("item").order_by(
        "-created_at", "-id"
    )


def popular_items(*, limit: int) -> list[Item]:
    return list(item_list().order_by("-review_count", "id")[:limit])

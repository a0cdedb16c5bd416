"""Reads of the catalog (HackSoft style: views and the API call these, never raw ORM)."""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.db.models import Avg, Count, F, Q, QuerySet, Sum, Value, Window
from django.db.models.functions import RowNumber

from catalog.models import Item, ItemRelation, Review

VISIBLE_REVIEWS = Q(reviews__is_hidden=False)
PRIOR_RATINGS = 10  # "sort by rating" treats every item as also having this many average ratings


def _items(*, genre: str | None, include_inactive: bool) -> QuerySet[Item]:
    items = Item.objects.all() if include_inactive else Item.objects.active()
    return items.with_genre(genre) if genre else items


def item_count(*, genre: str | None = None, include_inactive: bool = False) -> int:
    """How many items :func:`item_list` lists, without its aggregates (10x cheaper to count)."""
    return _items(genre=genre, include_inactive=include_inactive).count()


def item_list(*, genre: str | None = None, include_inactive: bool = False) -> QuerySet[Item]:
    """Items with ``avg_rating`` and ``review_count`` over their visible reviews."""
    return _items(genre=genre, include_inactive=include_inactive).annotate(
        avg_rating=Avg("reviews__rating", filter=VISIBLE_REVIEWS),
        review_count=Count("reviews", filter=VISIBLE_REVIEWS),
    ).order_by("title", "id")


def with_rating_score(items: QuerySet[Item]) -> QuerySet[Item]:
    """``rating_score``: the mean rating shrunk towards the catalogue's mean (a Bayesian average,
    as IMDb's top list), so two 5-star ratings do not outrank hundreds of 4.5s; NULL when unrated."""
    mean = Review.objects.filter(is_hidden=False).aggregate(mean=Avg("rating"))["mean"] or 0
    prior = Value(Decimal(PRIOR_RATINGS) * Decimal(mean), output_field=models.DecimalField())
    total = Sum("reviews__rating", filter=VISIBLE_REVIEWS, output_field=models.DecimalField())
    return items.annotate(rating_score=models.ExpressionWrapper(
        (total + prior) / (Count("reviews", filter=VISIBLE_REVIEWS) + PRIOR_RATINGS), output_field=models.FloatField(),
    ))


def item_get(*, slug: str) -> Item:
    return Item.objects.active().select_related("category").get(slug=slug)


def item_reviews(*, item: Item) -> QuerySet[Review]:
    """Visible reviews, written ones first, newest first."""
    has_text = models.Case(models.When(text="", then=Value(0)), default=Value(1), output_field=models.IntegerField())
    return (
        item.reviews.filter(is_hidden=False).select_related("user")
        .annotate(has_text=has_text).order_by("-has_text", "-created_at", "-id")
    )


def item_rating_summary(*, item: Item) -> dict[str, object]:
    stats = item.reviews.filter(is_hidden=False).aggregate(avg=Avg("rating"), count=Count("id"))
    return {"avg": stats["avg"], "count": stats["count"]}


FACT_LINKS = 5  # other catalogue items shown per relation


def item_facts(*, item: Item) -> dict[str, dict[str, list]]:
    """Knowledge-graph facts of an item, by relation: ``names`` of the named entities, and for
    entities that are bare ids (MovieLens' Freebase graph), the other active items ``linked``
    through the same relation, those sharing the most entities first (at most FACT_LINKS).
    Three queries whatever the number of relations: the item's facts, the ranked links, the items."""
    facts: dict[str, dict[str, list]] = {}
    unnamed: dict[str, list[int]] = {}
    for relation, entity_id, name in (
        ItemRelation.objects.filter(item=item).values_list("relation", "entity_id", "entity__name")
    ):
        fact = facts.setdefault(relation, {"names": [], "linked": []})
        if name:
            fact["names"].append(name)
        else:
            unnamed.setdefault(relation, []).append(entity_id)
    same_fact = Q(pk__in=[])  # nothing, unless the item has unnamed entities
    for relation, entity_ids in unnamed.items():
        same_fact |= Q(relation=relation, entity_id__in=entity_ids)
    # the same (relation, entity) pairs on other items, by the (entity, relation) index
    links = [
        (row["relation"], row["item_id"]) for row in
        ItemRelation.objects.filter(same_fact, item__is_active=True).exclude(item=item)
        .values("relation", "item_id", "item__title").annotate(shared=Count("id"))
        .annotate(rank=Window(RowNumber(), partition_by=F("relation"),
                              order_by=[F("shared").desc(), F("item__title").asc(), F("item_id").asc()]))
        .filter(rank__lte=FACT_LINKS).order_by("relation", "rank")
    ]
    linked = Item.objects.in_bulk([pk for _, pk in links])
    for relation, pk in links:
        facts[relation]["linked"].append(linked[pk])
    return {relation: fact for relation, fact in facts.items() if fact["names"] or fact["linked"]}


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

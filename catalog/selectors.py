"""Reads of the catalog (HackSoft style: views and the API call these, never raw ORM)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

from django.contrib.auth.models import AbstractBaseUser
from django.db import models
from django.db.models import Case, Count, F, Max, Q, QuerySet, Sum, Value, When, Window
from django.db.models.functions import Floor, Greatest, RowNumber

from catalog.models import Event, EventKind, HistoryExclusion, Item, ItemRelation, Review, ReviewReport, SavedItem

PRIOR_RATINGS = 10  # "sort by rating" treats every item as also having this many average ratings


def item_list(*, genre: str | None = None, include_inactive: bool = False) -> QuerySet[Item]:
    """Items by title. Each carries its visible reviews' ``review_count`` and ``avg_rating``
    (kept on the row by the database, see :class:`catalog.models.Item`)."""
    items = Item.objects.all() if include_inactive else Item.objects.active()
    return (items.with_genre(genre) if genre else items).order_by("title", "id")


def with_rating_score(items: QuerySet[Item]) -> QuerySet[Item]:
    """``rating_score``: the mean rating shrunk towards the catalogue's mean (a Bayesian average,
    as IMDb's top list), so two 5-star ratings do not outrank hundreds of 4.5s; NULL when unrated."""
    totals = Item.objects.aggregate(total=Sum("rating_total"), n=Sum("review_count"))
    mean = totals["total"] / totals["n"] if totals["n"] else 0
    prior = Value(Decimal(PRIOR_RATINGS) * Decimal(mean), output_field=models.DecimalField())
    score = (F("rating_total") + prior) / (F("review_count") + PRIOR_RATINGS)
    return items.annotate(rating_score=models.Case(
        models.When(review_count=0, then=None), default=score, output_field=models.FloatField(),
    ))


# the catalogue's orders, by name: the browse page's sort menu and the API's ``sort`` (ties by id)
ITEM_SORTS = {
    "popular": ("-review_count", "title"),
    "rating": (F("rating_score").desc(nulls_last=True), "-review_count"),  # see with_rating_score
    "newest": (F("year").desc(nulls_last=True), "title"),
    "title": ("title", "year"),
}


def item_sort(items: QuerySet[Item], sort: str) -> QuerySet[Item]:
    """``items`` in the :data:`ITEM_SORTS` order named ``sort``."""
    if sort == "rating":
        items = with_rating_score(items)
    return items.order_by(*ITEM_SORTS[sort], "id")


def item_get(*, slug: str) -> Item:
    return Item.objects.active().select_related("category").get(slug=slug)


def reviews_reported(reviews: QuerySet[Review] | None = None, *, shown_only: bool = True) -> QuerySet[Review]:
    """The reviews shoppers reported (of ``reviews``; all by default): the moderation queue,
    ``shown_only`` the ones still shown (hiding one is dealing with it)."""
    reviews = Review.objects.all() if reviews is None else reviews
    reported = reviews.filter(models.Exists(ReviewReport.objects.filter(review=models.OuterRef("pk"))))
    return reported.filter(is_hidden=False) if shown_only else reported


def item_reviews(*, item: Item, viewer: AbstractBaseUser | None = None, written: bool = False) -> QuerySet[Review]:
    """Visible reviews, written ones first, newest first (``written``: only those with a text;
    the rest are ratings, which the histogram counts); with ``viewer``, each says whether they
    reported it (``reported_by_viewer``)."""
    has_text = models.Case(models.When(text="", then=Value(0)), default=Value(1), output_field=models.IntegerField())
    reviews = item.reviews.filter(is_hidden=False).select_related("user").annotate(has_text=has_text)
    if written:
        reviews = reviews.exclude(text="")
    if viewer is not None:
        reviews = reviews.annotate(reported_by_viewer=models.Exists(
            ReviewReport.objects.filter(review=models.OuterRef("pk"), user=viewer)))
    return reviews.order_by("-has_text", "-created_at", "-id")


def item_rating_histogram(*, item: Item) -> list[tuple[int, int, float]]:
    """(stars, visible reviews, share of them) for 5 down to 1 stars; a half star counts with the
    whole star below it (4.5 is a 4), 0.5 with 1. Empty when the item has no visible review."""
    stars = Greatest(Floor("rating"), Value(1), output_field=models.IntegerField())
    counts = dict(item.reviews.filter(is_hidden=False).annotate(stars=stars).order_by()
                  .values("stars").annotate(n=Count("id")).values_list("stars", "n"))
    total = sum(counts.values())
    return [(n, counts.get(n, 0), counts.get(n, 0) / total) for n in range(5, 0, -1)] if total else []


FACT_LINKS = 5  # other catalogue items shown per relation
# An unnamed entity shared by more than this share of the catalogue names a category (a language,
# a country, an age rating: on MovieLens English links 1,435 of 1,682 films), not a person or a
# studio, and five of its films say nothing about this one. People stay under it (the most
# linked actor of MovieLens has 31 films, 1.8%).
BROAD_ENTITY_SHARE = 0.02


def item_facts(*, item: Item) -> dict[str, dict[str, list]]:
    """Knowledge-graph facts of an item, by relation: ``names`` of the named entities, and for
    entities that are bare ids (MovieLens' Freebase graph), the other active items ``linked``
    through the same relation, those sharing the most entities first, then the most rated (at
    most FACT_LINKS), not through broad entities (see BROAD_ENTITY_SHARE). Five queries whatever
    the number of relations: the item's facts, the catalogue's size, the broad entities, the
    links, the items."""
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
    if unnamed:
        most = max(1, int(BROAD_ENTITY_SHARE * Item.objects.count()))
        broad = set(
            ItemRelation.objects.filter(entity_id__in={e for ids in unnamed.values() for e in ids})
            .values("entity_id").annotate(n=Count("id")).filter(n__gt=most).values_list("entity_id", flat=True)
        )
        unnamed = {relation: [e for e in ids if e not in broad] for relation, ids in unnamed.items()}
    same_fact = Q(pk__in=[])  # nothing, unless the item has unnamed entities
    for relation, entity_ids in unnamed.items():
        same_fact |= Q(relation=relation, entity_id__in=entity_ids)
    # the same (relation, entity) pairs on other items, by the (entity, relation) index
    links = [
        (row["relation"], row["item_id"]) for row in
        ItemRelation.objects.filter(same_fact, item__is_active=True).exclude(item=item)
        .values("relation", "item_id", "item__title", "item__review_count").annotate(shared=Count("id"))
        .annotate(rank=Window(RowNumber(), partition_by=F("relation"),
                              order_by=[F("shared").desc(), F("item__review_count").desc(),
                                        F("item__title").asc(), F("item_id").asc()]))
        .filter(rank__lte=FACT_LINKS).order_by("relation", "rank")
    ]
    linked = Item.objects.in_bulk([pk for _, pk in links])
    for relation, pk in links:
        if pk in linked:  # (not deleted since the query before)
            facts[relation]["linked"].append(linked[pk])
    return {relation: fact for relation, fact in facts.items() if fact["names"] or fact["linked"]}


def relation_label(relation: str) -> str:
    """A relation in words, "directed_by" -> "directed by": the item page's facts and the admin
    say it the same way."""
    return relation.replace("_", " ")


class SharedItems(NamedTuple):
    items: list[Item]  # the first few, the most reviewed first
    count: int  # all of them


def item_relations_shared(*, item: Item | int, limit: int) -> dict[tuple[str, int], SharedItems]:
    """For each of an item's (relation, entity id) facts, the other items (inactive ones too)
    with the same fact: the ``limit`` most reviewed and how many there are. Facts no other item
    has are left out. One query whatever the number of facts."""
    fact = [F("relation"), F("entity_id")]
    rows = (
        ItemRelation.objects.filter(entity__item_relations__item=item, entity__item_relations__relation=F("relation"))
        .exclude(item=item).select_related("item")
        .annotate(rank=Window(RowNumber(), partition_by=fact, order_by=[
                      F("item__review_count").desc(), F("item__title").asc(), F("item_id").asc()]),
                  shared_count=Window(Count("id"), partition_by=fact))
        .filter(rank__lte=limit).order_by("relation", "entity_id", "rank")
    )
    shared: dict[tuple[str, int], SharedItems] = {}
    for row in rows:
        shared.setdefault((row.relation, row.entity_id), SharedItems([], row.shared_count)).items.append(row.item)
    return shared


@dataclass
class SearchFilters:
    """What a list of films may be narrowed to: the API's items and search, the storefront's
    search, and search's candidates alike."""

    genre: str | None = None
    year_min: int | None = None
    year_max: int | None = None
    exclude: set[int] = field(default_factory=set)

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> SearchFilters:
        """From an API request's parsed parameters: ``year`` is a range of one year."""
        year = params.get("year")
        return cls(genre=params.get("genre") or None,
                   year_min=year if year is not None else params.get("year_min"),
                   year_max=year if year is not None else params.get("year_max"))

    def apply(self, items: QuerySet[Item]) -> QuerySet[Item]:
        if self.genre:
            items = items.with_genre(self.genre)
        if self.year_min is not None:
            items = items.filter(year__gte=self.year_min)
        if self.year_max is not None:
            items = items.filter(year__lte=self.year_max)
        return items.exclude(pk__in=self.exclude) if self.exclude else items


def genre_list() -> list[str]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT unnest(genres) AS g FROM catalog_item WHERE is_active ORDER BY g"
        )
        return [row[0] for row in cursor.fetchall()]


def personalization_opted_out(*, user: object | None) -> bool:
    """Whether ``user`` (None: an anonymous visitor) turned personalization off in their profile."""
    from catalog.models import Profile

    return user is not None and Profile.objects.filter(user=user, personalization_opt_out=True).exists()


def user_reviews(*, user: AbstractBaseUser) -> QuerySet[Review]:
    return Review.objects.filter(user=user).select_related("item").order_by("-created_at", "-id")


def user_events(*, user: AbstractBaseUser) -> QuerySet[Event]:
    return Event.objects.filter(user=user).exclude(kind="impression").select_related("item").order_by(
        "-created_at", "-id"
    )


def saved_list(*, user: AbstractBaseUser) -> QuerySet[SavedItem]:
    """The films on ``user``'s list that the shop sells, the latest saved first (a film it stopped
    selling keeps its row, in case it comes back, but is not shown or counted)."""
    return SavedItem.objects.filter(user=user, item__is_active=True).select_related("item")


def saved_ids(*, user: AbstractBaseUser) -> frozenset[int]:
    """The ids of every film on ``user``'s list (also those the shop stopped selling: none is shown)."""
    return frozenset(SavedItem.objects.filter(user=user).values_list("item_id", flat=True))


def api_token_created(*, user: AbstractBaseUser) -> datetime | None:
    """When the account's API token was issued (an app signed in), or None."""
    from rest_framework.authtoken.models import Token

    return Token.objects.filter(user=user).values_list("created", flat=True).first()


# What a user did with an item, as their history shows it: not impressions (shown, not acted
# on), "rate" events (the review says it) or "not interested" (a filter, not a taste).
HISTORY_KINDS = (EventKind.PURCHASE, EventKind.ADD_TO_CART, EventKind.SAVE, EventKind.MORE_LIKE_THIS,
                 EventKind.CLICK, EventKind.VIEW)


PICKED = "picked"  # a "more like this" picked at sign-up (onboarding)


class HistoryAction(NamedTuple):
    kind: str  # an EventKind value, or PICKED
    times: int

    @property
    def label(self) -> str:
        return "Picked at sign-up" if self.kind == PICKED else EventKind(self.kind).label


@dataclass
class HistoryEntry:
    item: Item
    last_at: datetime | None  # None: the user never did anything with it
    used: bool = True  # False: the user asked us not to use it for their recommendations
    not_interested: bool = False  # not recommended to them until they say "show again"
    rating: Decimal | None = None
    actions: list[HistoryAction] = field(default_factory=list)  # strongest first


def not_interested_events(events: QuerySet[Event], per: str = "item_id") -> QuerySet[Event]:
    """Of ``events``, each ``per`` value's latest "not interested" that no later "show again"
    took back. Per item of one actor's events: what is not recommended to them; per
    ``"user_id"`` of one item's: who said they do not want it."""
    latest = events.filter(kind__in=[EventKind.NOT_INTERESTED, EventKind.SHOW_AGAIN]).order_by(
        per, "-created_at", "-id").distinct(per).values("pk")
    return Event.objects.filter(pk__in=latest, kind=EventKind.NOT_INTERESTED)


def user_history(*, user: AbstractBaseUser, item_ids: Collection[int] | None = None) -> list[HistoryEntry]:
    """One entry per item ``user`` rated, acted on, marked "not interested" or excluded from
    their recommendations (only ``item_ids`` if given), most recent first."""
    only = Q() if item_ids is None else Q(item_id__in=item_ids)
    last: dict[int, datetime] = {}
    ratings: dict[int, Decimal] = {}
    actions: dict[int, list[HistoryAction]] = defaultdict(list)

    def saw(pk: int, at: datetime) -> None:
        last[pk] = max(last.get(pk, at), at)

    for pk, rating, at in Review.objects.filter(only, user=user).values_list("item_id", "rating", "created_at"):
        saw(pk, at)
        ratings[pk] = rating
    order = list(HISTORY_KINDS)
    order.insert(order.index(EventKind.MORE_LIKE_THIS), PICKED)  # a pick is a "more like this" at sign-up
    rank = {kind: n for n, kind in enumerate(order)}
    action = Case(When(kind=EventKind.MORE_LIKE_THIS, context__source="onboarding", then=Value(PICKED)),
                  default=F("kind"))
    for pk, kind, times, at in sorted(
        Event.objects.filter(only, user=user, kind__in=HISTORY_KINDS).values("item_id", action=action)
        .annotate(times=Count("id"), at=Max("created_at")).values_list("item_id", "action", "times", "at"),
        key=lambda row: rank[row[1]],
    ):
        saw(pk, at)
        actions[pk].append(HistoryAction(kind, times))
    hidden = set()
    for pk, at in not_interested_events(Event.objects.filter(only, user=user)).values_list("item_id", "created_at"):
        saw(pk, at)
        hidden.add(pk)
    excluded = dict(HistoryExclusion.objects.filter(only, user=user).values_list("item_id", "created_at"))
    for pk, at in excluded.items():
        saw(pk, at)
    items = Item.objects.in_bulk(list(last))
    entries = [HistoryEntry(items[pk], at, pk not in excluded, pk in hidden, ratings.get(pk), actions[pk])
               for pk, at in last.items() if pk in items]  # (an item deleted meanwhile: its rows went too)
    return sorted(entries, key=lambda e: (e.last_at, e.item.pk), reverse=True)

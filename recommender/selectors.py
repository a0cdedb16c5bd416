"""Reads for personalization: similar items and hybrid search (pgvector + full-text)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db.models import (
    Count,
    DateTimeField,
    Exists,
    ExpressionWrapper,
    F,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
)
from django.db.models.fields.json import KT
from django.utils import timezone
from pgvector.django import CosineDistance

from catalog.models import Event, EventKind, Item
from catalog.selectors import SearchFilters, genre_list
from recommender.encoder import SIMILARITY_TEMPERATURE, get_encoder
from recommender.models import ItemEmbedding
from recommender.spelling import spelling_correction

SEARCH_MAX_CHARS = 300
RRF_K = 60  # reciprocal rank fusion constant (Cormack et al. 2009)
SEARCH_CONFIG = "english"
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")

# The full-text document; an expression GIN index on exactly this makes it fast.
ITEM_SEARCH_VECTOR = SearchVector("title", weight="A", config=SEARCH_CONFIG) + SearchVector(
    "description", weight="B", config=SEARCH_CONFIG
)


# the storefront's and the API's rows, by the key their cards' tracking carries (``src``)
MAILED = "batch"  # the row (tracking src) of a mailed list's links: recommender.batch
ROW_NAMES = {
    "for_you": "Recommended for you", "because_viewed": "Because you viewed …", "trending": "Trending now",
    "new": "New arrivals", "similar": "Similar movies", "also_liked": "People who liked this also liked",
    "with_cart": "Goes well with your cart", "with_list": "More like your list",
    MAILED: "Mailed lists (manage.py recommend)",
}
EXPOSURE_DAYS = 30


@dataclass
class RowExposure:
    row: str  # the tracking key, as clients sent it
    impressions: int
    clicks: int

    @property
    def name(self) -> str:
        return ROW_NAMES.get(self.row, self.row)

    @property
    def ctr(self) -> float | None:
        return self.clicks / self.impressions if self.impressions else None


@dataclass
class Exposure:
    days: int
    rows: list[RowExposure]  # the most shown first
    last_shown: datetime | None

    @property
    def impressions(self) -> int:
        return sum(row.impressions for row in self.rows)

    @property
    def clicks(self) -> int:
        return sum(row.clicks for row in self.rows)

    @property
    def ctr(self) -> float | None:
        return self.clicks / self.impressions if self.impressions else None


def shown_events(*, days: int) -> QuerySet[Event]:
    """The last ``days``' impressions and clicks of recommendation cards (those with a row)."""
    return Event.objects.filter(kind__in=[EventKind.IMPRESSION, EventKind.CLICK], context__has_key="src",
                                created_at__gte=timezone.now() - timedelta(days=days))


def item_exposure(item: Item, *, days: int = EXPOSURE_DAYS) -> Exposure:
    """How often ``item``'s card was shown in the last ``days`` (impressions) and clicked, per row
    (the card's ``src``): what the shop's recommendations actually gave it. Impressions are kept
    ``RECSYS_EVENT_RETENTION_DAYS`` (90 by default, at least 30), so the window is complete."""
    counts: dict[str, RowExposure] = {}
    last = None
    for row, kind, n, at in (
        shown_events(days=days).filter(item=item).values("kind", row=KT("context__src"))
        .annotate(n=Count("id"), at=Max("created_at")).values_list("row", "kind", "n", "at")
    ):
        entry = counts.setdefault(row, RowExposure(row, 0, 0))
        if kind == EventKind.IMPRESSION:
            entry.impressions = n
            last = at if last is None else max(last, at)
        else:
            entry.clicks = n
    return Exposure(days, sorted(counts.values(), key=lambda r: (-r.impressions, -r.clicks, r.row)), last)


MAILING_DAYS = 90  # the mailings whose links were clicked in this window (anonymous clicks are kept 90 days)
BOUGHT_WITHIN = timedelta(days=7)  # a purchase of the clicked film this soon after the click counts


@dataclass
class MailingResult:
    campaign: str  # the links' rid: manage.py recommend --campaign, or the admin export's
    clicks: int
    shoppers: int  # signed-in shoppers who clicked (anonymous clicks count as clicks only)
    films: int
    bought: int  # clicks followed by a purchase of that film by the same shopper or session
    first: datetime
    last: datetime


def mailing_results(*, days: int = MAILING_DAYS) -> list[MailingResult]:
    """Per mailing (the ``batch`` links of ``manage.py recommend`` and the admin's exports), the
    clicks of its links in the last ``days`` and the purchases that followed them, the latest first."""
    clicks = Event.objects.filter(kind=EventKind.CLICK, context__src=MAILED,
                                  created_at__gte=timezone.now() - timedelta(days=days))
    same_buyer = Q(user=OuterRef("user"), user__isnull=False) | (
        Q(session_key=OuterRef("session_key")) & ~Q(session_key=""))
    bought = Event.objects.filter(same_buyer, kind=EventKind.PURCHASE, item=OuterRef("item"),
                                  created_at__gte=OuterRef("created_at"),
                                  created_at__lt=ExpressionWrapper(OuterRef("created_at") + BOUGHT_WITHIN,
                                                                   output_field=DateTimeField()))
    rows = (clicks.annotate(campaign=KT("context__rid"), converted=Exists(bought)).values("campaign")
            .annotate(clicks=Count("id"), shoppers=Count("user", distinct=True), films=Count("item", distinct=True),
                      bought=Count("id", filter=Q(converted=True)), first=Min("created_at"), last=Max("created_at"))
            .order_by("-last", "campaign"))
    return [MailingResult(**row) for row in rows]


def item_vector(item: Item) -> np.ndarray | None:
    row = ItemEmbedding.objects.filter(item=item).values_list("vector", flat=True).first()
    return None if row is None else np.asarray(row, dtype=np.float32)


def items_nearest(vector: np.ndarray, *, k: int, exclude: set[int] = frozenset(),
                  queryset: QuerySet[Item] | None = None) -> list[tuple[Item, float]]:
    """Active items nearest to ``vector`` by cosine (HNSW index), with similarity in [-1, 1]."""
    items = (queryset if queryset is not None else Item.objects.all()).filter(is_active=True)
    rows = _by_distance(vector, items).exclude(item_id__in=exclude).select_related("item")[:k]
    return [(row.item, 1.0 - float(row.distance)) for row in rows]


def _by_distance(vector: np.ndarray, items: QuerySet[Item]) -> QuerySet[ItemEmbedding]:
    """The vectors of ``items``, nearest to ``vector`` first (cosine ``distance`` annotated)."""
    return ItemEmbedding.objects.filter(item__in=items).annotate(
        distance=CosineDistance("vector", vector)).order_by("distance")


def item_similar_list(*, item: Item, k: int = 10) -> list[tuple[Item, float]]:
    """Items most similar in content to ``item``, excluding itself and inactive items."""
    vector = item_vector(item)
    if vector is None:
        return []
    return items_nearest(vector, k=k, exclude={item.pk})


def clean_query(query: str) -> str:
    """Normalise a search query; ValidationError when it is too long."""
    query = _CONTROL.sub(" ", query or "").strip()
    if len(query) > SEARCH_MAX_CHARS:
        raise ValidationError({"q": f"Search text is limited to {SEARCH_MAX_CHARS} characters."})
    return " ".join(query.split())


RELEVANCE_GAP = 3.5  # nats: see docs/ARCHITECTURE.md, "Search"


def semantic_scores(vector: np.ndarray, items: QuerySet[Item], *, pool: int,
                    popularity_prior: float = 1.0) -> dict[int, float]:
    """How likely each of the 4 x ``pool`` items of ``items`` nearest to the query ``vector`` by
    cosine (HNSW) is what the query asks for, as a log posterior: log p(query | item) + log p(item).

    The likelihood is the cosine at the encoder's training temperature, the prior
    ``popularity_prior`` x log(1 + visible reviews), so of two films the text fits about equally,
    the one more people watched comes first (0: cosine only).
    """
    rows = _by_distance(vector, items).values_list("item_id", "distance", "item__review_count")[: pool * 4]
    return {pk: (1.0 - distance) / SIMILARITY_TEMPERATURE + popularity_prior * math.log1p(reviews)
            for pk, distance, reviews in rows}


@dataclass
class SearchOutcome:
    results: list[tuple[Item, float]]  # (item, fused score): the matches best first, then the related
    corrected: str | None = None  # the query as searched when its spelling was corrected
    matches: int = 0  # how many of ``results``, the first, are matches; the rest are only related

    @property
    def matched(self) -> list[tuple[Item, float]]:
        return self.results[:self.matches]


def search_items(*, query: str, k: int = 20, filters: SearchFilters | None = None,
                 popularity_prior: float = 1.0, correct_spelling: bool = True, pool: int | None = None,
                 relevance_gap: float | None = RELEVANCE_GAP) -> SearchOutcome:
    """Hybrid search: full-text rank and :func:`semantic_scores` fused by reciprocal rank fusion,
    for the query as :func:`recommender.spelling.spelling_correction` corrects it. Each ranking
    is ``pool`` long (default ``max(3 k, 50)``); pages of one search share it, so a longer page
    starts with the shorter one.

    The results are the matches, then what is only related: matches are the full-text matches
    (every word of the query is in them) and the items whose semantic score is within
    ``relevance_gap`` of the best one's (None: no cut, all are matches). An empty query gives no
    results; a too long one raises ValidationError.
    """
    query = clean_query(query)
    if not query or not any(ch.isalnum() for ch in query):
        return SearchOutcome([])
    corrected = spelling_correction(query) if correct_spelling else None
    query = corrected or query
    filters = filters or SearchFilters()
    pool = pool or max(k * 3, 50)
    items = filters.apply(Item.objects.active())
    text_query = SearchQuery(query, search_type="websearch", config=SEARCH_CONFIG)
    lexical = list(
        items.annotate(document=ITEM_SEARCH_VECTOR)
        .filter(document=text_query)
        .annotate(rank=SearchRank(F("document"), text_query))
        .order_by("-rank", "id")
        .values_list("pk", flat=True)[:pool]
    )
    semantic = semantic_scores(get_encoder().encode([query])[0], items, pool=pool, popularity_prior=popularity_prior)
    scores: dict[int, float] = {}
    for ranking in (lexical, sorted(semantic, key=lambda pk: (-semantic[pk], pk))[:pool]):
        for rank, pk in enumerate(ranking, start=1):
            scores[pk] = scores.get(pk, 0.0) + 1.0 / (RRF_K + rank)
    close = set(scores)
    if relevance_gap is not None and semantic:
        floor, lexical_set = max(semantic.values()) - relevance_gap, set(lexical)
        close = {pk for pk in scores if pk in lexical_set or semantic[pk] >= floor}
    top = sorted(scores, key=lambda pk: (pk not in close, -scores[pk], pk))[:k]
    by_pk = Item.objects.in_bulk(top)
    top = [pk for pk in top if pk in by_pk]  # (not deleted since the queries before)
    return SearchOutcome([(by_pk[pk], scores[pk]) for pk in top], corrected, sum(pk in close for pk in top))


def item_search(**options: Any) -> list[tuple[Item, float]]:
    """:func:`search_items`'s matches alone (without the related items after them)."""
    return search_items(**options).matched


SUGGEST_MAX_WORDS = 8
_SUGGEST_WORD = re.compile(r"[^\W_]+")


def title_suggestions(*, prefix: str, k: int = 8) -> list[Item]:
    """Active items whose title has every typed word, the last one as a prefix ("star w" ->
    Star Wars), most reviewed first: the search box's suggestions as the shopper types. One
    full-text query on the search index (English stemming, so "jurass" finds Jurassic Park)."""
    words = _SUGGEST_WORD.findall(clean_query(prefix).lower())[:SUGGEST_MAX_WORDS]
    if not words:
        return []
    terms = [*words[:-1], f"{words[-1]}:*"]
    query = SearchQuery(" & ".join(terms), search_type="raw", config=SEARCH_CONFIG)
    return list(
        Item.objects.active().annotate(document=ITEM_SEARCH_VECTOR).filter(document=query)
        .order_by("-review_count", "title", "id")[:k]
    )


GENRES_CACHE_SECONDS = 300


def genre_suggestions(*, prefix: str, k: int = 2) -> list[str]:
    """Genres whose name (or a word of it) starts with what was typed ("sci" -> Sci-Fi,
    "noir" -> Film-Noir): the suggestion box offers to browse them. The genre list is cached
    five minutes (reading it scans the catalogue)."""
    typed = " ".join(_SUGGEST_WORD.findall(clean_query(prefix).lower()))
    if len(typed) < 2:
        return []

    def matches(genre: str) -> bool:  # from the start of any of its words
        words = _SUGGEST_WORD.findall(genre.lower())
        return any(" ".join(words[i:]).startswith(typed) for i in range(len(words)))

    genres = cache.get_or_set("recommender:genre-list", genre_list, GENRES_CACHE_SECONDS)
    return [genre for genre in genres if matches(genre)][:k]


ONBOARDING_CHOICES = 24


def onboarding_choices(*, interests: str, k: int = ONBOARDING_CHOICES) -> list[Item]:
    """The films a new shopper is offered to pick from: up to half that match the interests
    they wrote at sign-up (by :func:`item_search`), then the most reviewed."""
    matched: list[Item] = []
    if interests.strip():
        try:
            matched = [item for item, _ in item_search(query=interests[:SEARCH_MAX_CHARS], k=k // 2)]
        except ValidationError:  # nothing searchable in it
            matched = []
    taken = {item.pk for item in matched}
    popular = Item.objects.active().exclude(pk__in=taken).order_by("-review_count", "id")[: k - len(matched)]
    return [*matched, *popular]

"""Serving: feed_for_user and similar_items, the one place views and the API get
recommendations from.

Pipeline: the active trained model's candidates and learned scores (plus items added after
training, found by content through pgvector and by their knowledge-graph facts) -> filters (already rated or
bought, not interested, inactive, excluded ids, genre) -> fairness re-ranker -> MMR diversity
-> explanations built from the actual per-signal score contributions.

A new rating, "not interested" or "more like this" changes the next feed at once: the user's
live history is read from the database on each request and scored by the model without
retraining.
"""

from __future__ import annotations

import gc
import hashlib
import logging
import threading
import time
import uuid
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from functools import lru_cache
from itertools import zip_longest
from typing import Any
from urllib.parse import urlencode

import numpy as np
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.cache import cache
from django.db import connection
from django.db.models import CharField, Count, Q, Value
from django.db.models.functions import Cast, Coalesce, NullIf
from django.utils import timezone

from catalog.models import Event, EventKind, HistoryExclusion, Item, Profile, Review
from catalog.selectors import genre_list, not_interested_events, personalization_opted_out, saved_ids, saved_list
from recommender import explanations, promotions
from recommender.algorithms.base import top_stable, zscore_rows
from recommender.algorithms.data import Profile as LiveProfile
from recommender.algorithms.data import one_event_per_item
from recommender.algorithms.explain import label
from recommender.algorithms.rerank import CANDIDATE_POOL, fairness_rerank, fairness_scores, mmr_rerank
from recommender.models import ItemEmbedding, ModelVersion, ProfileEmbedding, ReviewEmbedding
from recommender.refine import Clause, judge, match_strength, parse_request, request_terms, understood_floor
from recommender.training import IMPLICIT_RATINGS, artifact_load, exposure_prices_fit, item_facts
from recsite import metrics

logger = logging.getLogger(__name__)

POOL = CANDIDATE_POOL  # candidates scored before filtering and re-ranking
HISTORY_LIMIT = 500
ROW_SIZE = 12  # cards in a storefront row (the home page's feed, an item page's rows ...)
# implicit signals as ratings for a live history (explicit ratings are used as they are)
LIVE_EVENT_RATINGS = {**IMPLICIT_RATINGS, EventKind.CLICK: 3.5, EventKind.VIEW: 3.5}
# A refine text ("something lighter") re-ranks the candidates: its cosine to each item, z-scored,
# times this many standard deviations of the model's scores is added as a "refine" signal.
REFINE_WEIGHT = 1.0
# "More like this" steers the feed for a while: the targets of the newest such actions of the
# last STEER_HOURS add STEER_WEIGHT x (the feed scores' spread) x (each candidate's z-scored
# similarity to the target, as the item page's "similar" row scores it), and their
# STEER_CANDIDATES most similar items join the candidates.
STEER_HOURS = 24
STEER_TARGETS = 3
STEER_WEIGHT = 0.5
STEER_CANDIDATES = 20
# A rating prediction needs this many of the user's own ratings: from views and purchases alone
# (implicit values) it would only echo them
MIN_RATINGS_TO_PREDICT = 3
# Items newer than the model a feed matches by their knowledge-graph facts, newest first (an
# import of thousands waits for the next training; the facts of each are read per request).
NEW_ITEMS_MATCHED = 500


@dataclass
class FeedContext:
    session_key: str = ""
    exclude: set[int] = field(default_factory=set)
    genre: str | None = None
    diversity: float | None = None  # MMR lambda: 1 = relevance only
    fairness: float | None = None  # fairness re-ranker strength: 0 = off
    refine: str = ""
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    experiment: str = ""  # A/B experiment key and the unit's variant, logged with impressions
    variant: str = ""
    algorithm: str = "hybrid"  # hybrid | ease | popularity (an experiment variant may switch it)
    promotions: bool = True  # the store's featured films (an experiment variant may leave them out)
    # _banned's read of this request's actor, kept so the rows of one page read it once
    hidden: set[int] | None = field(default=None, repr=False)
    # refine_reading's clauses of ``refine``, kept so the feed and the page read it once (not in
    # the feed cache key: they follow from ``refine`` and the model version, which are)
    refine_clauses: list[Clause] | None = field(default=None, repr=False, compare=False)
    # the running promotions, read once per request (the cache key, the scoring pass, the cards)
    running: list[promotions.LivePromotion] | None = field(default=None, repr=False, compare=False)
    # set by feed_traced: what the computation saw, for staff's "why not?" (recommender.diagnosis)
    trace: Trace | None = field(default=None, repr=False, compare=False)


@dataclass
class Trace:
    """What one feed computation saw: the shopper's state, the model, and every candidate the
    model scored with its final score (after "more like this" and the refine text) and the
    additive terms serving added to it; ``passed`` are those the filters let through."""

    state: LiveUser | None = None
    model: Any = None
    scores: dict[int, float] = field(default_factory=dict)
    extra: dict[int, dict[str, float]] = field(default_factory=dict)
    passed: set[int] = field(default_factory=set)

    def record(self, scores: dict[int, float], passed: Iterable[int], extra: dict[int, dict[str, float]]) -> None:
        self.scores, self.passed, self.extra = dict(scores), set(passed), extra


@dataclass
class Recommendation:
    item: Item
    score: float
    source: str  # the signal that contributed most
    sentence: str
    evidence: dict[str, Any]
    algorithm: str = "hybrid"
    href: str = ""  # the item's URL with click tracking, set by track
    tracking: dict[str, Any] = field(default_factory=dict)  # the event context of its impression and click

    @property
    def contributions(self) -> dict[str, float]:
        return self.evidence.get("contributions", {})

    @property
    def top_contributions(self) -> list[tuple[str, float, int]]:
        """The largest positive contributions as (label, value, percent of the shown total);
        none when one signal alone made the score (the sentence already names it)."""
        positive = sorted(((v, s) for s, v in self.contributions.items() if s != "baseline" and v > 0), reverse=True)
        top = positive[:4]
        total = sum(v for v, _ in top) or 1.0
        return [(label(s), v, round(100 * v / total)) for v, s in top] if len(top) > 1 else []

    @property
    def shared_by_anchor(self) -> list[tuple[str, list[str]]]:
        """The shared knowledge-graph facts grouped by the item they are shared with:
        [("Fargo (1996)", ["Crime", "Thriller"])], in the evidence's order."""
        groups: dict[str, list[str]] = {}
        for link in self.evidence.get("shared_entities", []):
            anchor = link.get("anchor") or self.evidence.get("anchor", {}).get("title", "")
            if link["label"] not in groups.setdefault(anchor, []):
                groups[anchor].append(link["label"])
        return list(groups.items())


@dataclass
class Row:
    key: str
    title: str
    items: list[Recommendation]


# ------------------------------------------------------------------ the model
# "failed": the active version whose artifact would not load: not tried again on every request
_cache: dict[str, Any] = {"version": None, "model": None, "checked": 0.0, "failed": None}
_cache_lock = threading.Lock()


def active_model() -> tuple[ModelVersion | None, Any]:
    """The newest active model version, reloaded when staff or training activate another."""
    now = time.monotonic()
    if now - _cache["checked"] < settings.RECSYS_MODEL_CHECK_SECONDS and (
            _cache["version"] is not None or _cache["failed"] is not None):
        return _cache["version"], _cache["model"]
    version = ModelVersion.objects.filter(is_active=True).order_by("-created_at", "-id").first()
    with _cache_lock:
        _cache["checked"] = now
        if version is None:
            _cache["version"], _cache["model"] = None, None
        elif version.pk == _cache["failed"]:
            pass  # still the unusable one (logged when it failed): popular items until another is active
        elif _cache["version"] is None or _cache["version"].pk != version.pk:
            try:
                model = artifact_load(version)
                # an artifact pickled by other code (a deploy changed the features) fails here,
                # at load, rather than on a shopper's request
                model.recommend(LiveProfile(events=[(0, 5.0, 0)]), k=1)
                _ensure_exposure_prices(model)
            except Exception:
                logger.exception("cannot use %s; serving popular items until a usable version is active", version)
                _cache["version"], _cache["model"], _cache["failed"] = None, None, version.pk
            else:
                model.index_of_pk = {int(pk): i for i, pk in enumerate(model.item_pks)}
                _cache["version"], _cache["model"], _cache["failed"] = version, model, None
                # the model is long-lived: keep the garbage collector from re-scanning its
                # objects on every full collection (those pauses showed as p99 spikes)
                gc.collect()
                gc.freeze()
    return _cache["version"], _cache["model"]


def _ensure_exposure_prices(model: Any) -> None:
    """Artifacts trained before exposure prices existed get them now (a few seconds, once per
    process); if that fails, fairness re-ranking is off for the model rather than the model."""
    if getattr(model, "exposure_prices", None) is not None:
        return
    try:
        model.exposure_prices = exposure_prices_fit(model)
    except Exception:
        logger.exception("cannot fit exposure prices for the active model; fairness re-ranking is off")
        model.exposure_prices = None


def model_cache_clear() -> None:
    _cache.update(version=None, model=None, checked=0.0, failed=None)


# ------------------------------------------------------------- live user state
@dataclass
class LiveUser:
    profile: LiveProfile
    seen: set[int]  # item pks rated or bought: never recommended again
    blocked: set[int]  # item pks marked "not interested"
    anchors: dict[int, dict[str, Any]]  # model item index -> what the user did with it
    review_vectors: list[tuple[np.ndarray, str, int]]  # (vector, text, item pk)
    personalized: bool = True
    has_history: bool = False
    more_like: list[int] = field(default_factory=list)  # "more like this" targets (pks), newest first
    # the model's scores of the running promotions' films (pks; None: not scored yet), from the
    # feed's own scoring pass when there was one
    promoted_scores: dict[int, float] | None = None


def _user_state(user: AbstractBaseUser | None, context: FeedContext, model: Any) -> LiveUser:
    index = model.index_of_pk if model is not None else {}
    raw: list[tuple[int, float, int, bool]] = []  # (item index, value, time, explicit), one per row read
    what_of: list[dict[str, Any]] = []
    seen: set[int] = set()
    blocked: set[int] = set()
    onboarding: list[int] = []
    more_like: list[int] = []
    vectors: list[tuple[np.ndarray, float]] = []
    review_vectors: list[tuple[np.ndarray, str, int]] = []
    opted_out = personalization_opted_out(user=user)
    if opted_out:
        return LiveUser(LiveProfile(), seen, blocked, {}, review_vectors, personalized=False)

    # items the user asked us not to use: still filtered when rated or bought, never taste
    unused = set(HistoryExclusion.objects.filter(user=user).values_list("item_id", flat=True)) if user else set()

    def add(pk: int, rating: float, ts: int, what: dict[str, Any], *, explicit: bool = False) -> None:
        idx = index.get(pk)
        if idx is not None and pk not in unused:
            raw.append((idx, rating, ts, explicit))
            what_of.append(what)

    if user is not None:
        for pk, rating, created, title, year in (
            Review.objects.filter(user=user, is_hidden=False).order_by("-created_at")
            .values_list("item_id", "rating", "created_at", "item__title", "item__year")[:HISTORY_LIMIT]
        ):
            seen.add(pk)
            add(pk, float(rating), int(created.timestamp()), {"pk": pk, "kind": "rated", "rating": float(rating),
                                                              "title": _title(title, year)}, explicit=True)
    recent = (
        Event.objects.filter(_actor_events(user, context.session_key))
        .exclude(kind__in=[EventKind.IMPRESSION, EventKind.RATE])
        .order_by("-created_at").values_list("item_id", "kind", "created_at", "context", "item__title", "item__year")
    )[:HISTORY_LIMIT]
    shown_again: set[int] = set()
    for pk, kind, created, ctx, title, year in recent:  # newest first: a later "show again" undoes
        if kind == EventKind.SHOW_AGAIN:
            shown_again.add(pk)
            continue
        if kind == EventKind.NOT_INTERESTED:
            if pk not in shown_again:
                blocked.add(pk)
            continue
        if kind == EventKind.PURCHASE:
            seen.add(pk)
        if pk in unused:  # not the user's taste (add() would skip it too)
            continue
        picked = kind == EventKind.MORE_LIKE_THIS and (ctx or {}).get("source") == "onboarding"
        if picked and pk in index:
            onboarding.append(index[pk])
        elif (kind == EventKind.MORE_LIKE_THIS and pk not in more_like and len(more_like) < STEER_TARGETS
              and created >= timezone.now() - timedelta(hours=STEER_HOURS)):
            more_like.append(pk)
        add(pk, LIVE_EVENT_RATINGS.get(kind, 3.5), int(created.timestamp()),
            {"pk": pk, "kind": "picked" if picked else kind, "title": _title(title, year)})
    if user is not None:
        interest = ProfileEmbedding.objects.filter(profile__user=user).values_list("vector", flat=True).first()
        if interest is not None:
            vectors.append((np.asarray(interest, dtype=np.float32), 1.0))
        for vector, text, pk, rating in ReviewEmbedding.objects.filter(review__user=user).exclude(
            review__item_id__in=unused
        ).values_list("vector", "review__text", "review__item_id", "review__rating")[:50]:
            review_vectors.append((np.asarray(vector, dtype=np.float32), text, pk))
            vectors.append((np.asarray(vector, dtype=np.float32), max(float(rating) - 2.5, 0.25) / 2.5))
    # one event per item, as training counts it: repeated views are not repeated evidence, and
    # a rating outweighs the implicit signals about the same item
    winners = one_event_per_item(raw)
    events = sorted(((idx, raw[pos][1], ts) for idx, (pos, ts) in winners.items()), key=lambda e: e[2])
    anchors = {idx: what_of[pos] for idx, (pos, _) in winners.items()}
    return LiveUser(
        LiveProfile(events=events, vectors=vectors, onboarding=onboarding), seen, blocked, anchors, review_vectors,
        has_history=bool(events or onboarding or vectors), more_like=more_like,
    )


def _actor_events(user: AbstractBaseUser | None, session_key: str) -> Q:
    """The events of a user and of their current session's anonymous visits, or of a session's
    anonymous visits: an API client chooses its session key, so another client's signed-in
    events under the same key are not this session's."""
    if user is None:
        return Q(user=None, session_key=session_key or "-")
    return Q(user=user) | Q(user=None, session_key=session_key) if session_key else Q(user=user)


def _title(title: str, year: int | None) -> str:
    return f"{title} ({year})" if year else title


# ------------------------------------------------------------------ pipeline
def _filtered(pks: list[int], *, state: LiveUser, context: FeedContext, exclude_extra: set[int] = frozenset()
              ) -> dict[int, Item]:
    banned = state.seen | state.blocked | set(context.exclude) | set(exclude_extra)
    items = Item.objects.active().filter(pk__in=[pk for pk in pks if pk not in banned])
    if context.genre:
        items = items.with_genre(context.genre)
    return items.in_bulk()


def _rerank(candidates: list[int], scores: dict[int, float], items: dict[int, Item], *, k: int,
            context: FeedContext, model: Any) -> list[int]:
    """Fairness re-ranker over every candidate that passed the filters, then MMR diversity over
    the best few times ``k`` of them (enough to re-rank, little enough to stay fast).

    With fairness on, MMR's relevance is the fairness-adjusted score, so diversity does not
    undo the choice of who is shown."""
    # best first (items newer than the model were appended after the model's pool)
    order = sorted((pk for pk in candidates if pk in items), key=lambda pk: -scores[pk])
    relevance = {pk: scores[pk] for pk in order}
    strength = settings.RECSYS_FAIRNESS if context.fairness is None else context.fairness
    prices = getattr(model, "exposure_prices", None)
    if strength > 0 and prices is not None and order:
        # items newer than the model have no price
        price = prices.of([model.index_of_pk.get(pk, -1) for pk in order], strength)
        raw = [scores[pk] for pk in order]
        relevance = dict(zip(order, fairness_scores(raw, price, k).tolist(), strict=True))
        order = fairness_rerank(order, raw, price, k=k)
    order = order[: max(4 * k, 40)]
    lam = settings.RECSYS_DIVERSITY if context.diversity is None else context.diversity
    if lam < 1 and len(order) > k:
        order = mmr_rerank(order, [relevance[pk] for pk in order], _vectors(order, model), k=k, lam=lam)
    return order[:k]


def _vectors(pks: list[int], model: Any) -> np.ndarray:
    """Item vectors: the model's copy from training, the database's for items newer than it."""
    out = np.zeros((len(pks), settings.EMBEDDING_DIMENSIONS), dtype=np.float32)
    content = model.components.get("content") if model is not None else None
    missing = []
    for row, pk in enumerate(pks):
        idx = model.index_of_pk.get(pk) if model is not None else None
        if content is not None and idx is not None:
            out[row] = content.item_vectors[idx]
        else:
            missing.append((row, pk))
    if missing:
        found = dict(ItemEmbedding.objects.filter(item_id__in=[pk for _, pk in missing]).values_list("item_id",
                                                                                                   "vector"))
        for row, pk in missing:
            if pk in found:
                out[row] = found[pk]
    return out


def feed_for_user(user: AbstractBaseUser | None, k: int = 10, context: FeedContext | None = None
                  ) -> list[Recommendation]:
    """Personalised recommendations for ``user`` (or an anonymous session), explained.

    Results are cached for ``RECSYS_FEED_CACHE_SECONDS`` under a key that changes with
    anything that changes them: the model version, the user's (and session's) latest event
    (ratings, "not interested", views ... all record one), the profile's opt-out and interest
    vector, and every request parameter. So a new action shows in the very next feed. A cached
    feed with a film the shop has stopped selling since is computed again."""
    context = context or FeedContext()
    version, model = active_model()
    key = _feed_key(user, k, context, version)
    cached = cache.get(key) if key else None
    if cached is not None:
        items = Item.objects.active().in_bulk([pk for pk, *_ in cached])
        if len(items) < len(cached):  # a film the shop stopped selling since: computed again, full
            cached = None
        else:
            recs = [Recommendation(items[pk], score, source, sentence, evidence, algorithm)
                    for pk, score, source, sentence, evidence, algorithm in cached]
    if cached is None:
        recs = _feed(user, k, context, model)
        if key:
            cache.set(key, [(r.item.pk, r.score, r.source, r.sentence, r.evidence, r.algorithm) for r in recs],
                      settings.RECSYS_FEED_CACHE_SECONDS)
    metrics.count_feed(recs[0].algorithm if recs else "none", cached=cached is not None)
    return recs


def _feed_key(user: AbstractBaseUser | None, k: int, context: FeedContext, version: ModelVersion | None
              ) -> str | None:
    if settings.RECSYS_FEED_CACHE_SECONDS <= 0 or (user is None and not context.session_key):
        return None
    profile, latest = _actor_state(user, context.session_key)
    parts = [version.pk if version else None, user.pk if user else context.session_key, latest, profile, k,
             sorted(context.exclude), context.genre, context.diversity, context.fairness, context.refine,
             context.algorithm, settings.RECSYS_DIVERSITY, settings.RECSYS_FAIRNESS,
             _running_promotions(context)]
    return "recsite:feed:" + hashlib.sha256(repr(parts).encode()).hexdigest()


def _actor_state(user: AbstractBaseUser | None, session_key: str) -> tuple[tuple | None, int | None]:
    """(the profile's opt-out, interest-vector time and history exclusions, the id of the newest
    action) of a user and/or session: what the feed cache key follows. One plain SQL statement
    on every cached request (the ORM spent ~1 ms building the two queries it replaces, the
    database 0.3 ms). The newest action is found through the (user | session, created_at)
    indexes; a max(id) walks the primary key backwards past everyone else's events, which grows
    with the table."""
    event, profile, vectors = Event._meta.db_table, Profile._meta.db_table, ProfileEmbedding._meta
    # an exclusion is only ever added with a new id or removed, so (count, newest id) names the set
    unused = (f"SELECT count(*)::text || ':' || coalesce(max(x.id), 0) FROM {HistoryExclusion._meta.db_table} x "
              "WHERE x.user_id = %s")
    actor, params = [], []
    if user is not None:
        actor.append("ev.user_id = %s")
        params.append(user.pk)
    if session_key:
        actor.append("(ev.user_id IS NULL AND ev.session_key = %s)")
        params.append(session_key)
    latest = (f"SELECT ev.id FROM {event} ev WHERE ({' OR '.join(actor)}) AND ev.kind <> %s "
              "ORDER BY ev.created_at DESC, ev.id DESC LIMIT 1")
    params.append(EventKind.IMPRESSION.value)
    with connection.cursor() as cursor:
        if user is not None:
            cursor.execute(
                f"SELECT p.personalization_opt_out, e.embedded_at, ({unused}), ({latest}) "
                f"FROM (SELECT %s::bigint AS id) u LEFT JOIN {profile} p ON p.user_id = u.id LEFT JOIN "
                f"{vectors.db_table} e ON e.{vectors.pk.column} = p.{Profile._meta.pk.column}",
                [user.pk, *params, user.pk],
            )
            row = cursor.fetchone()
            return (row[0], row[1], row[2]), row[3]
        cursor.execute(latest, params)
        row = cursor.fetchone()
    return None, row[0] if row else None


def feed_fresh(user: AbstractBaseUser | None, k: int, context: FeedContext) -> list[Recommendation]:
    """:func:`feed_for_user` computed afresh: neither read from the cache nor stored in it."""
    _version, model = active_model()
    return _feed(user, k, context, model)


def feed_traced(user: AbstractBaseUser | None, k: int, context: FeedContext
                ) -> tuple[list[Recommendation], Trace]:
    """:func:`feed_fresh`, and what the computation saw, for staff asking why a film is not in it."""
    context.trace = Trace()
    return feed_fresh(user, k, context), context.trace


def _feed(user: AbstractBaseUser | None, k: int, context: FeedContext, model: Any) -> list[Recommendation]:
    state = _user_state(user, context, model)
    if context.trace is not None:
        context.trace.state, context.trace.model = state, model
    if model is None or not state.personalized or context.algorithm == "popularity":
        reason = ("personalization is off for your account" if not state.personalized
                  else "no trained model yet" if model is None else "the popularity baseline")
        recs = _popular(k=k, context=context, state=state, reason=reason)
    else:
        recs = _ranked(state, k, context, model)
        if context.genre and len(recs) < k:  # the candidates held too few of a small genre
            shown = replace(context, exclude=context.exclude | {rec.item.pk for rec in recs})
            recs += _popular(k=k - len(recs), context=shown, state=state, reason=f"among {context.genre} films")
    return _promote(recs, k=k, state=state, context=context, model=model)


def _running_promotions(context: FeedContext) -> list[promotions.LivePromotion]:
    """The promotions this request's feed shows: none in an experiment arm without them."""
    if context.running is None:
        context.running = promotions.live_promotions() if context.promotions else []
    return context.running


def _promote(recs: list[Recommendation], *, k: int, state: LiveUser, context: FeedContext, model: Any
             ) -> list[Recommendation]:
    """Each running promotion's film at the promotion's position (at most
    ``promotions.MAX_PER_FEED``), pushing the last recommendations out. Its film is the one the
    model scores highest for this shopper among those the feed's filters let through (the most
    reviewed without personalization); a feed that already holds one of them has no extra card."""
    live = _running_promotions(context)
    if not live:
        return recs
    if model is not None and state.personalized and state.promoted_scores is None:
        # not scored with the feed (the popular feed, an experiment's EASE arm): one pass now
        known = [pk for promotion in live for pk in promotion.items if pk in model.index_of_pk]
        scores = model.score(state.profile, [model.index_of_pk[pk] for pk in known]) if known else []
        state.promoted_scores = {pk: float(v) for pk, v in zip(known, scores, strict=True) if np.isfinite(v)}
    recs, shown, placed = list(recs), {rec.item.pk for rec in recs}, 0
    for promotion in live:
        if placed == promotions.MAX_PER_FEED:
            break
        if shown.intersection(promotion.items):
            continue
        items = _filtered(list(promotion.items), state=state, context=context, exclude_extra=shown)
        if not items:
            continue
        item, score, personal = _promoted_choice(items, state=state)
        personal = personal and len(items) > 1  # chosen for this shopper among several
        sentence = f"Featured by the store: {promotion.name}."
        if personal:
            sentence += " Of its films, this one matches your taste best."
        evidence = {"promotion": {"id": promotion.pk, "name": promotion.name}, "personal": personal,
                    "contributions": {}}
        recs.insert(min(promotion.position, len(recs) + 1) - 1,
                    Recommendation(item, score, "promotion", sentence, evidence, algorithm="promoted"))
        shown.add(item.pk)
        placed += 1
    return recs[:k]


def _promoted_choice(items: dict[int, Item], *, state: LiveUser) -> tuple[Item, float, bool]:
    """(the film, its score, whether the score is the shopper's own) among a promotion's films:
    the best by the model's scores (there are none without a model or personalization), else
    the most reviewed."""
    scored = [(state.promoted_scores[pk], pk) for pk in items if pk in (state.promoted_scores or {})]
    if scored:
        score, pk = max(scored, key=lambda pair: (pair[0], -pair[1]))
        return items[pk], score, True
    item = min(items.values(), key=lambda i: (-i.review_count, i.pk))
    return item, float(item.review_count), False


def _ranked(state: LiveUser, k: int, context: FeedContext, model: Any) -> list[Recommendation]:
    """The model's feed: candidates scored, steered, filtered, re-ranked and explained. A genre
    filter keeps the genre's films among the best candidates overall (a small genre may have
    few there: :func:`_feed` fills the rest)."""
    seen_idx = [e[0] for e in state.profile.events]
    # a large catalogue's model has no EASE (see LARGE_CATALOG_ITEMS): the variant gets the hybrid
    if context.algorithm == "ease" and state.profile.events and "ease" in model.components:
        ease = model.components["ease"]
        idx, scores = ease.recommend(state.profile, k=POOL, exclude=seen_idx)
        pks = [int(model.item_pks[i]) for i in idx]
        score_of = {pk: float(s) for pk, s in zip(pks, scores, strict=True)}
        items = _filtered(pks, state=state, context=context)
        if context.trace is not None:
            context.trace.record(score_of, items, {})
        order = _rerank(pks, score_of, items, k=k, context=context, model=model)
        return explanations.explain_single(model, state, "ease", [(items[pk], score_of[pk]) for pk in order])
    promoted = [pk for promotion in _running_promotions(context) for pk in promotion.items if pk in model.index_of_pk]
    idx, scores, contributions, promoted_scores = model.recommend_explained_also(
        state.profile, k=POOL, exclude=seen_idx, also=[model.index_of_pk[pk] for pk in promoted])
    state.promoted_scores = {pk: float(v) for pk, v in zip(promoted, promoted_scores, strict=True) if np.isfinite(v)}
    pks = [int(model.item_pks[i]) for i in idx]
    score_of = {pk: float(s) for pk, s in zip(pks, scores, strict=True)}
    # items newer than the model: by content (pgvector) or their facts, on the model's scale
    fresh = _fresh_candidates(model, state.profile, scores)
    for pk, new in fresh.items():
        score_of[pk] = new.score
        pks.append(pk)
    steer, steered_by = _steer_terms(model, state, pks, score_of, contributions, exclude=set(seen_idx))
    for pk, value in steer.items():
        score_of[pk] += value
    items = _filtered(pks, state=state, context=context)
    refine: dict[int, float] = {}
    if context.refine:
        refine = _refine_terms([pk for pk in pks if pk in items], score_of, items, model, context)
    if refine:
        for pk, value in refine.items():
            score_of[pk] += value
        pks = sorted(refine, key=lambda pk: -score_of[pk])
    order = _rerank(pks, score_of, items, k=k, context=context, model=model)
    extra: dict[int, dict[str, float]] = {pk: {"more_like": v} for pk, v in steer.items() if v}
    for pk, value in refine.items():
        extra.setdefault(pk, {})["refine"] = value
    if context.trace is not None:
        context.trace.record(score_of, items, extra)
    # a request that added nothing (no clause understood) is not quoted on the cards
    return explanations.explain(model, state, [(items[pk], score_of[pk]) for pk in order],
                                context=context if refine else replace(context, refine=""),
                                contributions=contributions, extra=extra, new_items=fresh, steered_by=steered_by)


def _steer_terms(model: Any, state: LiveUser, pks: list[int], score_of: dict[int, float],
                 contributions: dict[int, dict[str, float]], *, exclude: set[int]
                 ) -> tuple[dict[int, float], dict[int, int]]:
    """"More like this" as an additive ``more_like`` signal (see STEER_WEIGHT): (pk -> value for
    every candidate, pk -> the target pk that adds the most to it, which its card names).

    The targets' most similar items not yet among ``pks`` are appended to it, scored by the
    model like the rest in one pass that also gives their ``contributions`` (so explaining
    them does not score them again); ``exclude``: model indices never to add (the history)."""
    targets = [(pk, model.index_of_pk[pk]) for pk in state.more_like if pk in model.index_of_pk]
    if not targets:
        return {}, {}
    similarity = [_similarity_parts(model, idx)[0] for _pk, idx in targets]
    added = []
    for total, (_pk, idx) in zip(similarity, targets, strict=True):
        total = total.copy()
        total[idx] = -np.inf
        added += [int(i) for i in top_stable(total, STEER_CANDIDATES)
                  if int(i) not in exclude and int(model.item_pks[i]) not in score_of and int(i) not in added]
    for i, signals in (model.signal_contributions_many(state.profile, added) if added else {}).items():
        if np.isfinite(score := sum(signals.values())):
            pks.append(int(model.item_pks[i]))
            score_of[int(model.item_pks[i])] = float(score)
            contributions[i] = signals
    known = [(pk, model.index_of_pk[pk]) for pk in pks if pk in model.index_of_pk]
    spread = float(np.std([score_of[pk] for pk in pks])) or 1.0
    terms = np.zeros((len(targets), len(known)))
    for rank, total in enumerate(similarity):  # the newest target counts most
        column = total[[idx for _pk, idx in known]]
        terms[rank] = STEER_WEIGHT / (rank + 1) * (column - column.mean()) / (column.std() or 1.0) * spread
    value = terms.sum(axis=0)
    strongest = terms.argmax(axis=0)
    return ({pk: float(v) for (pk, _idx), v in zip(known, value, strict=True)},
            {pk: targets[t][0] for (pk, _idx), t in zip(known, strongest, strict=True)})


def _refine_terms(pks: list[int], score_of: dict[int, float], items: dict[int, Item], model: Any,
                  context: FeedContext) -> dict[int, float]:
    """A free-text request ("more sci-fi, less horror") as an additive ``refine`` signal:
    REFINE_WEIGHT x (the model scores' standard deviation) x how well each item answers the
    request (see :mod:`recommender.refine`: clauses for and against, genres named exactly, text
    that matches nothing left out). Empty when no clause was understood."""
    clauses = refine_reading(context, model)
    if not pks or not any(c.understood for c in clauses):
        return {}
    vectors = _vectors(pks, model)
    terms = request_terms(clauses, [items[pk].genres for pk in pks], lambda text: vectors @ _text_vector(text))
    spread = float(np.std([score_of[pk] for pk in pks])) or 1.0
    return {pk: float(v) for pk, v in zip(pks, REFINE_WEIGHT * spread * terms, strict=True)}


_NO_MODEL = object()


def refine_reading(context: FeedContext, model: Any = _NO_MODEL) -> list[Clause]:
    """The clauses of ``context.refine`` as the feed uses them, each judged understood or not
    (:func:`recommender.refine.judge`, against the active ``model``'s item vectors: without
    them no text clause is). Read once per request: kept on ``context``, which the page passes
    on after the feed (a feed served from the cache did not read it)."""
    if context.refine_clauses is None:
        clauses = parse_request(context.refine, genre_list()) if context.refine.strip() else []
        if any(c.genre is None for c in clauses):
            model = active_model()[1] if model is _NO_MODEL else model
            content = model.components.get("content") if model is not None else None
            if content is None:
                clauses = [c if c.genre is not None else replace(c, understood=False) for c in clauses]
            else:
                def strength(text: str) -> float:
                    return match_strength(content.item_vectors @ _text_vector(text))

                if getattr(model, "refine_floor", None) is None:  # once per model (the probes' ~10 encodings)
                    model.refine_floor = understood_floor(strength)
                clauses = judge(clauses, strength, model.refine_floor)
        context.refine_clauses = clauses
    return context.refine_clauses


@dataclass(frozen=True)
class RefineSummary:
    """How a feed took its refine request: the clauses it understood, the texts that match
    nothing, and whether the feed followed it (not when personalization is off, there is no
    model yet or an A/B arm ranks without it)."""

    understood: list[Clause]
    unmatched: list[str]
    followed: bool


def refine_summary(context: FeedContext, feed: list[Recommendation]) -> RefineSummary | None:
    """:class:`RefineSummary` of ``context.refine`` for the ``feed`` it served; None without one."""
    if not context.refine.strip():
        return None
    clauses = refine_reading(context)
    unmatched = [c.text for c in clauses if not c.understood] if clauses else [context.refine.strip()]  # "!!!"
    return RefineSummary([c for c in clauses if c.understood], unmatched,
                         any("refine" in rec.contributions for rec in feed))


@lru_cache(maxsize=512)
def _encoded(model_name: str, text: str) -> np.ndarray:
    from recommender.encoder import get_encoder

    vector = get_encoder().encode([text])[0]
    vector.flags.writeable = False
    return vector


def _text_vector(text: str) -> np.ndarray:
    """A request clause's (or probe's) sentence vector; the feed and the reading share it."""
    from recommender.encoder import model_name

    return _encoded(model_name(), text)


@dataclass
class Fresh:
    """An item newer than the model, placed in a list by one signal (see :func:`_fresh_candidates`),
    with the knowledge-graph facts read to match it (explanations name the shared ones)."""

    score: float
    signal: str
    facts: list[tuple[str, str]] = field(default_factory=list)


def _fresh_candidates(model: Any, profile: LiveProfile, ranked_scores: np.ndarray, limit: int = 20
                      ) -> dict[int, Fresh]:
    """Active items the model does not know (added since its training started), pk -> score on
    the scale of ``ranked_scores`` (the model's, best first) and the signal that placed it.

    Two ways in, each placed by the rank its value earns among the catalogue's items
    (:meth:`Hybrid.score_new_items`), the better of the two kept: content, the ``limit``
    nearest to the profile's taste by pgvector (once the item is embedded), and the knowledge
    graph, the ``limit`` of the newest NEW_ITEMS_MATCHED whose genres, year or relations the
    profile's items share (at once: facts need no embedding)."""
    version = _cache["version"]
    if not profile.events or version is None:
        return {}
    # the version row is written when training ends; its data was read when it began
    started = version.created_at - timedelta(seconds=version.training_seconds or 0)
    newer = Item.objects.active().filter(created_at__gte=started)
    if not newer.exists():  # the usual case: no HNSW scan for a filter nothing passes
        return {}
    found: dict[int, Fresh] = {}

    def place(signal: str, pks: list[int], values: list[float] | np.ndarray) -> None:
        for pk, score in zip(pks, model.score_new_items(profile, values, ranked_scores, signal=signal), strict=True):
            if np.isfinite(score) and (pk not in found or score > found[pk].score):
                found[pk] = Fresh(float(score), signal)

    taste = model.components["content"].taste_vector(profile.events, profile.vectors) \
        if "content" in model.components else None
    if taste is not None:
        from recommender.selectors import items_nearest

        nearest = [(item.pk, sim) for item, sim in items_nearest(taste.astype(np.float32), k=limit, queryset=newer)
                   if item.pk not in model.index_of_pk]
        place("content", [pk for pk, _sim in nearest], [sim for _pk, sim in nearest])
    if "kg" in model.components:
        pks = [pk for pk in newer.order_by("-created_at", "-pk").values_list("pk", flat=True)[:NEW_ITEMS_MATCHED]
               if pk not in model.index_of_pk]
        facts = item_facts(pks)
        values = model.components["kg"].score_facts(profile.events, [facts[pk] for pk in pks])
        shared = np.flatnonzero(np.nan_to_num(values) > 0)  # no shared fact, no evidence
        best = shared[np.argsort(-values[shared], kind="stable")[:limit]]
        place("kg", [pks[i] for i in best], values[best])
        for pk, new in found.items():
            new.facts = facts.get(pk, [])
    return found


def _popular(*, k: int, context: FeedContext, state: LiveUser, reason: str) -> list[Recommendation]:
    items = Item.objects.active()
    if context.genre:
        items = items.with_genre(context.genre)
    banned = state.seen | state.blocked | set(context.exclude)
    top = list(items.exclude(pk__in=banned).order_by("-review_count", "pk")[:k])
    return [
        Recommendation(item, float(item.review_count), "popularity", f"Popular with other viewers ({reason}).",
                       {"contributions": {"popularity": float(item.review_count)}, "reason": reason},
                       algorithm="popularity")
        for item in top
    ]


# the signals that make two items "similar": content, shared knowledge-graph entities, co-rating
SIMILAR_SIGNALS = ("content", "kg", "itemknn")


def _similarity_parts(model: Any, idx: int) -> tuple[np.ndarray, dict[str, np.ndarray], LiveProfile]:
    """How similar every model item is to item ``idx``: the sum of the z-scored SIMILAR_SIGNALS
    of a one-item history (clipped to +-3, so one spiky signal, a rare shared entity, cannot
    drown the others), each part, and that history."""
    anchor = LiveProfile(events=[(idx, 5.0, int(time.time()))])
    parts = {name: np.clip(np.nan_to_num(zscore_rows(model.components[name].score(anchor)[None])[0]), -3, 3)
             for name in SIMILAR_SIGNALS if name in model.components}
    return np.sum(list(parts.values()), axis=0), parts, anchor


def similar_items(item: Item, k: int = 10, user: AbstractBaseUser | None = None,
                  context: FeedContext | None = None) -> list[Recommendation]:
    """Items like ``item``: the sum of z-scored content, knowledge-graph and item-kNN scores of
    a one-item history (each its explained contribution); pgvector neighbours for items the
    model does not know yet. The viewer's filters apply."""
    context = context or FeedContext()
    return _similar(item, k, _viewer_state(user, context), context)


def _viewer_state(user: AbstractBaseUser | None, context: FeedContext) -> LiveUser:
    """What a row of films like another needs of its viewer: what they saw or hid."""
    return _user_state(user, FeedContext(session_key=context.session_key), None) if user else _anonymous()


def _similar(item: Item, k: int, state: LiveUser, context: FeedContext) -> list[Recommendation]:
    _version, model = active_model()
    fresh: dict[int, Fresh] = {}
    contributions: dict[int, dict[str, float]] = {}
    if model is not None and item.pk in model.index_of_pk:
        total, parts, anchor = _similarity_parts(model, model.index_of_pk[item.pk])
        total[model.index_of_pk[item.pk]] = -np.inf
        top = top_stable(total, POOL)
        pks = [int(model.item_pks[i]) for i in top]
        score_of = {pk: float(total[i]) for pk, i in zip(pks, top, strict=True)}
        contributions = {pk: {name: round(float(v[i]), 4) for name, v in parts.items()}
                         for pk, i in zip(pks, top, strict=True)}
        # items newer than the model: by the rank of their content similarity, as in feeds
        fresh = _fresh_candidates(model, anchor, total[top])
        for pk, new in fresh.items():
            pks.append(pk)
            score_of[pk], contributions[pk] = new.score, {new.signal: round(new.score, 4)}
    else:
        from recommender.selectors import item_similar_list

        neighbours = item_similar_list(item=item, k=POOL // 4)
        pks = [other.pk for other, _ in neighbours]
        score_of = {other.pk: sim for other, sim in neighbours}
    items = _filtered(pks, state=state, context=context, exclude_extra={item.pk})
    order = _rerank(pks, score_of, items, k=k, context=context, model=model)
    return explanations.explain_similar(
        model, item, [(items[pk], score_of[pk], contributions.get(pk, {"content": score_of[pk]})) for pk in order],
        new_items=fresh)


def also_liked(item: Item, k: int = 10, user: AbstractBaseUser | None = None,
               context: FeedContext | None = None) -> list[Recommendation]:
    """People who rated ``item`` 4+ also rated these 4+ (co-occurrence, lift over popularity)."""
    context = context or FeedContext()
    return _also_liked(item, k, _viewer_state(user, context), context)


def _also_liked(item: Item, k: int, state: LiveUser, context: FeedContext) -> list[Recommendation]:
    # the fans' ids first, then their reviews by that list: two plain scans. As one statement
    # (a semi-join) a plan from statistics that had not caught up with a fresh import once ran
    # for 20 minutes (tests/e2e, Star Wars' page).
    fans = list(Review.objects.filter(item=item, rating__gte=4, is_hidden=False).values_list("user_id", flat=True))
    co = (
        Review.objects.filter(user_id__in=fans, rating__gte=4, is_hidden=False).exclude(item=item)
        .values("item_id").annotate(n=Count("id")).order_by("-n", "item_id")[: POOL]
    ) if fans else []
    counts = {row["item_id"]: row["n"] for row in co}
    totals = dict(Item.objects.filter(pk__in=counts).values_list("pk", "review_count"))
    n_fans = max(len(fans), 1)
    # share of fans who liked it, shrunk toward 0 for items few people rated; a film deleted
    # between the two queries is left out (it was a KeyError: the item page's 500)
    score_of = {pk: counts[pk] / n_fans * (totals[pk] / (totals[pk] + 20)) for pk in counts if pk in totals}
    items = _filtered(list(score_of), state=state, context=context, exclude_extra={item.pk})
    order = sorted(items, key=lambda pk: -score_of[pk])[:k]
    return [
        Recommendation(items[pk], score_of[pk], "co_rating",
                       f"{counts[pk]} of the {n_fans} people who liked {item.display_title} also liked this.",
                       {"contributions": {"co_rating": score_of[pk]}, "anchor": {"pk": item.pk,
                        "title": item.display_title}, "fans": n_fans, "co_fans": counts[pk]},
                       algorithm="co_rating")
        for pk in order
    ]


@dataclass
class RatingPrediction:
    """How many stars the rating model expects a user to give an item, or why it cannot say."""

    rating: float | None
    ratings_given: int = 0
    reason: str = ""  # why there is no prediction; empty when there is one


def predicted_rating(user: AbstractBaseUser | None, item: Item, context: FeedContext | None = None
                     ) -> RatingPrediction:
    """The active model's BPMF rating prediction for ``user`` and ``item``, folded in from the
    live history the feed is scored with (the number a feed card headlined by it quotes)."""
    if user is None:
        return RatingPrediction(None, reason="Sign in and rate a few items to see the rating we predict for you.")
    _version, model = active_model()
    component = model.components.get("bpmf") if model is not None else None
    if component is None:
        return RatingPrediction(None, reason="No rating model has been trained yet.")
    state = _user_state(user, FeedContext(session_key=(context or FeedContext()).session_key), model)
    if not state.personalized:
        return RatingPrediction(None, reason="Personalization is off for your account.")
    given = sum(1 for what in state.anchors.values() if what.get("kind") == "rated")
    if given < MIN_RATINGS_TO_PREDICT:
        return RatingPrediction(None, given, f"Rate at least {MIN_RATINGS_TO_PREDICT} items to see the rating we "
                                             f"predict for you (you have rated {given}).")
    idx = model.index_of_pk.get(item.pk)
    if idx is None:
        return RatingPrediction(None, given, "This item is newer than the rating model: ask after its next training.")
    return RatingPrediction(explanations.predicted_stars(component, state.profile.events, idx), given)


def card_for(user: AbstractBaseUser, item: Item, model: Any, context: FeedContext, fresh: Fresh | None = None
             ) -> Recommendation:
    """``item`` as a card of ``user``'s feed would show it now: scored from their live history
    and explained from those contributions (the sentence and evidence their feed would give it),
    whether or not the feed would show it. An item newer than ``model`` needs its placement,
    ``fresh`` (the signal, score and facts that place it: see :func:`_fresh_candidates`)."""
    known = item.pk in model.index_of_pk
    if not known and fresh is None:
        raise ValueError(f"item {item.pk} is newer than the model: its card needs the placement (fresh=)")
    state = _user_state(user, context, model)
    if not known:
        [card] = explanations.explain(model, state, [(item, fresh.score)], context=context,
                                      new_items={item.pk: fresh})
        return card
    score = float(model.score(state.profile, [model.index_of_pk[item.pk]])[0])
    [card] = explanations.explain(model, state, [(item, score)], context=context)
    return card


def _anonymous() -> LiveUser:
    return LiveUser(LiveProfile(), set(), set(), {}, [])


TRENDING_CACHE_SECONDS = 60
# the most active items the trending row picks from: enough for a user who rated hundreds of the
# popular films (MovieLens' ml_1 rated 100 of the 100 most active) to still see a row
TRENDING_POOL = 1000


TRENDING_MIN_PEOPLE = 2  # what one visitor alone did to a film is not a trend
TRENDING_DAYS = 30  # the window of activity the trending row counts


def _trending_counts(days: int, limit: int) -> list[tuple[int, int]]:
    """(item pk, people) of the last ``days`` days of activity: how many visitors (accounts, or
    sessions for the anonymous) did something with the item, most first, from
    TRENDING_MIN_PEOPLE up (one shopper clicking a film ten times is not a trend). The same for
    every visitor, so it is cached for a minute."""
    key = f"recsite:trending:{days}:{limit}"
    counts = cache.get(key)
    if counts is None:
        newest = Event.objects.order_by("-created_at").values_list("created_at", flat=True).first()
        person = Coalesce(Cast("user_id", CharField()), NullIf("session_key", Value("")))
        counts = [] if newest is None else [
            (row["item_id"], row["n"]) for row in
            Event.objects.filter(created_at__gte=newest - timedelta(days=days), item__is_active=True)
            .exclude(kind__in=[EventKind.IMPRESSION, EventKind.NOT_INTERESTED, EventKind.SHOW_AGAIN])
            .values("item_id").annotate(n=Count(person, distinct=True)).filter(n__gte=TRENDING_MIN_PEOPLE)
            .order_by("-n", "item_id")[:limit]
        ]
        cache.set(key, counts, TRENDING_CACHE_SECONDS)
    return counts


def _banned(user: AbstractBaseUser | None, context: FeedContext) -> set[int]:
    """What no row shows this user or session: items rated or bought, marked "not interested",
    or excluded by the request (the feed's filters, for the rows that are not personalised).
    One query, read once per request (``context.hidden``), where :func:`_user_state` also reads
    the history and its vectors."""
    if context.hidden is None:
        mine = Event.objects.filter(_actor_events(user, context.session_key))
        hidden = mine.filter(kind=EventKind.PURCHASE).order_by().values_list("item_id").union(
            not_interested_events(mine).order_by().values_list("item_id"))
        if user is not None:
            hidden = hidden.union(Review.objects.filter(user=user, is_hidden=False).order_by().values_list("item_id"))
        context.hidden = {pk for (pk,) in hidden}
    return context.hidden | set(context.exclude)


def trending(k: int = 10, context: FeedContext | None = None, days: int = TRENDING_DAYS,
             user: AbstractBaseUser | None = None) -> list[Recommendation]:
    """Most people interested in the last ``days`` days of activity (relative to the newest event,
    so imported historical data trends too), explained with the genre it trends in; without
    what the user rated, bought or is not interested in. When fewer than ``k`` of those trend
    (a quiet shop, or a user who rated them all), the most reviewed films fill the row, and say so."""
    context = context or FeedContext()
    counts = dict(_trending_counts(days, TRENDING_POOL))
    banned = _banned(user, context)
    wanted = [pk for pk in counts if pk not in banned]
    items = Item.objects.active().filter(pk__in=wanted if context.genre else wanted[:2 * k])
    items = items.with_genre(context.genre).in_bulk() if context.genre else items.in_bulk()
    top = [pk for pk in wanted if pk in items][:k]
    trends = [
        Recommendation(items[pk], float(counts[pk]), "trending",
                       f"Trending: {counts[pk]} people showed interest in the last {days} days of activity"
                       + (f", popular in {items[pk].genres[0]}" if items[pk].genres else "") + ".",
                       {"contributions": {"trending": float(counts[pk])}, "window_days": days,
                        "genre": items[pk].genres[0] if items[pk].genres else None}, algorithm="trending")
        for pk in top
    ]
    if len(trends) < k:
        trends += _popular(k=k - len(trends), context=replace(context, exclude=banned | set(top)),
                           state=_anonymous(), reason="few films are trending right now")
    return trends


def new_arrivals(k: int = 10, context: FeedContext | None = None, user: AbstractBaseUser | None = None
                 ) -> list[Recommendation]:
    context = context or FeedContext()
    items = Item.objects.active().exclude(pk__in=_banned(user, context))
    if context.genre:
        items = items.with_genre(context.genre)
    return [
        Recommendation(item, 0.0, "new", f"New in the catalog since {item.created_at:%b %-d}.",
                       {"contributions": {"new": 1.0}, "added": item.created_at.isoformat()}, algorithm="new")
        for item in items.order_by("-created_at", "-pk")[:k]
    ]


def session_last_viewed(*, session_key: str, user: AbstractBaseUser | None) -> Item | None:
    """The item this visitor viewed last in the current session (30 minutes of inactivity ends it)."""
    if not session_key:
        return None
    cutoff = timezone.now() - timedelta(minutes=30)
    event = (
        Event.objects.filter(_actor_events(user, session_key), session_key=session_key, kind=EventKind.VIEW,
                             created_at__gte=cutoff, item__is_active=True)
        .select_related("item").order_by("-created_at").first()
    )
    return event.item if event else None


def home_rows(user: AbstractBaseUser | None, context: FeedContext, k: int = ROW_SIZE) -> list[Row]:
    """The home page's rows, for the storefront and ``/api/home/``: the feed; "because you
    viewed" the session's last film; trending; new arrivals. Each row leaves out the films of
    the rows above (one film, one card per page)."""
    feed = feed_for_user(user, k=k, context=context)
    personal = any(rec.source != "popularity" for rec in feed)  # not opted out, a model to ask
    title = "Recommended for you" if user and personal else "Picked for you" if personal else "Popular right now"
    rows = [Row("for_you", title, feed)]

    def shown() -> set[int]:
        return context.exclude | {rec.item.pk for above in rows for rec in above.items}

    viewed = session_last_viewed(session_key=context.session_key, user=user)
    if viewed is not None:
        rows.append(Row("because_viewed", f"Because you viewed {viewed.display_title}",
                        similar_items(viewed, k=k, user=user, context=replace(context, exclude=shown()))))
    # each copy of the context carries the previous one's read of what is hidden
    generic = context
    for key, row_title, row in (("trending", "Trending now", trending), ("new", "New arrivals", new_arrivals)):
        generic = replace(generic, exclude=shown())
        rows.append(Row(key, row_title, row(k=k, context=generic, user=user)))
    return rows


def item_rows(item: Item, user: AbstractBaseUser | None, context: FeedContext, k: int = ROW_SIZE) -> list[Row]:
    """The item page's rows, for the storefront and the API: similar films, and what the people
    who liked this one also liked."""
    state = _viewer_state(user, context)  # once for the page, not once per row
    return [
        Row("similar", "Similar movies", _similar(item, k, state, context)),
        Row("also_liked", "People who liked this also liked", _also_liked(item, k, state, context)),
    ]


GOES_WITH_ANCHORS = 3


def goes_with_rows(items: list[Item], user: AbstractBaseUser | None, context: FeedContext, k: int = ROW_SIZE, *,
                   exclude: Collection[int] = (), key: str = "with_cart", title: str = "Goes well with your cart"
                   ) -> list[Row]:
    """A row of films like the newest of ``items`` (the last of the list: up to GOES_WITH_ANCHORS),
    taking turns between them so each has its share, without ``items`` themselves (nor
    ``exclude``); each card is explained by its own film. None for no items. The cart page's
    row, and My list's."""
    if not items:
        return []
    anchors = items[-GOES_WITH_ANCHORS:][::-1]  # the newest first
    context = replace(context, exclude=context.exclude | {item.pk for item in items} | set(exclude))
    state = _viewer_state(user, context)  # once for the row, not once per film
    each = min(k, k // len(anchors) + 3)  # their turns fill k, with room for films two share
    lists = [_similar(anchor, each, state, context) for anchor in anchors]
    picked: dict[int, Recommendation] = {}
    for turn in zip_longest(*lists):
        for rec in turn:
            if rec is not None and len(picked) < k:
                picked.setdefault(rec.item.pk, rec)
    if len(anchors) == 1:
        title = f"Goes well with {anchors[0].display_title}"
    return [Row(key, title, list(picked.values()))]


def saved_rows(user: AbstractBaseUser, context: FeedContext, k: int = ROW_SIZE) -> list[Row]:
    """My list's row: films like the three saved last, none of the list's (the list itself is
    not read whole: a page shows 24 of up to 500)."""
    newest = [entry.item for entry in saved_list(user=user)[:GOES_WITH_ANCHORS]]
    return goes_with_rows(newest[::-1], user, context, k, exclude=saved_ids(user=user), key="with_list",
                          title="More like your list")


def track(rows: list[Row], context: FeedContext) -> None:
    """Give each card its tracking context (row, position, algorithm, request id and experiment
    variant) and its link with that context: the storefront's click on the link, and an API
    client's impression and click events sent with ``tracking`` as their context, are attributed
    to what produced the card."""
    for row in rows:
        for position, rec in enumerate(row.items, start=1):
            rec.tracking = {"src": row.key, "pos": position, "rid": context.request_id, "algo": rec.algorithm}
            if "promotion" in rec.evidence:
                rec.tracking["promo"] = rec.evidence["promotion"]["id"]
            if context.experiment:
                rec.tracking.update(exp=context.experiment, variant=context.variant)
            rec.href = f"{rec.item.get_absolute_url()}?{urlencode(rec.tracking)}"


def impressions_log(*, rows: list[Row], user: AbstractBaseUser | None, context: FeedContext) -> None:
    """One ``impression`` event per card shown, with its tracking context (see :func:`track`), so
    that click-through rates can be computed."""
    track(rows, context)
    now = timezone.now()
    events = [Event(user=user, session_key=context.session_key, item=rec.item, kind=EventKind.IMPRESSION,
                    created_at=now, context=rec.tracking) for row in rows for rec in row.items]
    if events and (user is not None or context.session_key):
        Event.objects.bulk_create(events)

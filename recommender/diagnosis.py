"""Staff's "why is this film not in their feed?": the answer read from the feed's own
computation (:func:`serving.feed_traced`: the shopper's state, the filters and every candidate's
final score), never from a second model of it.

The checks run in the pipeline's order (for sale, personalization, the shopper's own actions, the
model, the candidates, the filters, the ranking, the re-ranking), and the first that explains
the film's absence is the answer."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Max, Q
from django.utils import timezone
from django.utils.formats import date_format

from catalog.models import Event, EventKind, Item, Review
from catalog.selectors import not_interested_events
from recommender import experiments
from recommender.algorithms.explain import VERBS, label
from recommender.audits import sample_users
from recommender.serving import ROW_SIZE, FeedContext, Recommendation, Trace, feed_traced

# the signals a "why not" names where it falls short of the feed's last card, at most this many
GAPS_SHOWN = 3
# each answer, in the order the checks run
VERDICTS = {
    "shown": "it is in the feed: position, and its card's sentence",
    "inactive": "the shop no longer sells it",
    "rated": "the shopper rated it: never recommended to them again",
    "bought": "the shopper bought it: never recommended to them again",
    "not_interested": "the shopper marked it \"not interested\" (until \"show again\")",
    "opted_out": "personalization is off: the feed is the most-rated films (rank: its place there)",
    "no_model": "no model is trained yet: the feed is the most-rated films (rank: its place there)",
    "popularity": "the experiment variant serves the popularity baseline (rank: its place there)",
    "history": "it is in the shopper's history (viewed, in the cart, saved ...): the feed leaves those out",
    "new_item": "newer than the served model: it enters a feed only through its text or its facts",
    "not_candidate": "not among the model's candidates (rank: where its score would place it among them)",
    "filtered": "a candidate, left out by the request's filters (genre, exclude)",
    "reranked": "within the feed's scores (rank), moved out by diversity, fairness or a featured film",
    "outranked": "ranked below the feed (rank, score against cutoff, and each signal's share of both)",
}


@dataclass
class Share:
    """One signal's share of a film's score and of the feed's last card's."""

    signal: str
    label: str
    item: float
    card: float


@dataclass
class Diagnosis:
    item: Item
    verdict: str  # a key of VERDICTS
    sentence: str
    position: int | None = None  # its card's place in the feed (1 = first), when it is there
    rank: int | None = None  # its place by score among the candidates, or in the most-rated order
    score: float | None = None
    cutoff: float | None = None  # the score of the feed's last card the model ranked
    # each signal's share of its score and of that card's, the furthest behind first
    compared: list[Share] = field(default_factory=list)
    card: Item | None = None  # that card's film

    @property
    def gaps(self) -> list[tuple[str, float]]:
        """The signals where it falls furthest short of that card: (label, its share minus the card's)."""
        return [(share.label, round(share.item - share.card, 2)) for share in self.compared[:GAPS_SHOWN]
                if share.item < share.card]


def _on(at: Any) -> str:
    """" on Dec. 7, 2026", or nothing when the time is not known (an action of the session the
    shopper signed in from, before they did)."""
    return f" on {date_format(timezone.localtime(at), 'DATE_FORMAT')}" if at else ""


def _popularity_rank(item: Item, *, banned: set[int]) -> int:
    """Its place in the most-rated films the shopper may be shown (the popular feed's order)."""
    ahead = Q(review_count__gt=item.review_count) | Q(review_count=item.review_count, pk__lt=item.pk)
    return Item.objects.active().filter(ahead).exclude(pk__in=banned).count() + 1


def _own_action(user: AbstractBaseUser, item: Item, verdict: str, review: Review | None) -> str:
    if verdict == "rated":
        return (f"They rated it {review.rating:g} stars{_on(review.created_at)}: a film a shopper has rated is "
                "not recommended to them again.")
    if verdict == "bought":
        at = Event.objects.filter(user=user, item=item, kind=EventKind.PURCHASE).aggregate(at=Max("created_at"))["at"]
        return f"They bought it{_on(at)}: a film a shopper has bought is not recommended to them again."
    event = not_interested_events(Event.objects.filter(user=user, item=item)).first()
    return (f"They marked it \u201cNot interested\u201d{_on(event.created_at if event else None)}: it stays out "
            "of their recommendations until they press \u201cShow again\u201d in their history.")


def _reranking(context: FeedContext, feed: list[Recommendation]) -> str:
    """What moves a feed's cards after scoring, as this request had it set."""
    parts = []
    lam = settings.RECSYS_DIVERSITY if context.diversity is None else context.diversity
    if lam < 1:
        parts.append(f"diversity (MMR, \u03bb = {lam:g}) prefers films unlike the cards above")
    strength = settings.RECSYS_FAIRNESS if context.fairness is None else context.fairness
    if strength > 0:
        parts.append(f"the fairness re-ranker (strength {strength:g}) prefers films shown less often")
    featured = sum(rec.algorithm == "promoted" for rec in feed)
    if featured:
        parts.append(f"{featured} featured film{'s' if featured > 1 else ''} took a place")
    return "; ".join(parts) or "the re-ranking placed others"


def _compared(model: Any, trace: Trace, pk: int, last: Recommendation | None) -> list[Share]:
    """Each signal's share of the film's score next to its share of the feed's ``last`` card's,
    the furthest behind first (none for an experiment's single-component arm: no shares)."""
    idx = model.index_of_pk.get(pk)
    if idx is None or last is None or last.algorithm != "hybrid":
        return []
    mine = dict(model.signal_contributions(trace.state.profile, idx))
    for signal, value in trace.extra.get(pk, {}).items():
        mine[signal] = mine.get(signal, 0.0) + value
    theirs = last.contributions
    signals = sorted((set(mine) | set(theirs)) - {"baseline"},
                     key=lambda s: (mine.get(s, 0.0) - theirs.get(s, 0.0), s))
    return [Share(s, label(s), round(mine.get(s, 0.0), 4), round(theirs.get(s, 0.0), 4)) for s in signals]


def storefront_feed(user: AbstractBaseUser) -> tuple[list[Recommendation], Trace, FeedContext]:
    """The "Recommended for you" row the storefront's home page gives ``user`` now (their
    experiment variant applied), computed afresh with its trace; nothing is recorded."""
    context = FeedContext()
    experiments.apply(context, user)
    feed, trace = feed_traced(user, k=ROW_SIZE, context=context)
    return feed, trace, context


def why_not(item: Item, *, user: AbstractBaseUser, feed: list[Recommendation], trace: Trace,
            context: FeedContext) -> Diagnosis:
    """Why ``item`` is, or is not, in ``feed``: the feed :func:`serving.feed_traced` computed
    for ``user`` with ``context``, and its ``trace``."""
    for position, rec in enumerate(feed, 1):
        if rec.item.pk == item.pk:
            return Diagnosis(item, "shown", f"It is card {position} of {len(feed)}: \u201c{rec.sentence}\u201d",
                             position=position, score=rec.score)
    state, model = trace.state, trace.model
    if not item.is_active:
        return Diagnosis(item, "inactive", "The shop no longer sells it (inactive): it is never recommended.")
    if item.pk in state.seen or item.pk in state.blocked:
        review = Review.objects.filter(user=user, item=item, is_hidden=False).first()  # read once
        verdict = "rated" if review else "bought" if item.pk not in state.blocked else "not_interested"
        return Diagnosis(item, verdict, _own_action(user, item, verdict, review))
    popular = (("opted_out", "Personalization is off for this account") if not state.personalized
               else ("no_model", "No model is trained yet") if model is None
               else ("popularity", f"Their variant of the experiment \u201c{context.experiment}\u201d serves the "
                                   "popularity baseline") if context.algorithm == "popularity" else None)
    if popular:
        rank = _popularity_rank(item, banned=state.seen | state.blocked | set(context.exclude))
        return Diagnosis(item, popular[0], f"{popular[1]}, so the feed is the most-rated films: this one is "
                                           f"#{rank} of those, and the feed shows {len(feed)}.", rank=rank)
    ranked = [rec for rec in feed if rec.algorithm != "promoted"]
    last = ranked[-1] if ranked else None
    cutoff = last.score if last else None
    idx = model.index_of_pk.get(item.pk)
    if item.pk not in trace.scores:
        if idx is not None and idx in state.anchors:
            did = VERBS.get(state.anchors[idx]["kind"], state.anchors[idx]["kind"])
            return Diagnosis(item, "history", f"It is in their history (they {did} it): their feed recommends "
                                              "films they have not acted on yet. The item pages' rows still show it.")
        if idx is None:
            return Diagnosis(item, "new_item", "It was added after the served model was trained. Until the next "
                             "training a new film reaches a feed only through its description's embedding or its "
                             "knowledge-graph facts, when they match this shopper's taste better than the films in "
                             "their feed; this time they did not.")
        score = _model_score(model, state, context, idx)
        outside = f"It is not among the {len(trace.scores)} candidates the model scored for them"
        if not np.isfinite(score):
            return Diagnosis(item, "not_candidate", f"{outside}, and the model cannot score it for them.")
        rank = sum(1 for pk in trace.passed if trace.scores[pk] > score) + 1
        found = Diagnosis(item, "not_candidate", "", rank=rank, score=score, cutoff=cutoff,
                          compared=_compared(model, trace, item.pk, last), card=last.item if last else None)
        found.sentence = (f"{outside} (the candidate generators did not propose it). Scored, it would be #{rank} "
                          f"of the {len(trace.passed)} candidates: it scores {_against(found)}")
        return found
    score = trace.scores[item.pk]
    if item.pk not in trace.passed:
        return Diagnosis(item, "filtered", "It is a candidate, but this request's filters (genre, excluded films) "
                                           "leave it out.", score=score)
    rank = sum(1 for pk in trace.passed if trace.scores[pk] > score) + 1
    if rank <= len(feed):
        return Diagnosis(item, "reranked", f"By score it is #{rank}, within the feed's {len(feed)} cards, but "
                                           f"{_reranking(context, feed)}.", rank=rank, score=score, cutoff=cutoff)
    found = Diagnosis(item, "outranked", "", rank=rank, score=score, cutoff=cutoff,
                      compared=_compared(model, trace, item.pk, last), card=last.item if last else None)
    found.sentence = (f"By score it is #{rank} of the {len(trace.passed)} candidates, and the feed shows "
                      f"{len(feed)}: it scores {_against(found)}")
    return found


def _against(found: Diagnosis) -> str:
    """"-1.23, the last card -0.89. It falls short most on ALS (-0.30)." """
    last_card = f", the last card {found.cutoff:.2f}" if found.cutoff is not None else ""
    gaps = ", ".join(f"{name} ({gap:+.2f})" for name, gap in found.gaps)
    return f"{found.score:.2f}{last_card}." + (f" It falls short most on {gaps}." if gaps else "")


def _model_score(model: Any, state: Any, context: FeedContext, idx: int) -> float:
    """The model's score of one film for the shopper, by the algorithm their feed used (NaN
    when it cannot score it)."""
    component = model.components["ease"] if context.algorithm == "ease" and "ease" in model.components else model
    return float(np.asarray(component.score(state.profile, [idx]), dtype=np.float64)[0])


# shoppers whose feeds a film's reach is read from (each a feed computation: about 60 ms on 2 cores)
REACH_SAMPLE = 40
# ... and the time it may take: a large catalogue's feed is slower (410 ms at 1M items,
# docs/BENCHMARKS.md section 9), and the page must answer well inside the web timeout (30 s)
REACH_SECONDS = 10.0


@dataclass
class Reach:
    """A film's place in the feeds of a sample of shoppers: why it is, or is not, in each."""

    item: Item
    verdicts: list[tuple[str, int]]  # (verdict, shoppers), the most common first
    median_rank: float | None  # among the shoppers who rank it below their feed or outside the candidates
    short_on: list[tuple[str, int]]  # (signal label, shoppers for whom it is the largest gap), most first
    answers: list[tuple[Any, Diagnosis]]  # (shopper, the answer for them)
    sampled: int = 0  # shoppers drawn; more than ``users`` when the time ran out first

    @property
    def users(self) -> int:
        """The shoppers asked (fewer than ``sampled`` when the time ran out)."""
        return len(self.answers)

    @property
    def shown(self) -> int:
        return dict(self.verdicts).get("shown", 0)


def reach(item: Item, *, sample: int = REACH_SAMPLE, seed: int = 0, seconds: float = REACH_SECONDS) -> Reach:
    """:func:`why_not` for ``item`` in the storefront feeds of ``sample`` shoppers, drawn as the
    audits draw theirs (accounts with 5+ visible ratings that use personalization). Past
    ``seconds`` no more feeds are computed: the shoppers asked so far make the answer."""
    verdicts: Counter[str] = Counter()
    short_on: Counter[str] = Counter()
    ranks: list[int] = []
    answers = []
    drawn = list(get_user_model().objects.filter(pk__in=sample_users(sample, seed)).order_by("pk"))
    deadline = time.monotonic() + seconds
    for user in drawn:
        if answers and time.monotonic() > deadline:
            break
        feed, trace, context = storefront_feed(user)
        found = why_not(item, user=user, feed=feed, trace=trace, context=context)
        answers.append((user, found))
        verdicts[found.verdict] += 1
        if found.verdict in ("outranked", "not_candidate") and found.rank is not None:
            ranks.append(found.rank)
        if found.gaps:
            short_on[found.gaps[0][0]] += 1
    return Reach(item, verdicts.most_common(), float(np.median(ranks)) if ranks else None,
                 short_on.most_common(GAPS_SHOWN), answers, len(drawn))

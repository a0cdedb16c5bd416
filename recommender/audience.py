"""A film's audience: the shoppers most likely to want it, for a mailing about it (the item
admin's "Shoppers for this film"). The counterpart of a feed: instead of a shopper's best films,
a film's best shoppers.

Each shopper the active model was trained on is weighed in one batched pass
(:meth:`Hybrid.item_audience`): where the film would stand in their list, and its score. The
shoppers come first by that place, then by score. Left out: who rated it, bought it or said "not
interested" (read live), staff, inactive accounts and shoppers who turned personalization off.
A film newer than the model is weighed as feeds place new films
(:meth:`Hybrid.new_item_audience`): by its text against each shopper's taste, or by the facts
(genres, year, people) it shares with their films, the better of the two; among shoppers it
would take the same place for, the closer its text to their taste, the earlier. Shoppers whose
candidates it would not enter are not listed. Each shopper's card is explained as their feed
would explain the film now, from their live history; their links carry a mailing's tracking
(``src=batch``, ``rid=<campaign>``), so the clicks count under Mailing results.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TextIO

import numpy as np
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from catalog.models import Event, EventKind, Item, Review
from catalog.selectors import not_interested_events
from recommender import serving
from recommender.models import ItemEmbedding, ModelVersion
from recommender.selectors import MAILED
from recommender.serving import FeedContext, Fresh, Recommendation, Row
from recommender.training import item_facts

# A request (the admin's page, the API) weighs at most REQUEST_SHOPPERS trained shoppers (~3 ms
# each on 2 cores) and explains at most AUDIENCE_MAX cards (~40 ms each): about 17 s, inside the
# server's 30 s timeout (docs/BENCHMARKS.md section 20). manage.py audience has no bound.
AUDIENCE_MAX = 200
REQUEST_SHOPPERS = 3000


@dataclass
class Fan:
    user: AbstractBaseUser
    rank: int  # where the film would stand in their list: 1 = first
    score: float  # the model's score of the film for them
    card: Recommendation  # the film explained as their feed would, with a tracked link


@dataclass
class Audience:
    item: Item
    version: ModelVersion | None
    fans: list[Fan] = field(default_factory=list)
    weighed: int = 0  # shoppers the model knows who do not have the film (a new film: whom it is placed for)
    left_out: int = 0  # of those: rated, bought or "not interested" since; staff, inactive or opted out
    note: str = ""  # why there is no audience
    new: bool = False  # newer than the model: placed by its content or facts, as feeds place new films

    def __iter__(self) -> Iterator[Fan]:
        return iter(self.fans)


def audience_campaign(item: Item) -> str:
    """The default campaign of a film's audience links: ``audience-<item>-<date>``."""
    return f"audience-{item.pk}-{timezone.localdate():%Y%m%d}"


def _owners(item: Item) -> set[int]:
    """Accounts that rated ``item``, bought it, or said "not interested" without taking it back."""
    on_item = Event.objects.filter(item=item, user__isnull=False)
    return (set(not_interested_events(on_item, per="user_id").values_list("user_id", flat=True))
            | set(on_item.filter(kind=EventKind.PURCHASE).values_list("user_id", flat=True))
            | set(Review.objects.filter(item=item).values_list("user_id", flat=True)))


Progress = Callable[[str, int, int], object]  # (phase: "weigh" or "explain", done now, the phase's total)


def audience(item: Item, *, limit: int = 50, campaign: str = MAILED, progress: Progress | None = None,
             most_shoppers: int | None = None) -> Audience:
    """Up to ``limit`` shoppers for ``item``, each with their card, its link tracked under
    ``campaign``; when the model knows more than ``most_shoppers`` (a request's bound), none,
    with a note saying to run ``manage.py audience``."""
    version, model = serving.active_model()
    if model is None:
        return Audience(item, None, note="No model is trained yet: manage.py train, or wait for the next training.")
    if not item.is_active:
        return Audience(item, version, note="The film is not on sale.")
    weighed = model.data.n_users
    if most_shoppers is not None and weighed > most_shoppers:
        return Audience(item, version, note=f"The model knows {weighed:,} shoppers: more than a request weighs in "
                                             f"time. Run manage.py audience {item.pk} -o audience.csv on a server.")
    weigh = None if progress is None else lambda n: progress("weigh", n, weighed)
    idx = model.index_of_pk.get(item.pk)
    if idx is None:  # newer than the model: placed as a feed places new films, by content or facts
        vector = ItemEmbedding.objects.filter(item=item).values_list("vector", flat=True).first()
        facts = item_facts([item.pk])[item.pk]
        users, ranks, scores, signals, similarities = model.new_item_audience(
            None if vector is None else np.asarray(vector), facts, k=serving.POOL, progress=weigh)
        if not len(users):
            return Audience(item, version, new=True, note=(
                f"The film is newer than the model ({version.label}), and neither its text"
                f"{'' if vector is not None else ' (not embedded yet)'} nor its facts place it among any "
                "shopper's candidates. The next training weighs it by its ratings."))
        # a place a feed gives the film ties for many; its closeness to their taste then decides
        ties = np.nan_to_num(similarities, nan=-2.0)  # without a vector: after any cosine
    else:
        users, ranks, scores = model.item_audience(idx, progress=weigh)
        ties = scores  # the film's own score orders a place's ties
    pks = [int(model.data.user_ids[u]) for u in users]
    # account pk -> the placement of a film newer than the model
    fresh: dict[int, Fresh] = {} if idx is not None else {
        pk: Fresh(float(score), signal, facts) for pk, score, signal in zip(pks, scores, signals, strict=True)}
    owners = _owners(item)
    accounts = (get_user_model().objects.filter(pk__in=[pk for pk in pks if pk not in owners], is_active=True,
                                                 is_staff=False)
                .exclude(profile__personalization_opt_out=True).in_bulk())
    order = sorted((int(rank), -float(tie), -float(score), pk)
                   for pk, rank, tie, score in zip(pks, ranks, ties, scores, strict=True) if pk in accounts)
    context = FeedContext(request_id=campaign)
    fans = []
    chosen = order[:max(limit, 0)]
    for rank, _tie, negative, pk in chosen:
        card = serving.card_for(accounts[pk], item, model, context, fresh=fresh.get(pk))
        serving.track([Row(MAILED, "", [card])], context)
        fans.append(Fan(accounts[pk], rank, -negative, card))
        if progress is not None:
            progress("explain", 1, len(chosen))
    return Audience(item, version, fans, weighed=len(pks), left_out=len(pks) - len(order), new=idx is None)


CSV_COLUMNS = ["user_id", "username", "rank", "score", "item_id", "title", "url", "signal", "reason", "campaign",
               "model_version"]


def write_csv(found: Audience, out: TextIO, *, base_url: str = "") -> None:
    """``found``'s shoppers, one row each, in order; links are ``base_url`` + the tracked path."""
    rows = csv.writer(out)
    rows.writerow(CSV_COLUMNS)
    base = base_url.rstrip("/")
    rows.writerows(
        [fan.user.pk, fan.user.get_username(), fan.rank, round(fan.score, 6), found.item.pk,
         found.item.display_title, base + fan.card.href, fan.card.source, fan.card.sentence,
         fan.card.tracking["rid"], found.version.pk if found.version else None]
        for fan in found)

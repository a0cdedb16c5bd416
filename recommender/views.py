"""Storefront pages that personalise: home feed, item page, search, and the account's data.

Views are thin: they call :mod:`recommender.serving` and log impressions of what they show.
"""

from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from catalog import selectors as catalog_selectors
from catalog import services as catalog_services
from catalog.cart import Cart, cart_total
from catalog.forms import OnboardingForm, ReviewForm, SearchForm
from catalog.models import REPORT_NOTE_MAX, EventKind, Item, ReviewReport
from catalog.views import ITEMS_PER_PAGE, _context, actor
from recommender import experiments, privacy, serving
from recommender.algorithms.explain import relation_phrase
from recommender.selectors import SearchFilters, genre_suggestions, onboarding_choices, search_items, title_suggestions
from recommender.serving import ROW_SIZE

SUGGESTIONS = 8


def _feed_context(request: HttpRequest, *, experiment: bool = False) -> serving.FeedContext:
    """The request's feed context; with ``experiment``, the running A/B test's variant applies."""
    context = serving.FeedContext(
        session_key=catalog_services.session_key_of(request.session), refine=request.GET.get("refine", "")[:200]
    )
    if experiment:
        experiments.apply(context, request.user if request.user.is_authenticated else None)
    return context


def home(request: HttpRequest) -> HttpResponse:
    context = _feed_context(request, experiment=True)
    user = request.user if request.user.is_authenticated else None
    rows = serving.home_rows(user, context, k=ROW_SIZE)
    feed = rows[0].items
    serving.impressions_log(rows=rows, user=user, context=context)
    refine = serving.refine_summary(context, feed)
    return render(request, "recommender/home.html", {
        "rows": rows, "feed_context": context, "refine": context.refine, "refine_summary": refine,
        "opted_out": bool(refine and not refine.followed) and catalog_selectors.personalization_opted_out(user=user),
    })


def item_detail(request: HttpRequest, slug: str) -> HttpResponse:
    try:
        item = catalog_selectors.item_get(slug=slug)
    except Item.DoesNotExist:
        raise Http404("No such item") from None
    user = request.user if request.user.is_authenticated else None
    click = _context(request)
    if click.get("src"):
        catalog_services.event_record(item=item, kind=EventKind.CLICK, context=click, **actor(request))
    context = _feed_context(request)
    # a reload, or the page again after rating, adding to the cart or "More like this" on it, is
    # not another view: only the first of a run of this film's page in the session is logged
    if serving.session_last_viewed(session_key=context.session_key, user=user) != item:
        catalog_services.event_record(item=item, kind=EventKind.VIEW, context=click, **actor(request))
    rows = serving.item_rows(item, user, context, k=ROW_SIZE)
    serving.impressions_log(rows=rows, user=user, context=context)
    reviews = catalog_selectors.item_reviews(item=item, viewer=user, written=True)
    mine = catalog_selectors.user_reviews(user=user).filter(item=item).first() if user else None
    histogram = catalog_selectors.item_rating_histogram(item=item)
    return render(request, "recommender/item_detail.html", {
        "item": item,
        "facts": {relation: {**fact, "label": catalog_selectors.relation_label(relation).capitalize(),
                             "phrase": relation_phrase(relation).capitalize()}
                  for relation, fact in catalog_selectors.item_facts(item=item).items()},
        "reviews": Paginator(reviews, 10).get_page(request.GET.get("page")),
        "histogram": histogram,
        "reviews_rated": sum(count for _, count, _ in histogram),  # the histogram counts the ratings
        "rows": rows,
        "feed_context": context,
        "my_review": mine,
        "prediction": serving.predicted_rating(user, item, context) if user and not mine else None,
        "review_form": ReviewForm(initial={"rating": mine.rating, "text": mine.text} if mine else None),
        "report_reasons": ReviewReport.Reason.choices,
        "report_note_max": REPORT_NOTE_MAX,
    })


def cart(request: HttpRequest) -> HttpResponse:
    """The cart, and films that go well with what is in it."""
    items = Cart.of(request).items()
    user = request.user if request.user.is_authenticated else None
    context = _feed_context(request)
    rows = serving.goes_with_rows(items, user, context, k=ROW_SIZE)
    serving.impressions_log(rows=rows, user=user, context=context)
    return render(request, "recommender/cart.html", {"items": items, "total": cart_total(items), "rows": rows,
                                                     "feed_context": context})


@login_required
def saved_list(request: HttpRequest) -> HttpResponse:
    """"My list": the films the shopper saved, the latest first, and films like the latest three."""
    page = Paginator(catalog_selectors.saved_list(user=request.user), ITEMS_PER_PAGE).get_page(request.GET.get("page"))
    context = _feed_context(request)
    rows = serving.saved_rows(request.user, context, k=ROW_SIZE)
    serving.impressions_log(rows=rows, user=request.user, context=context)
    return render(request, "recommender/saved_list.html", {"page": page, "rows": rows, "feed_context": context})


SEARCH_PAGE, SEARCH_MAX = 24, 72  # each ranking that search fuses is SEARCH_MAX long


def search(request: HttpRequest) -> HttpResponse:
    """Search by words and filters. Results come best first, SEARCH_PAGE at a time ("Show more"
    asks for the next, up to SEARCH_MAX); the matches come first, then under "Related films" what
    is only near them (``search_items``: where relevance drops); filters without words list the
    films they allow, the most reviewed first."""
    form = SearchForm(request.GET, genres=catalog_selectors.genre_list())
    errors, results, query, corrected, filtered = [], [], request.GET.get("q", ""), None, False
    matches = 0
    shown = request.GET.get("n", "")
    shown = min(max(int(shown), SEARCH_PAGE), SEARCH_MAX) if shown.isascii() and shown.isdigit() else SEARCH_PAGE
    if form.is_valid():
        data = form.cleaned_data
        filters = SearchFilters(genre=data["genre"] or None, year_min=data["year_min"], year_max=data["year_max"])
        filtered = not data["q"].strip() and filters != SearchFilters()
        if filtered:
            results = list(catalog_selectors.item_sort(filters.apply(Item.objects.active()), "popular")[:shown])
            matches = len(results)
        else:
            try:
                outcome = search_items(query=data["q"], k=shown, filters=filters, pool=SEARCH_MAX)
            except ValidationError as exc:
                errors = exc.messages
            else:
                results, corrected = [item for item, _ in outcome.results], outcome.corrected
                matches = outcome.matches
    else:
        errors = form.messages()
    more = None
    if len(results) == shown < SEARCH_MAX:
        more = request.GET.copy()
        more["n"] = str(shown + SEARCH_PAGE)
    return render(request, "recommender/search.html", {
        "form": form, "query": query, "results": results[:matches], "related": results[matches:],
        "errors": errors, "corrected": corrected,
        "filtered": filtered, "more": more.urlencode() if more else None,
    })


@login_required
def onboarding(request: HttpRequest) -> HttpResponse:
    interests = catalog_services.profile_get(user=request.user).interests
    items = onboarding_choices(interests=interests)
    form = OnboardingForm(request.POST or None, choices=[(str(item.pk), item.display_title) for item in items])
    if request.method == "POST" and "skip" in request.POST:
        catalog_services.profile_update(user=request.user, onboarded=True)
        return redirect("home")
    if request.method == "POST" and form.is_valid():
        picked = Item.objects.filter(pk__in=[int(pk) for pk in form.cleaned_data["picks"]])
        catalog_services.onboarding_complete(user=request.user, items=list(picked))
        messages.success(request, f"Thanks! Your feed now starts from your {len(picked)} picks.")
        return redirect("home")
    return render(request, "recommender/onboarding.html", {"form": form, "items": items, "interests": interests})


def search_suggest(request: HttpRequest) -> HttpResponse:
    """The search box's suggestions as the shopper types (an htmx fragment: links to items)."""
    query = request.GET.get("q", "")
    try:
        items, genres = title_suggestions(prefix=query, k=SUGGESTIONS), genre_suggestions(prefix=query)
    except ValidationError:  # too long to be typed: no suggestions
        items, genres = [], []
    return render(request, "recommender/_suggestions.html", {"items": items, "genres": genres, "query": query})


@login_required
def account_export(request: HttpRequest) -> HttpResponse:
    data = privacy.user_export(user=request.user)
    response = HttpResponse(json.dumps(data, indent=2), content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="recsite-{request.user.get_username()}.json"'
    return response


@login_required
@require_POST
def account_delete(request: HttpRequest) -> HttpResponse:
    if request.POST.get("confirm", "").strip() != request.user.get_username():
        messages.error(request, "Type your username exactly to confirm deleting your account.")
        return redirect("profile")
    privacy.user_erase(user=request.user, session_keys=[request.session.session_key or ""])
    logout(request)
    messages.success(request, "Your account and everything derived from it were deleted.")
    return redirect("home")

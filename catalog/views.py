"""Storefront pages: thin views over selectors and services."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from catalog import selectors
from catalog.models import Item

ITEMS_PER_PAGE = 24


def home(request: HttpRequest) -> HttpResponse:
    genre = request.GET.get("genre") or None
    paginator = Paginator(selectors.item_list(genre=genre).order_by("-review_count", "title"), ITEMS_PER_PAGE)
    page = paginator.get_page(request.GET.get("page"))
    return render(request, "catalog/home.html", {"page": page, "genre": genre, "genres": selectors.genre_list()})


def item_detail(request: HttpRequest, slug: str) -> HttpResponse:
    try:
        item = selectors.item_get(slug=slug)
    except Item.DoesNotExist:
        raise Http404("No such item") from None
    reviews = selectors.item_reviews(item=item)
    context = {
        "item": item,
        "reviews": Paginator(reviews, 20).get_page(request.GET.get("page")),
        "facts": selectors.item_facts(item=item),
    }
    return render(request, "catalog/item_detail.html", context)

"""The project's admin site: Django's, with the recommender's state on its index page."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.core.exceptions import BadRequest
from django.db import DataError, transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse

# A year lookup in a changelist's query string ("created_at__year=2026", "...__year__gte=..."):
# Django turns its value into datetime bounds, and a year outside 1..9999 raised a ValueError (a
# 500) when the list was counted.
YEAR_LOOKUP = re.compile(r"__(?:iso_)?year(?:__(?:exact|gt|gte|lt|lte))?$")


def _year_out_of_range(value: str) -> bool:
    try:
        return not 1 <= int(value) <= 9999
    except ValueError:  # not a number: the changelist says "invalid filter" by itself
        return False


class RecsiteAdminSite(admin.AdminSite):
    site_header = "recsite administration"
    site_title = "recsite admin"
    index_template = "admin/recsite_index.html"

    def login(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        """Django's, with the storefront's budget of password attempts (``catalog.throttling``):
        over it, back to the login page with a message, the password not checked."""
        from catalog.throttling import password_attempt_wait, refuse_message

        if request.method == "POST" and (wait := password_attempt_wait(request)) is not None:
            refuse_message(request, wait)
            return HttpResponseRedirect(request.get_full_path())
        return super().login(request, extra_context)

    def index(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> TemplateResponse:
        from recommender.status import system_status

        return super().index(request, {"status": system_status(), **(extra_context or {})})

    def admin_view(self, view: Callable[..., HttpResponse], cacheable: bool = False) -> Callable[..., HttpResponse]:
        """Every admin page, refusing with a 400 what a changelist's hand-made filters would
        turn into a 500: a NUL character in the query string (PostgreSQL cannot store it in
        text), a year outside 1..9999, a value PostgreSQL refuses for its field (DataError)."""
        protected = super().admin_view(view, cacheable)

        @wraps(protected)  # its admin_site attribute too
        def inner(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if any("\x00" in key or "\x00" in value for key, values in request.GET.lists() for value in values):
                raise BadRequest("The query string contains a NUL character.")
            if any(YEAR_LOOKUP.search(key) and _year_out_of_range(value)
                   for key, values in request.GET.lists() for value in values):
                raise BadRequest("A year in the query string is outside 1 to 9999.")
            if request.method != "GET" or not request.GET:
                return protected(request, *args, **kwargs)
            try:  # in a savepoint: a query PostgreSQL refused leaves an enclosing transaction usable
                with transaction.atomic():
                    return protected(request, *args, **kwargs)
            except DataError as exc:  # a hand-made filter PostgreSQL refuses ("title__regex=(")
                raise BadRequest("A filter in the query string is not valid for its field.") from exc

        return inner


class RecsiteAdminConfig(AdminConfig):
    default_site = "recsite.admin_site.RecsiteAdminSite"

"""The project's admin site: Django's, with the recommender's state on its index page."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.core.exceptions import BadRequest
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse


class RecsiteAdminSite(admin.AdminSite):
    site_header = "recsite administration"
    site_title = "recsite admin"
    index_template = "admin/recsite_index.html"

    def index(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> TemplateResponse:
        from recommender.status import system_status

        return super().index(request, {"status": system_status(), **(extra_context or {})})

    def admin_view(self, view: Callable[..., HttpResponse], cacheable: bool = False) -> Callable[..., HttpResponse]:
        """Every admin page, refusing a NUL character in its query string with a 400: the
        changelists' filters pass it to PostgreSQL, which cannot store it in text (a 500)."""
        protected = super().admin_view(view, cacheable)

        @wraps(protected)  # its admin_site attribute too
        def inner(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if any("\x00" in key or "\x00" in value for key, values in request.GET.lists() for value in values):
                raise BadRequest("The query string contains a NUL character.")
            return protected(request, *args, **kwargs)

        return inner


class RecsiteAdminConfig(AdminConfig):
    default_site = "recsite.admin_site.RecsiteAdminSite"

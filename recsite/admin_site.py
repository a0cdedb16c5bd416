"""The project's admin site: Django's, with the recommender's state on its index page."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.http import HttpRequest
from django.template.response import TemplateResponse


class RecsiteAdminSite(admin.AdminSite):
    site_header = "recsite administration"
    site_title = "recsite admin"
    index_template = "admin/recsite_index.html"

    def index(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> TemplateResponse:
        from recommender.status import system_status

        return super().index(request, {"status": system_status(), **(extra_context or {})})


class RecsiteAdminConfig(AdminConfig):
    default_site = "recsite.admin_site.RecsiteAdminSite"

"""Personalization routes; ``recsite.api_urls`` mounts them under /api/.

The recommendation endpoints (``/api/recommendations/``, ``/api/items/{id}/similar/``) are
added here: the first as a path below, the second as an ``@action`` on ``views.ItemViewSet``.
"""

from __future__ import annotations

from django.urls import path
from rest_framework.routers import SimpleRouter

from recommender.api import views


def register(router: SimpleRouter) -> None:
    router.register("items", views.ItemViewSet, basename="item")


urlpatterns = [
    path("search/", views.SearchView.as_view(), name="api-search"),
    path("me/", views.MeView.as_view(), name="api-me"),
    path("me/export/", views.MeExportView.as_view(), name="api-me-export"),
]

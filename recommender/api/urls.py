"""Personalization routes; ``recsite.api_urls`` mounts them under /api/.

``/api/recommendations/`` is a path below; ``/api/items/{id}/similar/`` an ``@action`` on
``views.ItemViewSet``.
"""

from __future__ import annotations

from django.urls import path
from rest_framework.routers import SimpleRouter

from recommender.api import views


def register(router: SimpleRouter) -> None:
    router.register("items", views.ItemViewSet, basename="item")
    router.register("exports", views.ExportViewSet, basename="export")


urlpatterns = [
    path("recommendations/", views.RecommendationsView.as_view(), name="api-recommendations"),
    path("recommendations/why-not/", views.WhyNotView.as_view(), name="api-recommendations-why-not"),
    path("home/", views.HomeView.as_view(), name="api-home"),
    path("cart/suggestions/", views.CartSuggestionsView.as_view(), name="api-cart-suggestions"),
    path("search/", views.SearchView.as_view(), name="api-search"),
    path("search/suggest/", views.SuggestView.as_view(), name="api-search-suggest"),
    path("auth/signup/", views.SignupView.as_view(), name="api-signup"),
    path("auth/password-reset/", views.PasswordResetView.as_view(), name="api-password-reset"),
    path("me/", views.MeView.as_view(), name="api-me"),
    path("me/onboarding/", views.MeOnboardingView.as_view(), name="api-me-onboarding"),
    path("me/export/", views.MeExportView.as_view(), name="api-me-export"),
    path("me/password/", views.MePasswordView.as_view(), name="api-me-password"),
    path("me/token/", views.MeTokenView.as_view(), name="api-me-token"),
    path("me/list/", views.MeListView.as_view(), name="api-me-list"),
    path("me/list/suggestions/", views.MeListSuggestionsView.as_view(), name="api-me-list-suggestions"),
    path("me/list/<str:item_id>/", views.MeListItemView.as_view(), name="api-me-list-item"),
    path("me/history/", views.MeHistoryView.as_view(), name="api-me-history"),
    path("me/history/<str:item_id>/", views.MeHistoryItemView.as_view(), name="api-me-history-item"),
]

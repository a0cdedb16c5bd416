"""Catalog routes; ``recsite.api_urls`` mounts them under /api/."""

from __future__ import annotations

from django.urls import path
from rest_framework.routers import SimpleRouter

from catalog.api import views


def register(router: SimpleRouter) -> None:
    """Viewsets of the catalog. ``items`` is registered by ``recommender.api`` (it adds search)."""
    router.register("categories", views.CategoryViewSet, basename="category")
    router.register("reviews", views.ReviewViewSet, basename="review")


urlpatterns = [
    path("events/", views.EventBatchView.as_view(), name="api-events"),
    path("cart/", views.CartView.as_view(), name="api-cart"),
    path("cart/checkout/", views.CheckoutView.as_view(), name="api-cart-checkout"),
    # digits only: /api/cart/suggestions/ is recommender.api's
    path("cart/<int:item_id>/", views.CartItemView.as_view(), name="api-cart-item"),
    path("auth/token/", views.TokenView.as_view(), name="api-token"),
]

"""The REST API under /api/: routes are collected here from catalog.api and recommender.api.

Each app's ``api/urls.py`` offers ``register(router)`` for its viewsets and ``urlpatterns`` for
plain views; recommendation endpoints join through ``recommender.api.urls``.
"""

from django.http import HttpRequest, JsonResponse
from django.urls import include, path, re_path, resolve
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.routers import SimpleRouter

from catalog.api import urls as catalog_api
from catalog.api.base import json_400
from recommender.api import urls as recommender_api
from recsite.api_errors import error_body

router = SimpleRouter()
catalog_api.register(router)
recommender_api.register(router)


NOT_FOUND = "api-not-found"


@csrf_exempt
def not_found(request: HttpRequest, path: str = "") -> JsonResponse:
    """Unknown /api/ URLs answer in the API's error format, not with an HTML page. Every endpoint
    ends with a slash, and this view (not Django's APPEND_SLASH redirect, which could not keep a
    POST's body) answers ``/api/items``: it names the URL meant."""
    message = "No such API endpoint."
    if not request.path_info.endswith("/"):
        meant = resolve(f"{request.path_info}/", getattr(request, "urlconf", None))
        if meant.url_name != NOT_FOUND:
            message += f" API URLs end with a slash: {request.path}/"
    return JsonResponse(error_body(404, "not_found", message), status=404)


urlpatterns = [
    path("schema/", json_400(SpectacularAPIView).as_view(), name="api-schema"),
    path("docs/", json_400(SpectacularSwaggerView).as_view(url_name="api-schema"), name="api-docs"),
    path("redoc/", json_400(SpectacularRedocView).as_view(url_name="api-schema"), name="api-redoc"),
    path("", include(catalog_api.urlpatterns)),
    path("", include(recommender_api.urlpatterns)),
    path("", include(router.urls)),
    re_path(r"^(?P<path>.*)$", not_found, name=NOT_FOUND),
]

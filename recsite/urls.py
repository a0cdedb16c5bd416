from django.contrib import admin
from django.urls import include, path

from recsite import health

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("api/", include("recsite.api_urls")),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("recommender.urls")),
    path("", include("catalog.urls")),
]

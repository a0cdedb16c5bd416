from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("recsite.api_urls")),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("recommender.urls")),
    path("", include("catalog.urls")),
]

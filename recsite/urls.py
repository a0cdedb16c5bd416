from django.contrib import admin
from django.urls import include, path

from catalog import views as catalog_views
from recsite import health, metrics

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics, name="metrics"),
    path("admin/", admin.site.urls),
    path("api/", include("recsite.api_urls")),
    # Django's auth views, but those taking a password or mailing a link are throttled (catalog.throttling)
    path("accounts/login/", catalog_views.LoginView.as_view(), name="login"),
    path("accounts/password_change/", catalog_views.PasswordChangeView.as_view(), name="password_change"),
    path("accounts/password_reset/", catalog_views.PasswordResetView.as_view(), name="password_reset"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("recommender.urls")),
    path("", include("catalog.urls")),
]

# Django's 400s (DEBUG off) under /api/ in the API's error format: a query string with too many
# parameters or an oversized body that fails outside the API's own views (which answer it
# themselves, DEBUG on or off: ``catalog.api.base.ApiMixin.handle_exception``).
handler400 = "catalog.api.base.bad_request"

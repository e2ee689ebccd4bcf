"""Salesteam settings: one file, behaviour chosen by environment variables.

With no environment at all the app runs on SQLite, the filesystem Celery broker and a local-memory
cache (see README). Production sets DATABASE_URL, REDIS_URL, SECRET_KEY, DEBUG=0 and ALLOWED_HOSTS.
"""

from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from salesteam.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEV_SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production"
DEBUG = env_bool("DEBUG", True)
SECRET_KEY = env_str("SECRET_KEY", DEV_SECRET_KEY)
if not DEBUG and SECRET_KEY == DEV_SECRET_KEY:
    raise ImproperlyConfigured("Set SECRET_KEY: the development key is refused when DEBUG is off.")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "django_celery_beat",
    "simple_history",
    "axes",
    "salesteam",
    "kpis",
    "goals",
    "incentives",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "salesteam.middleware.RequestScopeCacheMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "salesteam.middleware.ContentSecurityPolicyMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "salesteam.urls"
WSGI_APPLICATION = "salesteam.wsgi.application"
AUTH_USER_MODEL = "salesteam.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "salesteam.context_processors.salesteam",
                "goals.context_processors.notifications",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------------------------------
_sqlite_path = VAR_DIR / "salesteam.sqlite3"
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{_sqlite_path}"),
        conn_max_age=env_int("CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A busy timeout lets web, worker and beat share the file; IMMEDIATE avoids lock upgrades.
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    DATABASES["default"]["CONN_MAX_AGE"] = 0
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
IS_POSTGRES = DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"

# --- Cache --------------------------------------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL", "")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Auth ---------------------------------------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AXES_ENABLED = env_bool("AXES_ENABLED", True)
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 10)
AXES_COOLOFF_TIME = 0.25  # hours: fifteen minutes
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]

# --- Internationalisation -----------------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("nl", _("Dutch"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env_str("TIME_ZONE", "Europe/Brussels")
USE_I18N = True
USE_TZ = True
USE_THOUSAND_SEPARATOR = True

# --- Static files -------------------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "salesteam" / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
MEDIA_ROOT = VAR_DIR / "media"
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# --- Security (production values follow from DEBUG=0) -------------------------------------------------
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SESSION_COOKIE_HTTPONLY = True
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = 0 if DEBUG else env_int("SECURE_HSTS_SECONDS", 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# --- E-mail -------------------------------------------------------------------------------------------
EMAIL_HOST = env_str("EMAIL_HOST", "")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = env_int("EMAIL_PORT", 587)
    EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Salesteam <noreply@salesteam.local>")

# --- Salesteam ----------------------------------------------------------------------------------------
REPORTING_CURRENCY = env_str("REPORTING_CURRENCY", "EUR")
# Files with more rows than this are imported by a Celery task with a progress bar.
IMPORT_ASYNC_THRESHOLD = env_int("IMPORT_ASYNC_THRESHOLD", 5000)
IMPORT_BATCH_SIZE = env_int("IMPORT_BATCH_SIZE", 2000)
# A queued or running import without progress for this long is sent again by the import sweeper.
IMPORT_STALE_SECONDS = env_int("IMPORT_STALE_SECONDS", 5 * 60)

# --- REST framework -----------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "salesteam.api.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Salesteam API",
    "DESCRIPTION": "Deals, customers, campaigns, teams, KPIs, goals and incentives.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # A user's role and a plan's participating roles are the same choices: one enum in the schema.
    "ENUM_NAME_OVERRIDES": {"RoleEnum": "salesteam.models.Role"},
}

# --- Celery -------------------------------------------------------------------------------------------
_broker_dir = VAR_DIR / "broker"
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    # A message taken by a worker that died unacknowledged goes back to the queue after this many seconds
    # (acks_late); it must stay above the longest task's run time, or a running task is delivered twice.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600)}
else:
    for sub in ("queue", "processed", "control"):
        (_broker_dir / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 15 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 14 * 60
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Every periodic job, in one place. django-celery-beat copies these into its tables, where admins
# can edit them.
CELERY_BEAT_SCHEDULE: dict = {
    "kpis-nightly-run": {
        "task": "kpis.tasks.nightly_run",
        "schedule": crontab(minute=0, hour=2),  # 02:00 every day, in TIME_ZONE
    },
    "imports-sweep": {
        "task": "salesteam.tasks.sweep_imports",
        "schedule": crontab(),  # every minute: resume imports whose worker went quiet
    },
    "kpis-sweep": {
        "task": "kpis.tasks.sweep",
        "schedule": crontab(),  # every minute: re-enqueue KPI shards whose heartbeat went stale
    },
    "goals-refresh-changed": {
        "task": "goals.tasks.refresh_changed",
        "schedule": crontab(),  # every minute: refresh goals whose owner's deals changed
    },
    "goals-remind-waiting": {
        "task": "goals.tasks.remind_waiting",
        "schedule": crontab(minute=0, hour=8),  # 08:00 every day: goals waiting more than two days
    },
}
# Long lists (an admin's deals) count at most this many rows for their pager; past it they say "more than".
LIST_COUNT_CAP = 10_000
# Apps that add their own demo data after `manage.py seed_demo` built the core data, in this order;
# each is called as seed(reset=...).
DEMO_SEEDERS: list[str] = ["goals.demo.seed", "incentives.demo.seed"]
# What needs someone's attention today, listed at the top of the dashboard: functions called as
# items(user=...) that return {"text", "url", "tone"} dicts.
DASHBOARD_AGENDA: list[str] = ["goals.agenda.items", "incentives.agenda.items"]
# The KPI sweeper takes over a shard whose heartbeat is older than this (a lost message, a killed worker),
# and plans a run still unplanned after KPI_PLAN_STALE_SECONDS.
KPI_SHARD_STALE_SECONDS = env_int("KPI_SHARD_STALE_SECONDS", 6 * 60)
KPI_PLAN_STALE_SECONDS = env_int("KPI_PLAN_STALE_SECONDS", 10 * 60)
# A shard still without a result after this many attempts (transient errors that do not go away, a
# worker killed each time) fails its run, so that the next run is not refused forever.
KPI_SHARD_MAX_ATTEMPTS = env_int("KPI_SHARD_MAX_ATTEMPTS", 8)
# The follow-ups of the latest published run are sent again when they have not all finished this long
# after they were sent (lost with a Redis restart or a killed worker); they are idempotent.
KPI_FOLLOW_UP_STALE_SECONDS = env_int("KPI_FOLLOW_UP_STALE_SECONDS", 30 * 60)
# An incremental run applies the changed customers' differences (kpis.changes) up to this many changed
# customers, and recomputes everything beyond (a large import, say). It looks for changes from a little
# before the last successful run started, for a deal saved before but committed after that moment.
KPI_CHANGES_MAX_CUSTOMERS = env_int("KPI_CHANGES_MAX_CUSTOMERS", 10_000)
KPI_CHANGES_MARGIN_SECONDS = env_int("KPI_CHANGES_MARGIN_SECONDS", 10 * 60)
# Where the KPI engine finds the approved bonus cost that net margin subtracts (a module with
# costs(start=, end=) and days_changed_since(since)); empty for none.
KPI_BONUS_COSTS = "incentives.kpi_costs"
# A run that recomputes periods has a shard per group of scope types, each over all of the run's years
# (reading every deal once): the reps' rows take about as long as all the other scope types together,
# so two workers share a run evenly. The first group's shard of a full run also rewrites the customers'
# first wins (a second on a million deals). Each scope type must be in exactly one group; with more
# workers, more groups finish sooner (every group reads the deals once more).
KPI_SHARD_SCOPE_GROUPS: list[list[str]] = [
    ["rep"],
    ["company", "team", "segment", "category", "campaign", "touch_point"],
]
# Tasks run, with the run id, when a KPI run has been published: in this order, each after the one before
# has finished (a Celery chain), since recognition and bonuses read the goal states the first one refreshes.
KPI_RUN_FOLLOW_UP_TASKS: list[str] = [
    "goals.tasks.refresh_after_kpi_run",
    "incentives.tasks.after_kpi_run",
    "incentives.tasks.evaluate_after_kpi_run",  # bonus awards of the open periods
]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

"""Gongzhi settings: one file, every deployment difference comes from the environment.

DATABASE_URL unset → an SQLite file under var/ (WAL, IMMEDIATE transactions, busy timeout), the
zero-setup county install. Set it to postgres://… for a city or province.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

import dj_database_url
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("GONGZHI_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _secret_key() -> str:
    """SECRET_KEY from the environment, else one generated once and kept in var/.

    A fixed default key in the source would let anyone forge sessions on a careless install.
    """
    key = os.environ.get("SECRET_KEY")
    if key:
        return key
    path = VAR_DIR / "secret_key"
    try:
        # O_EXCL: of several processes starting at once exactly one writes the key; 0600 from the start.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(50))
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = [h for h in os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o]
SITE_NAME = os.environ.get("SITE_NAME", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "axes",
    "ninja",  # serves Swagger UI from its own static files: county intranets have no CDN
    "django_htmx",
    "core",
    "org",
    "accounts",
    "api",
    "notify",
    "catalog",
    "triage",
    "workorders",
    "sos",
    "points",
    "volunteers",
    "partylink",
    "notices",
    "deliberation",
    "mediation",
    "privacy",
    "integrations",
    "dashboards",
    "demo",
]

MIDDLEWARE = [
    "core.metrics.MetricsMiddleware",  # outermost: times every middleware below (GET /metrics)
    "core.middleware.ContentSecurityPolicyMiddleware",
    "core.middleware.ApiErrorShapeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "core.ratelimit.RateLimitMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",  # request.htmx: pages answer htmx requests with a fragment
    # Last, so that it sees the authenticated user when it locks out repeated failures.
    "axes.middleware.AxesMiddleware",
    # Sync-only and last on purpose. Under ASGI, Django runs every async-capable middleware below the
    # last sync-only one in async mode, hopping threads for each of them on every request; with a
    # sync-only middleware last, the whole chain runs in one thread (measured: GET /api/v1/me 59 → 83
    # requests/s on one process). It has nothing to protect above it: none of them reads the query string.
    "core.middleware.RejectNulMiddleware",
]

ROOT_URLCONF = "gongzhi.urls"
WSGI_APPLICATION = "gongzhi.wsgi.application"
ASGI_APPLICATION = "gongzhi.asgi.application"

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
                "django.template.context_processors.i18n",
                "gongzhi.context.site",
                "dashboards.context.nav",
                "org.context.nav",
                "mediation.context.nav",
                "notify.context.inbox",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
SQLITE_PATH = VAR_DIR / "gongzhi.sqlite3"
DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=0)}
    if DATABASES["default"]["ENGINE"].endswith("postgresql"):
        # Under ASGI a persistent connection per request thread leaks connections until PostgreSQL
        # refuses new clients; a pool per process bounds them (Django's supported setup since 5.1).
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": int(os.environ.get("DB_POOL_MIN_SIZE", 1)),
            "max_size": int(os.environ.get("DB_POOL_MAX_SIZE", 8)),
            "timeout": float(os.environ.get("DB_POOL_TIMEOUT", 10)),
        }
        # One test database per test process, as for SQLite below: two runs on one server must not
        # drop each other's database.
        DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME']}_{os.getpid()}"}
else:
    DATABASES = {
        "default": {
            # Django's backend, with one process's writers queueing on a lock (core/sqlite/base.py).
            "ENGINE": "core.sqlite",
            "NAME": str(SQLITE_PATH),
            "CONN_MAX_AGE": int(os.environ.get("SQLITE_CONN_MAX_AGE", 0)),
            "OPTIONS": {
                # IMMEDIATE: a write transaction takes the write lock at BEGIN, so two writers queue
                # on the busy timeout instead of one failing with "database is locked" mid-way.
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": (
                    "PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL;PRAGMA foreign_keys=ON;PRAGMA cache_size=-32000;"
                ),
            },
        }
    }
if "sqlite" in DATABASES["default"]["ENGINE"]:
    # A file, not :memory:, so that threads and a live server share the test database; one per process
    # so that two test runs on one machine do not trample each other.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

# --- Auth -----------------------------------------------------------------------------------
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "accounts:login"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = int(os.environ.get("SESSION_COOKIE_AGE", 12 * 3600))
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

# Login throttling: five failures for one username from one address lock that pair for 15 minutes.
AXES_FAILURE_LIMIT = int(os.environ.get("AXES_FAILURE_LIMIT", 5))
AXES_COOLOFF_TIME = float(os.environ.get("AXES_COOLOFF_HOURS", 0.25))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "accounts.lockout.lockout_response"
AXES_VERBOSE = False
# Further failures while locked do not extend the lock: otherwise anyone could keep a user out forever.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
# Behind a reverse proxy every request comes from the proxy's address; name how many trusted proxies
# append to X-Forwarded-For so that lockouts key on the real client, not on everyone at once.
TRUSTED_PROXY_COUNT = int(os.environ.get("TRUSTED_PROXY_COUNT", 0))
AXES_CLIENT_IP_CALLABLE = "accounts.lockout.client_ip"
AXES_ENABLE_ACCESS_FAILURE_LOG = False

# --- I18n / time ----------------------------------------------------------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = "Asia/Shanghai"
USE_TZ = True

# --- Static ---------------------------------------------------------------------------------
STATIC_URL = "/static/"
STATICFILES_DIRS: list = [BASE_DIR / "static"]
# htmx comes from npm (package-lock.json) into the ignored node_modules/, never from a CDN. Without it
# (no npm on the machine) the pages work as plain forms and links.
HTMX_DIST = BASE_DIR / "node_modules" / "htmx.org" / "dist"
if HTMX_DIST.is_dir():
    STATICFILES_DIRS.append(("vendor/htmx", HTMX_DIST))
# Charts and the map, the same way (package.json): without them the dashboards show their tables.
for _name, _dist in (("echarts", "echarts/dist"), ("leaflet", "leaflet/dist")):
    if (BASE_DIR / "node_modules" / _dist).is_dir():
        STATICFILES_DIRS.append((f"vendor/{_name}", BASE_DIR / "node_modules" / _dist))
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)  # whitenoise warns on every request when it is missing
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
MEDIA_ROOT = VAR_DIR / "media"
MEDIA_URL = "/media/"

# Django's cache: rate-limit counters (core.ratelimit). Local memory counts per process; with several
# processes point it at a shared cache (django.core.cache.backends.redis.RedisCache). Room for a county's
# users in one window: the default 300 entries would forget counters under load.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "OPTIONS": {"MAX_ENTRIES": 100_000, "CULL_FREQUENCY": 10},
    }
}

# Content-Security-Policy of every answer (core.middleware.ContentSecurityPolicyMiddleware); "" sends none.
CONTENT_SECURITY_POLICY = os.environ.get(
    "CONTENT_SECURITY_POLICY",
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; font-src 'self'; "
    # blob: media: a voice message recorded in the page is played back from memory before it is sent.
    "media-src 'self' blob:; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'",
)
CONTENT_SECURITY_POLICY_DOCS = CONTENT_SECURITY_POLICY.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")

# Request bodies: anything larger is refused with 413 before a view sees it.
DATA_UPLOAD_MAX_MEMORY_SIZE = int(os.environ.get("DATA_UPLOAD_MAX_MEMORY_SIZE", 1024 * 1024))

# --- Gongzhi --------------------------------------------------------------------------------
GONGZHI: dict[str, Any] = {
    "API_PAGE_SIZE_MAX": 100,
    "API_PAGE_MAX": 10_000,
    "API_COUNT_CAP": 10_000,  # API lists count this far, then say count_exact=false (core.schemas.paginate)
    "TOKEN_MAX_PER_USER": 20,
    # An API token made without an expiry date expires after this many days.
    "TOKEN_DEFAULT_DAYS": int(os.environ.get("GONGZHI_TOKEN_DEFAULT_DAYS", "90")),
    # Rate limits (core.ratelimit): (how many, per how many seconds) for each action and whom it counts.
    # `user`/`staff` are counted in the services, `address`/`username` before the view; 429 past them.
    "RATE_LIMITS": {
        # "exchange": a hotline system's account (integrations), a backstop against a runaway loop.
        "intake": {"user": (10, 600), "staff": (300, 600), "address": (300, 600), "exchange": (200_000, 600)},
        "sos": {"user": (3, 600), "staff": (60, 600), "address": (60, 600)},
        "login": {"address": (30, 300), "username": (10, 300)},
    },
    # Multiplies every limit above (a load test sets it high; 0.5 halves them all).
    "RATE_LIMIT_FACTOR": float(os.environ.get("GONGZHI_RATE_LIMIT_FACTOR", "1")),
    # The posts counted per address (and per username for logins): view name → action.
    "RATE_LIMITED_VIEWS": {
        "api:submit": "intake",
        "workorders:new": "intake",
        "api:raise_call": "sos",
        "sos:raise": "sos",
        "sos:raise_for": "sos",
        "api:token_login": "login",
        "accounts:login": "login",
        "admin:login": "login",
    },
    # A longer address (path and query string, in characters) is refused with 414 before any view runs.
    "URL_MAX": int(os.environ.get("GONGZHI_URL_MAX", "4096")),
    # Server processes keep the catalogue, dispatch rules, grid centres and users' scopes in memory and
    # look this often (seconds) whether another process changed them (core.memo).
    "MEMO_CHECK_SECONDS": float(os.environ.get("GONGZHI_MEMO_CHECK_SECONDS", "1")),
    # Working-time windows on working days (Asia/Shanghai), for deadlines counted in working hours.
    "WORK_HOURS": [("08:30", "12:00"), ("14:30", "17:30")],
    "WORKORDERS": {
        # A point further than this from every grid's centre is outside the area served.
        "LOCATE_MAX_KM": int(os.environ.get("GONGZHI_LOCATE_MAX_KM", "5")),
        # Residents rate within this many working days; after it, the order closes as not rated.
        "RATE_WITHIN_WORKING_DAYS": int(os.environ.get("GONGZHI_RATE_WITHIN_DAYS", "5")),
        # A reopened order (重办) must be put right within this many working days.
        "RECTIFY_WORKING_DAYS": int(os.environ.get("GONGZHI_RECTIFY_DAYS", "5")),
        # Duplicate suggestions: open orders of the same category this near and this recent.
        "DUPLICATE_RADIUS_M": int(os.environ.get("GONGZHI_DUPLICATE_RADIUS_M", "300")),
        "DUPLICATE_WINDOW_DAYS": int(os.environ.get("GONGZHI_DUPLICATE_WINDOW_DAYS", "14")),
        "PHOTO_MAX_BYTES": int(os.environ.get("GONGZHI_PHOTO_MAX_BYTES", str(8 * 1024 * 1024))),
        # Photos with more pixels (width × height) are refused from their header, before decoding.
        "PHOTO_MAX_PIXELS": int(os.environ.get("GONGZHI_PHOTO_MAX_PIXELS", "40000000")),
        "PHOTO_MAX_COUNT": 9,
        "PHOTO_MAX_SIDE": 2560,
        # Voice messages (语音留言) left with an appeal: 60 s of speech is ~0.3–1 MB in Opus or AAC.
        "VOICE_MAX_BYTES": int(os.environ.get("GONGZHI_VOICE_MAX_BYTES", str(2 * 1024 * 1024))),
        "VOICE_MAX_SECONDS": int(os.environ.get("GONGZHI_VOICE_MAX_SECONDS", "60")),
        "VOICE_MAX_COUNT": 1,
    },
    "SOS": {
        # Seconds each rung of the responder chain has to acknowledge before the next one is alerted.
        "ACK_SECONDS": {
            "emergency": int(os.environ.get("GONGZHI_SOS_ACK_SECONDS", "60")),
            "service": int(os.environ.get("GONGZHI_SOS_SERVICE_ACK_SECONDS", "600")),
        },
        # Seconds the village has, after the chain, before the command centre is alerted.
        "VILLAGE_SECONDS": {
            "emergency": int(os.environ.get("GONGZHI_SOS_VILLAGE_SECONDS", "120")),
            "service": int(os.environ.get("GONGZHI_SOS_SERVICE_VILLAGE_SECONDS", "1800")),
        },
        # A caller may take a press back within this many seconds (a pocket press).
        "CANCEL_SECONDS": int(os.environ.get("GONGZHI_SOS_CANCEL_SECONDS", "10")),
        # Which calls family contacts hear of by SMS: "emergency", "all" or "none".
        "NOTIFY_FAMILY": os.environ.get("GONGZHI_SOS_NOTIFY_FAMILY", "emergency"),
        # Emergencies get a follow-up visit the next day at this local time.
        "FOLLOWUP_AT": os.environ.get("GONGZHI_SOS_FOLLOWUP_AT", "09:00"),
    },
    "POINTS": {
        # Points expire this many months after they were received (0: never), oldest first.
        "EXPIRE_MONTHS": int(os.environ.get("GONGZHI_POINTS_EXPIRE_MONTHS", "24")),
        # Goods reserved online are held this many days; then the reservation lapses (points and stock back).
        "PICKUP_DAYS": int(os.environ.get("GONGZHI_POINTS_PICKUP_DAYS", "7")),
    },
    "DASHBOARD": {
        # Map tiles for the command-centre map, e.g. "https://tile.example.gov.cn/{z}/{x}/{y}.png". Empty
        # (the default): no tiles, the grids are drawn on a plain background (county intranets have no
        # internet).
        "MAP_TILE_URL": os.environ.get("GONGZHI_MAP_TILE_URL", ""),
        "MAP_ATTRIBUTION": os.environ.get("GONGZHI_MAP_ATTRIBUTION", ""),
        # Seconds between refreshes of the board.
        "BOARD_REFRESH_SECONDS": int(os.environ.get("GONGZHI_BOARD_REFRESH_SECONDS", "30")),
    },
    "PARTY": {
        # Each linked household is visited this many times a period (month or quarter), unless its village
        # has a plan of its own (the visit plans page).
        "VISITS": int(os.environ.get("GONGZHI_PARTY_VISITS", "1")),
        "PERIOD": os.environ.get("GONGZHI_PARTY_PERIOD", "month"),
        # The most households one party member looks after (一联十户: about ten).
        "MAX_HOUSEHOLDS": int(os.environ.get("GONGZHI_PARTY_MAX_HOUSEHOLDS", "15")),
        # The category of a work order made from a need when the visitor names none (the dispatcher refines it).
        "ORDER_CATEGORY": os.environ.get("GONGZHI_PARTY_ORDER_CATEGORY", "990101"),
    },
    "MEDIATION": {
        # Calendar days from acceptance to settle a dispute (人民调解: 30); a limit ending on a day off ends on the
        # next working day. Warned this many days before; an extension adds at most MAX_EXTENSION_DAYS at a time.
        "LIMIT_DAYS": int(os.environ.get("GONGZHI_MEDIATION_LIMIT_DAYS", "30")),
        "WARN_DAYS": int(os.environ.get("GONGZHI_MEDIATION_WARN_DAYS", "5")),
        "MAX_EXTENSION_DAYS": int(os.environ.get("GONGZHI_MEDIATION_MAX_EXTENSION_DAYS", "30")),
        # Follow-up visits this many days after an agreement is signed, to check it is kept.
        "FOLLOW_UP_DAYS": [
            int(d) for d in os.environ.get("GONGZHI_MEDIATION_FOLLOW_UP_DAYS", "30,90").split(",") if d.strip()
        ],
    },
    # Open311 GeoReport v2 (integrations.open311): the jurisdiction this server answers for (empty: any
    # jurisdiction_id is accepted, as a server of one jurisdiction may), and what discovery tells clients.
    "OPEN311": {
        "JURISDICTION_ID": os.environ.get("GONGZHI_OPEN311_JURISDICTION_ID", ""),
        "CONTACT": os.environ.get("GONGZHI_OPEN311_CONTACT", ""),
        "KEY_SERVICE": os.environ.get("GONGZHI_OPEN311_KEY_SERVICE", ""),
    },
    # 12345 hotline exchange (integrations): pushed orders larger than this are refused (413); a file import
    # gives up listing refused rows after MAX_ERRORS of them (it still counts them).
    "HOTLINE": {
        "MAX_PUSH_BYTES": int(os.environ.get("GONGZHI_HOTLINE_MAX_PUSH_BYTES", "65536")),
        "MAX_FILE_MB": int(os.environ.get("GONGZHI_HOTLINE_MAX_FILE_MB", "200")),
        "MAX_ERRORS": 5000,
        "CHUNK": 200,
    },
    "VOLUNTEERS": {
        # Volunteers may check themselves in with the activity's code this long before it starts.
        "CHECKIN_EARLY_MINUTES": int(os.environ.get("GONGZHI_CHECKIN_EARLY_MINUTES", "30")),
    },
    # The rollup workers (run_rollups) split the changed orders into this many shards by id; a worker folds
    # one shard at a time, so up to this many workers fold side by side (PostgreSQL; SQLite folds one at a time).
    "ROLLUP_SHARDS": int(os.environ.get("GONGZHI_ROLLUP_SHARDS", "8")),
    # Smart dispatch (triage, workorders.services.routing): the text model trained by `dispatch_train`.
    "TRIAGE": {
        # Auto-dispatch (自动派单) an appeal when the model is at least this sure of both its category and its
        # unit, in categories marked "auto-dispatch" in the catalogue. Empty (the default): never.
        "AUTO_DISPATCH_AT": float(os.environ["GONGZHI_AUTO_DISPATCH_AT"])
        if os.environ.get("GONGZHI_AUTO_DISPATCH_AT")
        else None,
        # The model's unit is suggested instead of the dispatch rules' when it is at least this sure.
        "SUGGEST_UNIT_AT": float(os.environ.get("GONGZHI_SUGGEST_UNIT_AT", "0.6")),
        # A guess less sure than this of a third-level category goes up a level (the sum over its siblings)
        # until one is this sure: 民政 at 70 % rather than 高龄津贴 at 12 %.
        "BACKOFF_AT": float(os.environ.get("GONGZHI_BACKOFF_AT", "0.5")),
        # dispatch_train learns from at most this many of the newest decided appeals, and needs this many.
        "TRAIN_MAX_ORDERS": int(os.environ.get("GONGZHI_TRAIN_MAX_ORDERS", "200000")),
        "TRAIN_MIN_ORDERS": 50,
        # Hot topics (未诉先办): appeals of the last WINDOW_DAYS are grouped; a group with HOUSEHOLDS different
        # reporters within DAYS days is rising, and is flagged to the grid and town.
        "HOT_WINDOW_DAYS": int(os.environ.get("GONGZHI_HOT_WINDOW_DAYS", "14")),
        # Two appeals this far apart count as half as near (triage.similar.place_factor).
        "HOT_RADIUS_M": int(os.environ.get("GONGZHI_HOT_RADIUS_M", "500")),
        "HOT_HOUSEHOLDS": int(os.environ.get("GONGZHI_HOT_HOUSEHOLDS", "5")),
        "HOT_DAYS": int(os.environ.get("GONGZHI_HOT_DAYS", "3")),
        # run_rollups rebuilds the hot topics this often.
        "HOT_SCAN_SECONDS": int(os.environ.get("GONGZHI_HOT_SCAN_SECONDS", "300")),
    },
    # Webhooks to other systems (notify.webhooks, sent by run_webhooks).
    "WEBHOOKS": {
        # Seconds one POST may take (connecting, then the answer); at most 64 KiB of an answer is read.
        "TIMEOUT": float(os.environ.get("GONGZHI_WEBHOOKS_TIMEOUT", "10")),
        # Attempts of one delivery before it is given up (a manager may send it again).
        "MAX_ATTEMPTS": int(os.environ.get("GONGZHI_WEBHOOKS_MAX_ATTEMPTS", "10")),
        # The wait after a failed attempt: this many seconds, doubled after each failure, at most the maximum.
        "BACKOFF_SECONDS": float(os.environ.get("GONGZHI_WEBHOOKS_BACKOFF_SECONDS", "30")),
        "BACKOFF_MAX_SECONDS": float(os.environ.get("GONGZHI_WEBHOOKS_BACKOFF_MAX_SECONDS", str(6 * 3600))),
        # A subscription whose attempts fail this many times in a row is turned off and its managers told.
        "DISABLE_AFTER": int(os.environ.get("GONGZHI_WEBHOOKS_DISABLE_AFTER", "20")),
        # A worker's claim on a delivery (at least twice the timeout): one killed mid-send leaves it to the next.
        "LEASE_SECONDS": float(os.environ.get("GONGZHI_WEBHOOKS_LEASE_SECONDS", "60")),
        # After a secret is rotated the old one signs too (a second signature) for this many hours.
        "ROTATION_GRACE_HOURS": float(os.environ.get("GONGZHI_WEBHOOKS_ROTATION_GRACE_HOURS", "24")),
    },
}
NOTIFY_GATEWAY = os.environ.get("GONGZHI_NOTIFY_GATEWAY", "notify.gateways.LoggingGateway")
# notify.gateways.HttpGateway (NOTIFY_GATEWAY="notify.gateways.HttpGateway"): SMS handed to a county's SMS
# platform, or a bridge to WeChat template messages, as a JSON POST signed with the secret (core.signing).
NOTIFY_HTTP_GATEWAY = {
    "URL": os.environ.get("GONGZHI_SMS_HTTP_URL", ""),
    "SECRET": os.environ.get("GONGZHI_SMS_HTTP_SECRET", ""),
    "TIMEOUT": float(os.environ.get("GONGZHI_SMS_HTTP_TIMEOUT", "10")),
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # The level on the handler too: records that Django's own loggers pass up to the root are not
    # checked against the root's level, only against its handlers'.
    "handlers": {"console": {"class": "logging.StreamHandler", "level": os.environ.get("LOG_LEVEL", "WARNING")}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
}

SITE_TITLE = _("Gongzhi grassroots governance")

# --- The web server (`manage.py serve`, gongzhi/asgi.py) -------------------------------------------------
# Processes of the server (one per core is right: each runs Python under its own lock), and threads per
# process for the sync views (a request waiting on the database lets another run).
WEB_WORKERS = int(os.environ.get("GONGZHI_WEB_WORKERS", str(min(os.cpu_count() or 1, 4))))
WEB_THREADS = int(os.environ.get("GONGZHI_WEB_THREADS", "2"))

# --- Metrics (core/metrics.py, GET /metrics) -----------------------------------------------------------
# With a token, a scrape must bear it (Authorization: Bearer …); without one, only this machine may scrape,
# directly. The domain's numbers come from these functions (each app's metrics.py).
METRICS_TOKEN = os.environ.get("GONGZHI_METRICS_TOKEN", "")
METRICS_PROBES = [
    "core.health.samples",
    "workorders.metrics.samples",
    "sos.metrics.samples",
    "notify.metrics.samples",
    "dashboards.metrics.samples",
]

# --- Workers' heartbeats and `manage.py serve` (core/worker.py, core/health.py, core/management/commands/serve.py)
# The worker commands `manage.py serve` starts beside the server, restarts when they die, and GET /health
# and the workers table expect to hear from. Name only those that run (e.g. under systemd) where this
# /health is asked.
WORKER_COMMANDS = [
    w.strip()
    for w in os.environ.get(
        "GONGZHI_WORKERS",
        "run_deadlines,run_outbox,run_sos,run_points,run_rollups,run_mediation,run_webhooks,run_imports",
    ).split(",")
    if w.strip()
]
# Due rows a worker claims at once (core.worker.claim_batch): on PostgreSQL FOR UPDATE SKIP LOCKED, so several
# workers of one kind share a midnight's thousands of deadlines without racing for the same rows.
WORKER_BATCH = int(os.environ.get("GONGZHI_WORKER_BATCH", "100"))
# How far each worker steps back from the web processes for the CPU (os.nice, once when it starts): a midnight's
# thousands of deadlines are flagged with what the residents' requests leave over. run_sos is never lowered: an
# elderly person's call climbs its ladder on time. GONGZHI_WORKER_NICE=0 keeps every worker at the server's level.
_NICE = {"run_deadlines": 5, "run_outbox": 5, "run_webhooks": 5, "run_mediation": 5, "run_points": 10}
WORKER_NICE = {} if os.environ.get("GONGZHI_WORKER_NICE") == "0" else {**_NICE, "run_rollups": 10, "run_imports": 10}
# Personal data (privacy app): work orders closed this many years ago lose their residents' personal fields
# (manage.py privacy_retention, nightly); 0: never.
PERSONAL_DATA_RETENTION_YEARS = int(os.environ.get("GONGZHI_PERSONAL_DATA_RETENTION_YEARS", "0"))
# Days each growing log is kept (privacy/retention.py, the same nightly command); 0: for ever.
RETENTION_DAYS = {
    "messages": int(os.environ.get("GONGZHI_KEEP_MESSAGES_DAYS", "0")),
    "call_events": int(os.environ.get("GONGZHI_KEEP_CALL_EVENTS_DAYS", "0")),
    "webhook_attempts": int(os.environ.get("GONGZHI_KEEP_WEBHOOK_ATTEMPTS_DAYS", "0")),
    "access_log": int(os.environ.get("GONGZHI_KEEP_ACCESS_LOG_DAYS", "0")),
}
# A running worker writes its heartbeat at most this often (seconds), and at least every idle sleep.
WORKER_HEARTBEAT_SECONDS = float(os.environ.get("GONGZHI_WORKER_HEARTBEAT_SECONDS", "5"))
# A worker is late when its last beat is older than this many intervals (the longer of the heartbeat
# period and its idle sleep), and taken for dead after WORKER_DEAD_AFTER.
WORKER_LATE_AFTER = float(os.environ.get("GONGZHI_WORKER_LATE_AFTER", "3"))
WORKER_DEAD_AFTER = float(os.environ.get("GONGZHI_WORKER_DEAD_AFTER", "10"))
# `gongzhi_workers` for templates/core/_workers.html, queried only where that table is shown.
_template_options = TEMPLATES[0]["OPTIONS"]
if isinstance(_template_options, dict):  # it is; the check tells mypy
    _template_options["context_processors"].append("core.health.workers_context")

"""Settings shared by every environment; each value can be overridden from the environment.

Environment variables (all optional for the demo):
- CANTEEN_DATABASE_URL: sqlite:///path or postgres://user:pass@host:port/name
- CANTEEN_SECRET_KEY, CANTEEN_DEBUG, CANTEEN_ALLOWED_HOSTS (comma separated)
- CANTEEN_FACE_KEY: base64 key (32 bytes) for face templates at rest
- CANTEEN_DATA_DIR: where uploads, recordings and the SQLite file live
- CANTEEN_CONN_MAX_AGE (PostgreSQL, seconds, default 60); CANTEEN_DB_SERVER_BINDING (PostgreSQL,
  default on: parameters bound on the server); CANTEEN_DB_PREPARE_THRESHOLD (PostgreSQL, default
  5: a statement run that often on a connection is prepared; "off" never prepares)
- CANTEEN_LEDGER_DB_FUNCTIONS (PostgreSQL, default on: meal charges as one ledger_meal_charge call)
- CANTEEN_CHECKOUT_DB_FUNCTION (PostgreSQL, default on: a checkout as one consumption_checkout call;
  it also needs CANTEEN_LEDGER_DB_FUNCTIONS)
- CANTEEN_REDIS_URL: redis://host:6379/0 for a cache shared by all processes (production);
  unset, each process caches in its own memory
- CANTEEN_WEB_GC (the web process, read by canteen/wsgi.py): the garbage collector's thresholds,
  default "20000,20,20" with what was loaded at start frozen; "off" keeps Python's own
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote, urlparse

BASE_DIR = Path(__file__).resolve().parent.parent
PROJECT_DIR = BASE_DIR.parent
DATA_DIR = Path(os.environ.get("CANTEEN_DATA_DIR", PROJECT_DIR / "var"))


def _prepare_threshold() -> int | None:
    """psycopg prepares a statement after this many runs on a connection; "off" never."""
    value = os.environ.get("CANTEEN_DB_PREPARE_THRESHOLD", "5").strip().lower()
    return None if value in {"off", "none", ""} else int(value)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def database_from_url(url: str) -> dict:
    """Parse a database URL; small enough not to need a dependency."""
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        path = unquote(parsed.path)
        if path.startswith("//"):  # sqlite:////abs/path
            path = path[1:]
        elif path.startswith("/"):
            path = path[1:] if not Path(path).is_absolute() else path
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": path or str(DATA_DIR / "canteen.sqlite3"),
            # WAL lets the menu board and the window terminals read while a checkout writes;
            # IMMEDIATE takes the write lock up front so two writers queue instead of failing.
            "OPTIONS": {
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
            },
        }
    if parsed.scheme in {"postgres", "postgresql"}:
        return {
            # Django's backend with a health check that needs no round trip (core/postgresql).
            "ENGINE": "canteen.core.postgresql",
            "NAME": unquote(parsed.path.lstrip("/")) or "canteen",
            "USER": unquote(parsed.username or "postgres"),
            "PASSWORD": unquote(parsed.password or ""),
            "HOST": unquote(parsed.hostname or "127.0.0.1"),  # %2Fvar%2Frun%2Fpostgresql: a socket
            "PORT": str(parsed.port or 5432),
            "CONN_MAX_AGE": int(os.environ.get("CANTEEN_CONN_MAX_AGE", "60")),
            "CONN_HEALTH_CHECKS": True,
            # Parameters go to the server apart from the SQL text, and psycopg prepares a
            # statement the fifth time a connection runs it: no quoting of every value in Python,
            # no parsing and planning of the same checkout statements again and again. Django
            # leaves psycopg's prepare_threshold off unless it is given here. A statement of
            # several commands must use a client-side cursor (canteen.core.db.client_cursor).
            # Behind a pooler in transaction mode, prepared statements need PgBouncer 1.21 or
            # later with max_prepared_statements, or CANTEEN_DB_PREPARE_THRESHOLD=off.
            "OPTIONS": {
                "server_side_binding": env_bool("CANTEEN_DB_SERVER_BINDING", True),
                "prepare_threshold": _prepare_threshold(),
            },
            "TEST": {"NAME": os.environ.get("CANTEEN_TEST_DB_NAME") or None},
        }
    raise ValueError(f"Unsupported database URL scheme: {parsed.scheme!r}")


SECRET_KEY = os.environ.get("CANTEEN_SECRET_KEY", "insecure-demo-key-change-me-" + "x" * 40)
DEBUG = env_bool("CANTEEN_DEBUG", False)
ALLOWED_HOSTS = env_list("CANTEEN_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    # Domains, in dependency order: later apps may call earlier apps' services.
    "canteen.core",
    "canteen.org",
    "canteen.ledger",
    "canteen.procurement",
    "canteen.trace",
    "canteen.meals",
    "canteen.identity",
    "canteen.consumption",
    "canteen.kitchen",
    "canteen.supervision",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "canteen.core.middleware.RequestIdMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "canteen.urls"
WSGI_APPLICATION = "canteen.wsgi.application"
ASGI_APPLICATION = "canteen.asgi.application"

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
                "canteen.core.context_processors.navigation",
            ],
            "builtins": ["canteen.core.templatetags.bilingual"],
        },
    },
]

DATABASES = {
    "default": database_from_url(os.environ.get("CANTEEN_DATABASE_URL", f"sqlite:///{DATA_DIR / 'canteen.sqlite3'}"))
}


def cache_from_url(url: str) -> dict:
    """The default cache: Redis when a URL is given (every web process and the worker then share
    rate limits, scan counts and cached pages), else each process's own memory (the demo)."""
    if url:
        return {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": url,
                "KEY_PREFIX": "canteen",
            }
        }
    return {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


CACHES = cache_from_url(os.environ.get("CANTEEN_REDIS_URL", ""))

# Meal charges as one call of the ledger_meal_charge function (PostgreSQL); off = the Python path.
CANTEEN_LEDGER_DB_FUNCTIONS = env_bool("CANTEEN_LEDGER_DB_FUNCTIONS", True)
CANTEEN_CHECKOUT_DB_FUNCTION = env_bool("CANTEEN_CHECKOUT_DB_FUNCTION", True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "org.User"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Front-end libraries come from npm (package.json) and are served locally: no CDN is reachable
# from a school network, nor from this machine.
NODE_MODULES = PROJECT_DIR / "node_modules"
if NODE_MODULES.exists():
    STATICFILES_DIRS.append(("vendor", NODE_MODULES))
MEDIA_URL = "/media/"
MEDIA_ROOT = DATA_DIR / "media"

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "canteen.core.api.exception_handler",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "数字食堂 Digital Canteen API",
    "DESCRIPTION": "District school-canteen platform: procurement, consumption, finance, kitchen, supervision.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI served from the sidecar package: no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Several domains name a field "status", "kind" or "source" with different choices: give each
    # choice set its business name instead of a hash suffix.
    "ENUM_NAME_OVERRIDES": {
        "MealKindEnum": "canteen.meals.choices.SessionKind",
        "CaseStatusEnum": "canteen.supervision.choices.CaseStatus",
        "CaseSourceEnum": "canteen.supervision.choices.CaseSource",
        "InspectionItemResultEnum": "canteen.supervision.choices.ItemResult",
        "FeedbackKindEnum": "canteen.supervision.choices.FeedbackKind",
    },
}

# Face templates are encrypted at rest with this key (AES-GCM). Production must set it.
FACE_TEMPLATE_KEY = os.environ.get("CANTEEN_FACE_KEY", "ZGVtby1vbmx5LWZhY2Uta2V5LTMyLWJ5dGVzLWxvbmchIQ==")

# Idempotency records are kept at least this long (the issue asks for 24 h at least).
IDEMPOTENCY_TTL_HOURS = int(os.environ.get("CANTEEN_IDEMPOTENCY_TTL_HOURS", "48"))

CHROMIUM_PATH = os.environ.get("CANTEEN_CHROMIUM", "/usr/bin/chromium")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("CANTEEN_LOG_LEVEL", "INFO")},
}

# Ledger: online payment providers (issue 29). Which providers take top-ups, in order of
# preference; "demo" (an in-process provider that moves no real money) is refused by production
# (CANTEEN_DEMO_PAYMENTS = False there, and `check --deploy` fails with ledger.E001).
CANTEEN_PAYMENT_PROVIDERS = env_list("CANTEEN_PAYMENT_PROVIDERS", "demo")
CANTEEN_DEMO_PAYMENTS = env_bool("CANTEEN_DEMO_PAYMENTS", True)
# Where providers call back (the public https origin of this site), and the providers' gateways
# (their public API hosts unless a test points them at a local server).
CANTEEN_PAYMENT_NOTIFY_BASE = os.environ.get("CANTEEN_PAYMENT_NOTIFY_BASE", "http://localhost:8000")
CANTEEN_WECHATPAY_BASE_URL = os.environ.get("CANTEEN_WECHATPAY_BASE_URL", "https://api.mch.weixin.qq.com")
CANTEEN_ALIPAY_GATEWAY = os.environ.get("CANTEEN_ALIPAY_GATEWAY", "https://openapi.alipay.com/gateway.do")
# Merchant keys and certificates: files under this directory (one folder per merchant's
# credentials_ref) or CANTEEN_PAY_<REF>_<NAME> environment variables; never in the database.
CANTEEN_PAYMENT_KEYS_DIR = os.environ.get("CANTEEN_PAYMENT_KEYS_DIR", str(DATA_DIR / "payment-keys"))
# A notification whose timestamp is further than this from our clock is refused (replays).
CANTEEN_PAYMENT_CLOCK_SKEW_S = int(os.environ.get("CANTEEN_PAYMENT_CLOCK_SKEW_S", "300"))
# An unpaid order is closed at the provider after this many minutes.
CANTEEN_PAYMENT_ORDER_EXPIRY_MIN = int(os.environ.get("CANTEEN_PAYMENT_ORDER_EXPIRY_MIN", "30"))
# WeChat Official Account web authorization (binding a guardian's openid; issue 29).
CANTEEN_WECHAT_OPEN_BASE = os.environ.get("CANTEEN_WECHAT_OPEN_BASE", "https://open.weixin.qq.com")
CANTEEN_WECHAT_API_BASE = os.environ.get("CANTEEN_WECHAT_API_BASE", "https://api.weixin.qq.com")

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

import json
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
    "canteen.schoolcalendar",  # issue 22: terms, vacations, holidays; ledger grants by it
    "canteen.ledger",
    "canteen.procurement",
    "canteen.trace",
    "canteen.meals",
    "canteen.identity",
    "canteen.consumption",
    "canteen.kitchen",
    "canteen.supervision",
    "canteen.notify",
    "canteen.ops",  # issue 26: backups, restore drills, metrics
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
                "canteen.notify.context_processors.unread",
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
# i18n (issue 23): the catalogs generated from the code's bilingual texts (manage.py i18n_catalogs),
# compiled by scripts/setup.sh; canteen.core.i18n.tr falls back to the code's text without them.
LOCALE_PATHS = [BASE_DIR / "locale"]
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
        "CalendarEntryKindEnum": "canteen.schoolcalendar.choices.EntryKind",
        "SubsidyProgrammeKindEnum": "canteen.ledger.choices.ProgrammeKind",
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

# ---------------------------------------------------------------------------------------------
# Hardened edges (core): hostile input, one API pagination policy, client addresses.
# CANTEEN_TRUSTED_PROXIES: addresses or CIDR networks of our own reverse proxies, comma separated;
#   only the X-Forwarded-For entries they appended are believed (rate limits, login lockout).
#   Empty (default): the header is ignored and the socket's peer address is the client.
# CANTEEN_API_MAX_PAGE_SIZE: the largest ?limit= of any API list (default 200).
# CANTEEN_MAX_BODY_BYTES / CANTEEN_MAX_UPLOAD_BYTES: request bodies (default 2.5 MB) and multipart
#   uploads (default 25 MB) above this are refused with 413 before anything reads them.
# CANTEEN_MAX_JSON_DEPTH: JSON nested deeper is refused with 400 before parsing (default 32).
# CANTEEN_MAX_IMAGE_PIXELS: an uploaded image with more pixels is refused (default 40 megapixels).
CANTEEN_TRUSTED_PROXIES = env_list("CANTEEN_TRUSTED_PROXIES")
CANTEEN_API_MAX_PAGE_SIZE = int(os.environ.get("CANTEEN_API_MAX_PAGE_SIZE", "200"))
REST_FRAMEWORK["DEFAULT_PAGINATION_CLASS"] = "canteen.core.pagination.CanteenPagination"
CANTEEN_MAX_BODY_BYTES = int(os.environ.get("CANTEEN_MAX_BODY_BYTES", str(2_621_440)))
CANTEEN_MAX_UPLOAD_BYTES = int(os.environ.get("CANTEEN_MAX_UPLOAD_BYTES", str(25 * 1024 * 1024)))
CANTEEN_MAX_JSON_DEPTH = int(os.environ.get("CANTEEN_MAX_JSON_DEPTH", "32"))
CANTEEN_MAX_IMAGE_PIXELS = int(os.environ.get("CANTEEN_MAX_IMAGE_PIXELS", "40000000"))
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1, "canteen.core.guards.HostileInputMiddleware"
)

# ---------------------------------------------------------------------------------------------
# Account security (canteen.accounts): login lockout, second factor, API tokens, sessions, CSP.
# CANTEEN_LOGIN_FAILURE_LIMIT (default 5) wrong passwords lock the account AND the client
#   address (CANTEEN_TRUSTED_PROXIES decides the address) for CANTEEN_LOGIN_LOCKOUT_MINUTES (15).
# CANTEEN_OTP_REQUIRED (default on): TOTP for CANTEEN_OTP_REQUIRED_ROLES and operator accounts.
# CANTEEN_API_TOKEN_TTL_HOURS (default 720 = 30 days), CANTEEN_API_TOKENS_PER_USER (default 10).
# CANTEEN_SESSION_IDLE_SECONDS (default 1800): a session idle that long ends; at most
#   CANTEEN_SESSION_MAX_SECONDS (default 12 h) in all.
# CANTEEN_PASSWORD_MIN_LENGTH (default 10).
from datetime import timedelta as _timedelta  # noqa: E402

from csp.constants import NONCE as _CSP_NONCE  # noqa: E402
from csp.constants import NONE as _CSP_NONE  # noqa: E402
from csp.constants import SELF as _CSP_SELF  # noqa: E402
from csp.constants import UNSAFE_INLINE as _CSP_UNSAFE_INLINE  # noqa: E402

INSTALLED_APPS += ["axes", "django_otp", "django_otp.plugins.otp_totp", "csp", "canteen.accounts"]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses while locked out, counts failures
    "django.contrib.auth.backends.ModelBackend",
]
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.contrib.auth.middleware.AuthenticationMiddleware") + 1,
    "django_otp.middleware.OTPMiddleware",
)
MIDDLEWARE.insert(
    MIDDLEWARE.index("django_otp.middleware.OTPMiddleware") + 1, "canteen.accounts.middleware.IdleTimeoutMiddleware"
)
MIDDLEWARE.insert(
    MIDDLEWARE.index("canteen.accounts.middleware.IdleTimeoutMiddleware") + 1,
    "canteen.accounts.middleware.OtpRequiredMiddleware",
)
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1, "canteen.accounts.middleware.CSPMiddleware"
)
MIDDLEWARE.append("axes.middleware.AxesMiddleware")  # last, as django-axes requires

AXES_FAILURE_LIMIT = int(os.environ.get("CANTEEN_LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = _timedelta(minutes=int(os.environ.get("CANTEEN_LOGIN_LOCKOUT_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # either one over the limit locks
AXES_CLIENT_IP_CALLABLE = "canteen.core.clientip.client_ip"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "canteen.accounts.views.lockout_response"
AXES_VERBOSE = False

CANTEEN_OTP_REQUIRED = env_bool("CANTEEN_OTP_REQUIRED", True)
CANTEEN_OTP_REQUIRED_ROLES = env_list(
    "CANTEEN_OTP_REQUIRED_ROLES", "city_regulator,district_regulator,school_admin,canteen_manager"
)
OTP_TOTP_ISSUER = "数字食堂 Digital Canteen"

CANTEEN_API_TOKEN_TTL_HOURS = int(os.environ.get("CANTEEN_API_TOKEN_TTL_HOURS", "720"))
CANTEEN_API_TOKENS_PER_USER = int(os.environ.get("CANTEEN_API_TOKENS_PER_USER", "10"))
REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"] = [
    "rest_framework.authentication.SessionAuthentication",
    "canteen.accounts.authentication.ExpiringTokenAuthentication",
]

CANTEEN_SESSION_IDLE_SECONDS = int(os.environ.get("CANTEEN_SESSION_IDLE_SECONDS", "1800"))
SESSION_COOKIE_AGE = int(os.environ.get("CANTEEN_SESSION_MAX_SECONDS", str(12 * 3600)))

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": int(os.environ.get("CANTEEN_PASSWORD_MIN_LENGTH", "10"))},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Scripts only from our own origin or with the per-response nonce (inline <script nonce=...>);
# no inline event handlers. Styles may stay inline (style="" attributes in the templates).
# hls.js plays the kitchen video through blob: URLs and a blob: worker.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [_CSP_SELF],
        "script-src": [_CSP_SELF, _CSP_NONCE],
        "style-src": [_CSP_SELF, _CSP_UNSAFE_INLINE],
        "img-src": [_CSP_SELF, "data:", "blob:"],
        "media-src": [_CSP_SELF, "blob:"],
        "worker-src": [_CSP_SELF, "blob:"],
        "connect-src": [_CSP_SELF],
        "font-src": [_CSP_SELF, "data:"],
        "object-src": [_CSP_NONE],
        "base-uri": [_CSP_SELF],
        "form-action": [_CSP_SELF],
        "frame-ancestors": [_CSP_NONE],
    }
}

# The schema lists every error status and body an operation can answer with (canteen.core.schema).
SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"] = [
    "drf_spectacular.hooks.postprocess_schema_enums",
    "canteen.core.schema.add_error_responses",
]

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

# Consumption (window terminals' safety, 2026-12-08): the longest a web request may run before
# the server process is killed (gunicorn --timeout, `canteen web`). Terminals are told it: a
# checkout they gave up is only taken for "never arrived" once this much more time has passed.
CANTEEN_WEB_TIMEOUT = int(os.environ.get("CANTEEN_WEB_TIMEOUT", "30"))

# Traceability (canteen.trace): GS1 Digital Link and EPCIS 2.0.
# The host that resolves the GS1 Digital Link URIs printed on labels and named in EPCIS exports
# (`<resolver>/01/<GTIN>/10/<lot>`): the district's public trace host. `check --deploy` refuses
# the default, which resolves nowhere.
CANTEEN_GS1_RESOLVER_DEFAULT = "https://canteen.local"
CANTEEN_GS1_RESOLVER = os.environ.get("CANTEEN_GS1_RESOLVER", CANTEEN_GS1_RESOLVER_DEFAULT).rstrip("/")
# The official GS1 EPCIS 2.0 JSON schema (gs1/EPCIS, not shipped by any package registry): every
# import is validated against it with format checks on. Unset: looked for in `shared/standards/`
# beside or above the checkout.
CANTEEN_EPCIS_SCHEMA = os.environ.get("CANTEEN_EPCIS_SCHEMA", "")
# The largest EPCIS document accepted by import and capture, checked before the body is read.
CANTEEN_EPCIS_MAX_BYTES = int(os.environ.get("CANTEEN_EPCIS_MAX_BYTES", str(8 * 1024 * 1024)))
# Paths whose views enforce their own body limit before reading it (core.guards leaves their body
# alone; the NUL check of path and query still applies): the EPCIS capture API and import page.
CANTEEN_OWN_BODY_LIMITS = ["/api/v1/trace/epcis", "/trace/epcis/import/"]

# Notifications (canteen.notify). A channel whose credentials are missing is off and says so on
# /notify/status/. Base URLs are the providers' own; tests point them at local servers.
CANTEEN_SITE_URL = os.environ.get("CANTEEN_SITE_URL", "")
CANTEEN_NOTIFY_HTTP_TIMEOUT = float(os.environ.get("CANTEEN_NOTIFY_HTTP_TIMEOUT", "5"))
CANTEEN_NOTIFY_MAX_ATTEMPTS = int(os.environ.get("CANTEEN_NOTIFY_MAX_ATTEMPTS", "6"))
CANTEEN_NOTIFY_BACKOFF_SECONDS = float(os.environ.get("CANTEEN_NOTIFY_BACKOFF_SECONDS", "30"))
CANTEEN_NOTIFY_THREADS = int(os.environ.get("CANTEEN_NOTIFY_THREADS", "8"))
CANTEEN_NOTIFY_EMAIL_HOST = os.environ.get("CANTEEN_NOTIFY_EMAIL_HOST", "")
CANTEEN_NOTIFY_EMAIL_PORT = int(os.environ.get("CANTEEN_NOTIFY_EMAIL_PORT", "25"))
CANTEEN_NOTIFY_EMAIL_USER = os.environ.get("CANTEEN_NOTIFY_EMAIL_USER", "")
CANTEEN_NOTIFY_EMAIL_PASSWORD = os.environ.get("CANTEEN_NOTIFY_EMAIL_PASSWORD", "")
CANTEEN_NOTIFY_EMAIL_TLS = env_bool("CANTEEN_NOTIFY_EMAIL_TLS", False)
CANTEEN_NOTIFY_EMAIL_FROM = os.environ.get("CANTEEN_NOTIFY_EMAIL_FROM", "")
CANTEEN_NOTIFY_WECOM_URL = os.environ.get("CANTEEN_NOTIFY_WECOM_URL", "https://qyapi.weixin.qq.com")
CANTEEN_NOTIFY_WECHAT_URL = os.environ.get("CANTEEN_NOTIFY_WECHAT_URL", "https://api.weixin.qq.com")
CANTEEN_NOTIFY_WECHAT_APPID = os.environ.get("CANTEEN_NOTIFY_WECHAT_APPID", "")
CANTEEN_NOTIFY_WECHAT_SECRET = os.environ.get("CANTEEN_NOTIFY_WECHAT_SECRET", "")
# The account's server "Token": signs WeChat's pushes to /notify/wechat/callback/ (receipts).
CANTEEN_NOTIFY_WECHAT_TOKEN = os.environ.get("CANTEEN_NOTIFY_WECHAT_TOKEN", "")
# One template id for every kind, or a JSON object {"kind": "template id"}.
CANTEEN_NOTIFY_WECHAT_TEMPLATE = os.environ.get("CANTEEN_NOTIFY_WECHAT_TEMPLATE", "")
CANTEEN_NOTIFY_WECHAT_TEMPLATES = json.loads(os.environ.get("CANTEEN_NOTIFY_WECHAT_TEMPLATES", "{}"))
CANTEEN_NOTIFY_SMS_URL = os.environ.get("CANTEEN_NOTIFY_SMS_URL", "https://dysmsapi.aliyuncs.com")
CANTEEN_NOTIFY_SMS_REGION = os.environ.get("CANTEEN_NOTIFY_SMS_REGION", "cn-hangzhou")
CANTEEN_NOTIFY_SMS_ACCESS_KEY_ID = os.environ.get("CANTEEN_NOTIFY_SMS_ACCESS_KEY_ID", "")
CANTEEN_NOTIFY_SMS_ACCESS_KEY_SECRET = os.environ.get("CANTEEN_NOTIFY_SMS_ACCESS_KEY_SECRET", "")
CANTEEN_NOTIFY_SMS_SIGN_NAME = os.environ.get("CANTEEN_NOTIFY_SMS_SIGN_NAME", "")
CANTEEN_NOTIFY_SMS_TEMPLATE = os.environ.get("CANTEEN_NOTIFY_SMS_TEMPLATE", "")
CANTEEN_NOTIFY_SMS_TEMPLATES = json.loads(os.environ.get("CANTEEN_NOTIFY_SMS_TEMPLATES", "{}"))
# Procurement: a cold-chain break in transit longer than this (minutes) can only be rejected.
CANTEEN_PROCUREMENT_COLDCHAIN_REJECT_MINUTES = int(os.environ.get("CANTEEN_PROCUREMENT_COLDCHAIN_REJECT_MINUTES", "30"))
# People in (issue 21, org): roster import limits and the guardians' binding page address.
CANTEEN_ROSTER_MAX_BYTES = int(os.environ.get("CANTEEN_ROSTER_MAX_BYTES", str(10 * 1024 * 1024)))
CANTEEN_ROSTER_MAX_ROWS = int(os.environ.get("CANTEEN_ROSTER_MAX_ROWS", "100000"))
CANTEEN_ROSTER_MAX_UNZIPPED_BYTES = int(os.environ.get("CANTEEN_ROSTER_MAX_UNZIPPED_BYTES", str(400 * 1024 * 1024)))
# Printed (as a QR code) on the binding slips a school hands to families.
CANTEEN_PUBLIC_URL = os.environ.get("CANTEEN_PUBLIC_URL", "")
# WeChat Official Account web authorization (binding a guardian's openid; issue 29).
CANTEEN_WECHAT_OPEN_BASE = os.environ.get("CANTEEN_WECHAT_OPEN_BASE", "https://open.weixin.qq.com")
CANTEEN_WECHAT_API_BASE = os.environ.get("CANTEEN_WECHAT_API_BASE", "https://api.weixin.qq.com")

# Operations (canteen.ops, issue 26): backups with retention and a second location; the metrics
# endpoint is closed unless a bearer token or an allowed client network is configured.
CANTEEN_BACKUP_DIR = os.environ.get("CANTEEN_BACKUP_DIR", "")  # default: DATA_DIR/backups
CANTEEN_BACKUP_KEEP = int(os.environ.get("CANTEEN_BACKUP_KEEP", "14"))
CANTEEN_BACKUP_COPY_DIR = os.environ.get("CANTEEN_BACKUP_COPY_DIR", "")
CANTEEN_METRICS_TOKEN = os.environ.get("CANTEEN_METRICS_TOKEN", "")
CANTEEN_METRICS_ALLOW = env_list("CANTEEN_METRICS_ALLOW")  # e.g. "127.0.0.1/32,10.0.0.0/8"

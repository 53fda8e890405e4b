"""Production: PostgreSQL, secrets from the environment, HTTPS only."""

import os

from .base import *  # noqa: F403
from .base import env_bool, env_list

DEBUG = False
SECRET_KEY = os.environ["CANTEEN_SECRET_KEY"]
FACE_TEMPLATE_KEY = os.environ["CANTEEN_FACE_KEY"]
ALLOWED_HOSTS = env_list("CANTEEN_ALLOWED_HOSTS")
CSRF_TRUSTED_ORIGINS = env_list("CANTEEN_CSRF_TRUSTED_ORIGINS")

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("CANTEEN_SSL_REDIRECT", True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = int(os.environ.get("CANTEEN_HSTS_SECONDS", "31536000"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# No demo money: the demo provider is never registered here, whatever CANTEEN_PAYMENT_PROVIDERS
# says (and `check --deploy` fails with ledger.E001 when it names it).
CANTEEN_DEMO_PAYMENTS = False
CANTEEN_PAYMENT_PROVIDERS = env_list("CANTEEN_PAYMENT_PROVIDERS", "wechat,alipay")
# Providers call back on the site's public https origin.
CANTEEN_PAYMENT_NOTIFY_BASE = os.environ.get("CANTEEN_PAYMENT_NOTIFY_BASE") or (
    CSRF_TRUSTED_ORIGINS[0] if CSRF_TRUSTED_ORIGINS else ""
)

"""Tests run against PostgreSQL, the production database, unless told otherwise."""

import os

from .base import *  # noqa: F403
from .base import DATA_DIR, database_from_url

DATABASES = {
    "default": database_from_url(os.environ.get("CANTEEN_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/canteen"))
}
# Fast hashing: the tests create many users.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
DATA_DIR.mkdir(parents=True, exist_ok=True)
(DATA_DIR / "static").mkdir(exist_ok=True)
MEDIA_ROOT = DATA_DIR / "test-media"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Page and API tests sign in with force_login: the second factor is tested on its own
# (canteen/accounts/tests), with CANTEEN_OTP_REQUIRED switched on there.
CANTEEN_OTP_REQUIRED = False

"""The embedded demo: SQLite (WAL) under var/, debug on, nothing else to run."""

from .base import *  # noqa: F403
from .base import DATA_DIR, env_bool

DEBUG = env_bool("CANTEEN_DEBUG", True)
DATA_DIR.mkdir(parents=True, exist_ok=True)
(DATA_DIR / "static").mkdir(exist_ok=True)

# Serve static files straight from the app folders and node_modules in the demo (no collectstatic).
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True

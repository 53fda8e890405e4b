import pytest


@pytest.fixture(autouse=True)
def _strict_handlers(settings):
    """Handler failures raise in tests instead of being logged and skipped."""
    settings.CANTEEN_SUPERVISION_STRICT = True

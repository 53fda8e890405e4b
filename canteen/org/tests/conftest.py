"""The identity domain's face fixtures, for the life events that touch face data."""

from canteen.identity.tests.conftest import engine, portrait_jpegs, portraits  # noqa: F401

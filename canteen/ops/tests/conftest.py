# The window's fixtures (a campus serving lunch all day, its operator and a terminal), shared.
from canteen.consumption.tests.conftest import canteen, operator, registered_terminal  # noqa: F401

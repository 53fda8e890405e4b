from django.apps import AppConfig
from django.db.models.signals import post_migrate

from canteen.core.navigation import NavGroup, NavItem


def _clear_caches(**kwargs) -> None:
    # A test database flush (or a fresh migrate) removes accounts the caches may remember.
    from . import services

    services.clear_caches()


class LedgerConfig(AppConfig):
    name = "canteen.ledger"
    label = "ledger"
    verbose_name = "财务 Ledger"
    nav_group = NavGroup("财务", "Finance", order=50)
    nav = [
        NavItem("孩子的餐费", "My children's meals", "ledger:guardian-home", roles={"guardian"}, order=20),
        NavItem(
            "财务",
            "Finance",
            "ledger:finance-home",
            roles={"district_regulator", "city_regulator", "school_admin", "canteen_manager"},
            order=60,
        ),
    ]

    def ready(self) -> None:
        from canteen.core.todo import register

        from . import todo

        register(todo.todo_items)  # the home page's "needs you now"
        post_migrate.connect(_clear_caches, dispatch_uid="ledger-clear-caches")
        from .payments import checks  # noqa: F401  (registers the payment system checks)

from django.apps import AppConfig


class LedgerConfig(AppConfig):
    name = "canteen.ledger"
    label = "ledger"
    verbose_name = "财务 Ledger"
    # Menu entries: a list of canteen.core.navigation.NavItem.
    nav: list = []

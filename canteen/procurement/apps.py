from django.apps import AppConfig


class ProcurementConfig(AppConfig):
    name = "canteen.procurement"
    label = "procurement"
    verbose_name = "食材采购 Procurement"
    # Menu entries: a list of canteen.core.navigation.NavItem.
    nav: list = []

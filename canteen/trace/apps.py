from django.apps import AppConfig


class TraceConfig(AppConfig):
    name = "canteen.trace"
    label = "trace"
    verbose_name = "溯源 Traceability"
    # Menu entries: a list of canteen.core.navigation.NavItem.
    nav: list = []

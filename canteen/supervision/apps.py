from django.apps import AppConfig


class SupervisionConfig(AppConfig):
    name = "canteen.supervision"
    label = "supervision"
    verbose_name = "监管 Supervision"
    # Menu entries: a list of canteen.core.navigation.NavItem.
    nav: list = []

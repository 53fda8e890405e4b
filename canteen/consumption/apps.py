from django.apps import AppConfig


class ConsumptionConfig(AppConfig):
    name = "canteen.consumption"
    label = "consumption"
    verbose_name = "智能消费 Consumption"
    # Menu entries: a list of canteen.core.navigation.NavItem.
    nav: list = []

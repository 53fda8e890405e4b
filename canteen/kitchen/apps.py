from django.apps import AppConfig


class KitchenConfig(AppConfig):
    name = "canteen.kitchen"
    label = "kitchen"
    verbose_name = "明厨亮灶 Bright kitchen"
    # Menu entries: a list of canteen.core.navigation.NavItem.
    nav: list = []

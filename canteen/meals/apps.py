from django.apps import AppConfig


class MealsConfig(AppConfig):
    name = "canteen.meals"
    label = "meals"
    verbose_name = "膳食 Meals"
    # Menu entries: a list of canteen.core.navigation.NavItem.
    nav: list = []

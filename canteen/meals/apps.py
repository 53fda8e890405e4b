from django.apps import AppConfig

from canteen.core.navigation import NavGroup, NavItem

STAFF = {"district_regulator", "city_regulator", "school_admin", "canteen_manager", "storekeeper", "window_operator"}


class MealsConfig(AppConfig):
    name = "canteen.meals"
    label = "meals"
    verbose_name = "膳食 Meals"
    media_access = {"meals/dishes/": "canteen.meals.media.may_read_dish_photo"}
    nav_group = NavGroup("膳食", "Meals", order=30)
    nav = [
        NavItem("菜单", "Menus", "meals:overview", roles=STAFF, order=30),
        NavItem("菜品库", "Dishes", "meals:dishes", roles={"school_admin", "canteen_manager"}, order=31),
        NavItem("孩子的膳食", "Meals", "meals:my-menus", roles={"guardian"}, order=30),
    ]

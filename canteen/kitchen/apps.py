from django.apps import AppConfig

from canteen.core.navigation import NavGroup, NavItem

_WATCHERS = {"city_regulator", "district_regulator", "school_admin", "canteen_manager"}


class KitchenConfig(AppConfig):
    name = "canteen.kitchen"
    label = "kitchen"
    verbose_name = "明厨亮灶 Bright kitchen"
    nav_group = NavGroup("明厨亮灶", "Bright kitchen", order=60)
    nav = [
        NavItem("明厨亮灶", "Live kitchen", "kitchen:live-wall", roles=_WATCHERS, order=60),
        NavItem("视频告警", "Video alarms", "kitchen:alarms", roles=_WATCHERS, order=61),
        NavItem(
            "食安记录",
            "Safety records",
            "kitchen:records",
            roles={*_WATCHERS, "storekeeper"},
            order=62,
        ),
    ]

    def ready(self) -> None:
        from canteen.core.todo import register

        from . import todo

        register(todo.todo_items)  # the home page's "needs you now"

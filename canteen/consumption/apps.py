from django.apps import AppConfig

from canteen.core.navigation import NavGroup, NavItem

STAFF = {"canteen_manager", "window_operator", "school_admin", "district_regulator", "city_regulator"}


class ConsumptionConfig(AppConfig):
    name = "canteen.consumption"
    label = "consumption"
    verbose_name = "智能消费 Consumption"
    nav_group = NavGroup("膳食", "Meals", order=30)
    nav = [
        NavItem("取餐记录", "Meal records", "consumption:record-list", roles={*STAFF, "guardian"}, order=40),
        NavItem(
            "人工窗口",
            "Staffed window",
            "consumption:window-checkout",
            roles={"window_operator", "canteen_manager"},
            order=41,
        ),
        NavItem(
            "窗口终端", "Terminals", "consumption:terminal-list", roles={"canteen_manager", "school_admin"}, order=42
        ),
    ]

    def ready(self) -> None:
        from canteen.core.lanes import express_lane

        from .api.auth import is_terminal_call

        # The request of every serving window all lunch long (canteen.core.lanes).
        express_lane("consumption-api:checkouts", method="POST", accepts=is_terminal_call)

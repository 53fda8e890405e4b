from django.apps import AppConfig

from canteen.core.navigation import NavItem

_STAFF = {"city_regulator", "district_regulator", "school_admin", "canteen_manager"}


class NotifyConfig(AppConfig):
    name = "canteen.notify"
    label = "notify"
    verbose_name = "消息通知 Notifications"
    nav = [
        NavItem("消息", "Messages", "notify:inbox", roles=None, order=5, grouped=False),
        NavItem("通知设置", "Notification settings", "notify:preferences", roles=None, order=95),
        NavItem("投递失败", "Failed deliveries", "notify:dead-letters", roles=_STAFF, order=96),
        NavItem("通知渠道", "Notification channels", "notify:status", roles=_STAFF, order=97),
    ]

    def ready(self) -> None:
        from canteen.core.todo import register

        from . import (
            rules,  # noqa: F401  (registers the rules by topic)
            todo,
        )

        register(todo.todo_items)  # the home page's "needs you now": inbox, escalations, dead letters

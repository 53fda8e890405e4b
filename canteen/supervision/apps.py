from django.apps import AppConfig

from canteen.core.navigation import NavGroup, NavItem

REGULATORS = {"city_regulator", "district_regulator"}
SCHOOL = {"school_admin", "canteen_manager"}


class SupervisionConfig(AppConfig):
    name = "canteen.supervision"
    label = "supervision"
    verbose_name = "监管 Supervision"
    media_access = {"supervision/cases/": "canteen.supervision.media.may_read_evidence"}
    nav_group = NavGroup("监管", "Oversight", order=80)
    nav = [
        NavItem("监管驾驶舱", "Dashboard", "supervision:dashboard", roles=REGULATORS, order=80),
        NavItem("智慧大脑", "Big screen", "supervision:bigscreen", roles=REGULATORS, order=81),
        NavItem("整改单", "Cases", "supervision:case-list", roles=REGULATORS | SCHOOL, order=82),
        NavItem("比晾晒", "Ranking", "supervision:ranking", roles=REGULATORS | {"school_admin"}, order=83),
        NavItem("检查", "Inspections", "supervision:inspection-list", roles=REGULATORS, order=84),
        NavItem(
            "家长反馈", "Parent feedback", "supervision:feedback-list", roles=REGULATORS | {"school_admin"}, order=85
        ),
    ]

    def ready(self) -> None:
        from canteen.core.todo import register

        from . import todo

        register(todo.todo_items)  # the home page's "needs you now"
        from . import handlers  # noqa: F401 - registers the event subscribers

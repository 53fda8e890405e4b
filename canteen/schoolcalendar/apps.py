from django.apps import AppConfig

from canteen.core.navigation import NavGroup, NavItem


class SchoolCalendarConfig(AppConfig):
    name = "canteen.schoolcalendar"
    label = "schoolcalendar"
    verbose_name = "校历 School calendar"
    nav_group = NavGroup("学校", "Schools", order=10)
    nav = [
        NavItem(
            "校历",
            "School calendar",
            "schoolcalendar:home",
            roles={"district_regulator", "city_regulator", "school_admin"},
            order=40,
        ),
    ]

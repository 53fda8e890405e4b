from django.apps import AppConfig

from canteen.core.navigation import NavGroup, NavItem


class OrgConfig(AppConfig):
    name = "canteen.org"
    label = "org"
    verbose_name = "组织 Organisation"
    nav_group = NavGroup("学校", "Schools", order=10)
    nav = [
        NavItem("首页", "Home", "home", order=0, grouped=False),
        NavItem(
            "学校与校区",
            "Schools",
            "org:school-list",
            roles={"city_regulator", "district_regulator", "school_admin"},
            order=10,
        ),
        NavItem(
            "学生",
            "Students",
            "org:student-list",
            roles={"district_regulator", "school_admin", "canteen_manager", "window_operator"},
            order=11,
        ),
        NavItem("名册导入", "Roster import", "org:roster", roles={"district_regulator", "school_admin"}, order=12),
        NavItem("员工账号", "Staff accounts", "org:staff", roles={"district_regulator", "school_admin"}, order=13),
    ]

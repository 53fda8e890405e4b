from django.apps import AppConfig

from canteen.core.navigation import NavGroup, NavItem
from canteen.org.choices import Role


class IdentityConfig(AppConfig):
    name = "canteen.identity"
    label = "identity"
    verbose_name = "身份识别 Identity"
    nav_group = NavGroup("学校", "Schools", order=10)
    nav = [
        NavItem("刷脸与就餐卡", "Face & meal card", "identity:children", roles={Role.GUARDIAN}, order=20),
        NavItem(
            "人脸登记",
            "Face enrolment",
            "identity:classes",
            roles={Role.SCHOOL_ADMIN, Role.CANTEEN_MANAGER, Role.WINDOW_OPERATOR},
            order=60,
        ),
        NavItem(
            "人脸识别同意统计",
            "Face consent statistics",
            "identity:statistics",
            roles={Role.CITY_REGULATOR, Role.DISTRICT_REGULATOR, Role.SCHOOL_ADMIN},
            order=90,
        ),
    ]

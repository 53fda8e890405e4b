from django.apps import AppConfig

from canteen.core.navigation import NavGroup, NavItem

STAFF = {"district_regulator", "city_regulator", "school_admin", "canteen_manager", "storekeeper"}


class TraceConfig(AppConfig):
    name = "canteen.trace"
    label = "trace"
    verbose_name = "溯源 Traceability"
    nav_group = NavGroup("采购溯源", "Supply & trace", order=40)
    nav = [
        NavItem("溯源", "Traceability", "trace:codes", roles=STAFF, order=45),
        NavItem(
            "EPCIS 导入", "EPCIS import", "trace:epcis-import", roles={"district_regulator", "city_regulator"}, order=46
        ),
    ]

    def ready(self) -> None:
        from . import checks, handlers  # noqa: F401 - registers the deploy checks and event subscribers

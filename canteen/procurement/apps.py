from django.apps import AppConfig

from canteen.core.navigation import NavGroup, NavItem

STAFF = {"canteen_manager", "storekeeper", "school_admin"}
REGULATORS = {"district_regulator", "city_regulator"}


class ProcurementConfig(AppConfig):
    name = "canteen.procurement"
    label = "procurement"
    verbose_name = "食材采购 Procurement"
    media_access = {
        "procurement/qc/": "canteen.procurement.media.may_read_qc_report",
        "procurement/licences/": "canteen.procurement.media.may_read_licence",
        "procurement/coldchain/": "canteen.procurement.media.may_read_coldchain_photo",
    }
    nav_group = NavGroup("采购溯源", "Supply & trace", order=40)
    nav = [
        NavItem("采购订单", "Orders", "procurement:orders", roles=STAFF | REGULATORS, order=40),
        NavItem("到货验收", "Acceptance", "procurement:deliveries", roles={"storekeeper", "canteen_manager"}, order=41),
        NavItem(
            "库存", "Stock", "procurement:stock", roles={"storekeeper", "canteen_manager", "school_admin"}, order=42
        ),
        NavItem(
            "集采目录", "Catalogue", "procurement:catalogue", roles=STAFF | REGULATORS | {"supplier_user"}, order=43
        ),
        NavItem("集配汇总", "Combined demand", "procurement:demand", roles=REGULATORS, order=44),
        NavItem("供应商证照", "Suppliers", "procurement:suppliers", roles=REGULATORS | {"school_admin"}, order=45),
        NavItem("供应商门户", "Supplier portal", "procurement:portal", roles={"supplier_user"}, order=40),
    ]

    def ready(self) -> None:
        from canteen.core.todo import register

        from . import todo

        register(todo.todo_items)  # the home page's "needs you now"

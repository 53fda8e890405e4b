"""The navigation menu is assembled from what each domain declares, so that adding a page
never means editing a shared template.

Each app's AppConfig may declare:

    nav = [NavItem("菜单", "Menus", "meals:menu-list", roles={"school_admin", ...}, order=30)]
    nav_group = NavGroup("膳食", "Meals", order=30)

`roles=None` means every signed-in user; superusers see everything. Apps that name the same
group (procurement and trace: "采购溯源") share it. A user with few entries (a guardian, window
staff) gets a flat menu; a regulator's twenty-odd entries fold into one menu per group.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.apps import apps
from django.urls import NoReverseMatch, reverse

from .i18n import tr


@dataclass(frozen=True)
class NavItem:
    zh: str
    en: str
    url_name: str
    roles: frozenset[str] | set[str] | None = None
    order: int = 100
    icon: str = ""
    kwargs: dict = field(default_factory=dict)
    grouped: bool = True  # False: always its own entry (Home)


@dataclass(frozen=True)
class NavGroup:
    zh: str
    en: str
    order: int = 100


# More entries than this and the menu is grouped.
FLAT_MENU_LIMIT = 9


def _visible(user) -> list[tuple[NavItem, NavGroup | None, str]]:
    role = getattr(user, "role", None)
    found = []
    for config in apps.get_app_configs():
        group = getattr(config, "nav_group", None)
        for item in getattr(config, "nav", []):
            if not (user.is_superuser or item.roles is None or role in item.roles):
                continue
            try:
                url = reverse(item.url_name, kwargs=item.kwargs or None)
            except NoReverseMatch:
                continue
            found.append((item, group if item.grouped else None, url))
    found.sort(key=lambda entry: (entry[0].order, entry[0].zh))
    return found


def nav_for(user) -> list[dict]:
    """Every entry the user may open, in order (the home page's quick links)."""
    if not getattr(user, "is_authenticated", False):
        return []
    return [{"label": tr(item.zh, item.en), "url": url, "icon": item.icon} for item, _g, url in _visible(user)]


def nav_menu_for(user) -> list[dict]:
    """The top bar: entries, or for a long menu groups of entries.

    Each element is {"label", "url"} (a link) or {"label", "children": [...]} (a group). A group
    with a single entry is shown as that entry."""
    if not getattr(user, "is_authenticated", False):
        return []
    visible = _visible(user)
    if len(visible) <= FLAT_MENU_LIMIT:
        return [{"label": tr(item.zh, item.en), "url": url} for item, _g, url in visible]
    menu: list[dict] = []
    groups: dict[str, dict] = {}
    for item, group, url in visible:
        entry = {"label": tr(item.zh, item.en), "url": url}
        if group is None:
            menu.append({**entry, "order": item.order})
            continue
        if group.zh not in groups:
            groups[group.zh] = {"label": tr(group.zh, group.en), "children": [], "order": group.order}
            menu.append(groups[group.zh])
        groups[group.zh]["children"].append(entry)
    shown = []
    for element in sorted(menu, key=lambda e: e["order"]):
        element = {k: v for k, v in element.items() if k != "order"}
        if "children" in element and len(element["children"]) == 1:
            element = element["children"][0]
        shown.append(element)
    return shown

"""The navigation menu is assembled from what each domain declares, so that adding a page
never means editing a shared template.

Each app's AppConfig may declare:

    nav = [NavItem("菜单", "Menus", "meals:menu-list", roles={"school_admin", ...}, order=30)]

`roles=None` means every signed-in user; superusers see everything.
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


def nav_for(user) -> list[dict]:
    if not getattr(user, "is_authenticated", False):
        return []
    role = getattr(user, "role", None)
    items: list[NavItem] = []
    for config in apps.get_app_configs():
        for item in getattr(config, "nav", []):
            if user.is_superuser or item.roles is None or role in item.roles:
                items.append(item)
    result = []
    for item in sorted(items, key=lambda i: (i.order, i.zh)):
        try:
            url = reverse(item.url_name, kwargs=item.kwargs or None)
        except NoReverseMatch:
            continue
        result.append({"label": tr(item.zh, item.en), "url": url, "icon": item.icon})
    return result

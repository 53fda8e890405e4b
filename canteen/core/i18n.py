"""Chinese first, English second, side by side in the code.

The interface is written once in both languages at the place it is used (`tr("首页", "Home")`
and `{% t "首页" "Home" %}`) instead of gettext catalogues: seven domains grow in parallel and a
shared .po file would be a merge hotspot; a translator can still find every string with grep.
See docs/decisions.md."""

from __future__ import annotations

from django.utils.translation import get_language


def is_english(language: str | None = None) -> bool:
    return (language or get_language() or "").startswith("en")


def tr(zh: str, en: str, language: str | None = None) -> str:
    return en if is_english(language) else zh


def choice_label(choices: str, value: object) -> str:
    """The label of `value` in `canteen.<app>.choices.<Class>` ("meals.SessionKind"), for codes
    stored without `choices=` on their field (a copied session kind, an event payload)."""
    import importlib

    app, _, name = choices.partition(".")
    enum = getattr(importlib.import_module(f"canteen.{app}.choices"), name)
    try:
        return str(enum(value).label)
    except ValueError:
        return "" if value is None else str(value)

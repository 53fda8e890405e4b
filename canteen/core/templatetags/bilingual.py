from django import template

from canteen.core.i18n import tr
from canteen.core.money import Money

register = template.Library()


@register.simple_tag
def t(zh: str, en: str) -> str:
    """{% t "首页" "Home" %}: the active language's text."""
    return tr(zh, en)


@register.filter
def yuan(fen) -> str:
    """{{ amount_fen|yuan }} → ¥12.50"""
    if fen in (None, ""):
        return ""
    return str(Money(int(fen)))


@register.filter
def label(value, choices: str) -> str:
    """{{ record.session_kind|label:"meals.SessionKind" }} → 午餐: an enum shown by its label in
    the active language, never its code (an unknown code is shown as it is)."""
    from canteen.core.i18n import choice_label

    return choice_label(choices, value)

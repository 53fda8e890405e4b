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

from django import template

register = template.Library()


@register.filter
def get_item(mapping, key):
    """{{ mapping|get_item:key }}: a dict lookup by a variable key."""
    return (mapping or {}).get(key, [])

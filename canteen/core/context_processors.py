from .navigation import nav_for, nav_menu_for


def navigation(request):
    user = getattr(request, "user", None)
    return {"nav_items": nav_for(user), "nav_menu": nav_menu_for(user)}

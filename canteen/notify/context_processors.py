def unread(request):
    """The unread count on every page's badge (one indexed count, signed-in users only)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"notify_unread": 0}
    from .selectors import unread_count

    return {"notify_unread": unread_count(actor=user)}

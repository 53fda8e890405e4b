"""A password change ends every API token of the account (sessions already end: Django's
session hash covers the password)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models.signals import post_save, pre_save
from django.dispatch import receiver


@receiver(pre_save, sender=settings.AUTH_USER_MODEL)
def _note_password_change(sender: Any, instance: Any, **kwargs: Any) -> None:
    # set_password() keeps the raw password in _password until save(); a hash upgrade on login
    # clears it first, so only a real change is seen here.
    instance._canteen_password_changed = bool(instance.pk) and getattr(instance, "_password", None) is not None


@receiver(post_save, sender=settings.AUTH_USER_MODEL)
def _revoke_tokens_on_password_change(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
    if not created and getattr(instance, "_canteen_password_changed", False):
        from .services import tokens_revoke_all

        tokens_revoke_all(user=instance, reason="password_changed")
        instance._canteen_password_changed = False

"""Who must sign in with a second factor: the roles that oversee many schools or move money.

District and city regulators, the finance roles (school admins and canteen managers run the
school's ledger: see ledger's FINANCE_ROLES) and every operator account (superuser or staff)."""

from __future__ import annotations

from typing import Any

from django.conf import settings


def otp_required_for(user: Any) -> bool:
    if not settings.CANTEEN_OTP_REQUIRED or not getattr(user, "is_authenticated", False):
        return False
    if getattr(user, "is_superuser", False) or getattr(user, "is_staff", False):
        return True
    return getattr(user, "role", "") in set(settings.CANTEEN_OTP_REQUIRED_ROLES)

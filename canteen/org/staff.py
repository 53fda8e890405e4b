"""Staff accounts: a school admin creates and disables its campus staff (window operators,
storekeepers, canteen managers); the district creates school admins. Roles and scopes are the
ones User.access_scope already knows; an account is disabled (is_active=False), never deleted,
so its audit trail keeps a name."""

from __future__ import annotations

import secrets
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction

from canteen.core.audit import audit_record
from canteen.core.errors import Conflict, Forbidden, ValidationFailed

from .choices import CAMPUS_ROLES, Role
from .models import Campus, School, User


def creatable_roles(actor: Any) -> list[str]:
    if actor.is_superuser:
        return [Role.SCHOOL_ADMIN, *sorted(CAMPUS_ROLES)]
    if actor.role == Role.DISTRICT_REGULATOR:
        return [Role.SCHOOL_ADMIN, *sorted(CAMPUS_ROLES)]
    if actor.role == Role.SCHOOL_ADMIN:
        return sorted(CAMPUS_ROLES)
    return []


def _may_manage(actor: Any, *, role: str, school: School) -> bool:
    if actor.is_superuser:
        return True
    if actor.role == Role.DISTRICT_REGULATOR:
        return school.district_id == actor.district_id and (role == Role.SCHOOL_ADMIN or role in CAMPUS_ROLES)
    if actor.role == Role.SCHOOL_ADMIN:
        return school.pk == actor.school_id and role in CAMPUS_ROLES
    return False


def staff_visible(*, actor: Any):
    """The accounts this actor manages."""
    qs = User.objects.filter(role__in=[Role.SCHOOL_ADMIN, *CAMPUS_ROLES]).select_related("school", "campus")
    if actor.is_superuser:
        return qs
    if actor.role == Role.DISTRICT_REGULATOR:
        return qs.filter(school__district_id=actor.district_id)
    if actor.role == Role.SCHOOL_ADMIN:
        return qs.filter(school_id=actor.school_id, role__in=CAMPUS_ROLES)
    return qs.none()


@transaction.atomic
def staff_create(
    *,
    actor: User,
    username: str,
    display_name: str,
    role: str,
    school: School | None = None,
    campus: Campus | None = None,
    phone: str = "",
    password: str = "",
) -> tuple[User, str]:
    """A new staff account. Campus roles need a campus; a school admin needs a school. Returns the
    account and its first password (generated when none is given, shown once)."""
    username = (username or "").strip()
    if not username or len(username) > 150 or not username.replace("_", "").replace(".", "").isalnum():
        raise ValidationFailed("用户名须为字母、数字、_ 或 .", "The username may hold letters, digits, _ and .")
    if role not in (Role.SCHOOL_ADMIN, *CAMPUS_ROLES):
        raise ValidationFailed("不能创建该角色的账号", "Accounts of this role cannot be created here")
    if role in CAMPUS_ROLES:
        if campus is None:
            raise ValidationFailed("请选择校区", "Choose a campus")
        school = campus.school
    elif school is None:
        raise ValidationFailed("请选择学校", "Choose a school")
    else:
        campus = None
    if not _may_manage(actor, role=role, school=school):
        raise Forbidden("无权为该学校创建此角色的账号", "You may not create this account for this school")
    if User.objects.filter(username__iexact=username).exists():
        raise Conflict("用户名已存在", "This username is taken", code="username_taken")
    password = password or secrets.token_urlsafe(9)
    user = User(
        username=username,
        display_name=(display_name or "").strip()[:60],
        phone=(phone or "").strip()[:20],
        role=role,
        school=school,
        district=school.district,
        campus=campus,
    )
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise ValidationFailed(
            "密码不符合要求", "The password is too weak", details={"password": list(exc.messages)}
        ) from None
    user.set_password(password)
    user.save()
    audit_record(
        actor=actor,
        action="staff.create",
        target=user,
        after={"role": role, "school_id": str(school.pk), "campus_id": str(campus.pk) if campus else None},
        district_id=school.district_id,
        school_id=school.pk,
    )
    return user, password


@transaction.atomic
def staff_set_active(*, actor: User, user: User, active: bool) -> User:
    """Disable (or enable again) a staff account; its sessions and API tokens stop working."""
    if user.school is None or not _may_manage(actor, role=user.role, school=user.school):
        raise Forbidden("无权管理该账号", "You may not manage this account")
    if user.pk == actor.pk:
        raise ValidationFailed("不能停用自己的账号", "You cannot disable your own account")
    before = user.is_active
    user.is_active = active
    user.save(update_fields=["is_active"])
    if not active:
        from canteen.accounts.services import tokens_revoke_all

        tokens_revoke_all(user=user, reason="account disabled")
    audit_record(
        actor=actor,
        action="staff.enable" if active else "staff.disable",
        target=user,
        before={"is_active": before},
        after={"is_active": active},
        district_id=user.school.district_id,
        school_id=user.school_id,
    )
    return user

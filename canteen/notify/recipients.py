"""Who a notice goes to: a user, a guardian (with or without an account), a mobile number
(a one-time code, a parent who left one on a feedback form), or a group (a school's or
campus's WeCom robot). Each has one key, the unit of preferences and deduplication."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from canteen.org.choices import Role

from .choices import Channel
from .models import Address


@dataclass(frozen=True)
class Recipient:
    key: str
    user: Any = None
    guardian: Any = None
    mobile: str = ""
    group: Address | None = None

    @property
    def is_guardian(self) -> bool:
        return self.guardian is not None or self.mobile != ""


def of_user(user: Any) -> Recipient:
    guardian = getattr(user, "guardian", None) if getattr(user, "role", "") == Role.GUARDIAN else None
    if guardian is not None:
        return of_guardian(guardian)
    return Recipient(key=f"user:{user.pk}", user=user)


def of_guardian(guardian: Any) -> Recipient:
    return Recipient(key=f"guardian:{guardian.pk}", user=guardian.user, guardian=guardian)


def of_mobile(mobile: str) -> Recipient:
    return Recipient(key=f"mobile:{mobile}", mobile=mobile)


def guardians_of(student_ids: Iterable[Any]) -> list[Recipient]:
    from canteen.org.models import Guardian

    ids = [s for s in student_ids if s]
    if not ids:
        return []
    guardians = Guardian.objects.filter(links__student_id__in=ids).select_related("user").distinct()
    return [of_guardian(g) for g in guardians]


def staff(
    *,
    roles: Iterable[str],
    campus_id: Any = None,
    school_id: Any = None,
    district_id: Any = None,
    city_id: Any = None,
) -> list[Recipient]:
    """Active accounts holding one of `roles` at the given place: campus roles at the campus,
    the school admin at the school, regulators at the district or city."""
    from django.db.models import Q

    from canteen.org.models import User

    roles = set(roles)
    where = Q(pk__in=[])
    campus_roles = roles & {Role.CANTEEN_MANAGER, Role.STOREKEEPER, Role.WINDOW_OPERATOR}
    if campus_roles and campus_id:
        where |= Q(role__in=campus_roles, campus_id=campus_id)
    if Role.SCHOOL_ADMIN in roles and school_id:
        where |= Q(role=Role.SCHOOL_ADMIN, school_id=school_id)
    if Role.DISTRICT_REGULATOR in roles and district_id:
        where |= Q(role=Role.DISTRICT_REGULATOR, district_id=district_id)
    if Role.CITY_REGULATOR in roles and city_id:
        where |= Q(role=Role.CITY_REGULATOR, city_id=city_id)
    return [of_user(u) for u in User.objects.filter(where, is_active=True).order_by("pk")]


def groups(*, campus_id: Any = None, school_id: Any = None) -> list[Recipient]:
    """The WeCom robot groups of a campus and of its school (one message per group)."""
    from django.db.models import Q

    where = Q(pk__in=[])
    if campus_id:
        where |= Q(campus_id=campus_id)
    if school_id:
        where |= Q(school_id=school_id, campus__isnull=True)
    found = Address.objects.filter(where, channel=Channel.WECOM).order_by("pk")
    return [Recipient(key=f"group:{a.pk}", group=a) for a in found]


def school_and_campus(*, campus_id: Any, school_id: Any = None, with_groups: bool = True) -> list[Recipient]:
    """A campus's canteen manager, its school's admin, and their WeCom groups."""
    if campus_id and not school_id:
        from canteen.org.models import Campus

        school_id = Campus.objects.filter(pk=campus_id).values_list("school_id", flat=True).first()
    found = staff(roles={Role.CANTEEN_MANAGER, Role.SCHOOL_ADMIN}, campus_id=campus_id, school_id=school_id)
    if with_groups:
        found += groups(campus_id=campus_id, school_id=school_id)
    return found

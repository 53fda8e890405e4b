"""Reads of the school calendar, scoped to the actor: a district's people see its calendar, a
school's people the district's entries and their own school's."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from canteen.core.scoping import scope_of
from canteen.org.models import Campus, School

from .models import CalendarEntry


def entries_visible_to(actor: Any) -> QuerySet[CalendarEntry]:
    scope = scope_of(actor)
    qs = CalendarEntry.objects.select_related("district", "school")
    if scope.is_all:
        return qs
    if scope.level in ("city", "district"):
        return qs.visible_to(actor)
    if scope.level == "school":
        school = School.objects.filter(pk=scope.value).values_list("district_id", flat=True).first()
        return qs.filter(district_id=school).filter(Q(school__isnull=True) | Q(school_id=scope.value))
    if scope.level == "campus":
        row = Campus.objects.filter(pk=scope.value).values_list("school__district_id", "school_id").first()
        if row is None:
            return qs.none()
        return qs.filter(district_id=row[0]).filter(Q(school__isnull=True) | Q(school_id=row[1]))
    return qs.none()

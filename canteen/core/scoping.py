"""Row scoping by default, in the style of netbox's RestrictedQuerySet.

A user carries an access scope: a level and a value. Org-unit levels ("city", "district",
"school", "campus") carry that unit's id; personal levels ("guardian", "supplier") carry the
user's own id. Each scoped model declares, per level, the lookup that reaches that value:

    class Student(BaseModel):
        scope_lookups = {
            "city": "campus__school__district__city_id",
            "district": "campus__school__district_id",
            "school": "campus__school_id",
            "campus": "campus_id",
            "guardian": "guardian_links__guardian__user_id",
        }

A level the model does not name sees nothing: forgetting a mapping denies, it never leaks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import models

ALL = "all"


@dataclass(frozen=True)
class Scope:
    level: str
    value: Any = None

    @property
    def is_all(self) -> bool:
        return self.level == ALL


NOTHING = Scope("none")


def scope_of(user: Any) -> Scope:
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return NOTHING
    if getattr(user, "is_superuser", False):
        return Scope(ALL)
    access_scope = getattr(user, "access_scope", None)
    return access_scope() if callable(access_scope) else NOTHING


class ScopedQuerySet(models.QuerySet):
    def visible_to(self, user: Any) -> ScopedQuerySet:
        scope = scope_of(user)
        if scope.is_all:
            return self
        lookups: dict[str, str] = getattr(self.model, "scope_lookups", {})
        lookup = lookups.get(scope.level)
        if lookup is None or scope.value is None:
            return self.none()
        qs = self.filter(**{lookup: scope.value})
        # Lookups across many-to-many links (guardian → children) can repeat rows.
        return qs.distinct() if "__" in lookup and scope.level in {"guardian", "supplier"} else qs


ScopedManager = models.Manager.from_queryset(ScopedQuerySet)

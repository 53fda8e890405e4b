"""A district's school calendar: terms, vacations, exam days and closures, each a date range.
An entry with a school applies to that school only and overrides the district's (services)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from canteen.core.models import BaseModel

from .choices import EntryKind


class CalendarEntry(BaseModel):
    district = models.ForeignKey("org.District", on_delete=models.PROTECT, related_name="calendar_entries")
    # Null: the whole district; set: this school only.
    school = models.ForeignKey(
        "org.School", null=True, blank=True, on_delete=models.PROTECT, related_name="calendar_entries"
    )
    kind = models.CharField(max_length=12, choices=EntryKind.choices)
    name = models.CharField(max_length=80)
    start = models.DateField()
    end = models.DateField()
    note = models.CharField(max_length=200, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    scope_lookups = {
        "city": "district__city_id",
        "district": "district_id",
        "school": "school_id",
        "campus": "school__campuses__id",
    }

    class Meta:
        ordering = ["start", "kind"]
        indexes = [models.Index(fields=["district", "start"])]
        constraints = [models.CheckConstraint(condition=Q(end__gte=F("start")), name="calendar_entry_end_after_start")]

    def __str__(self) -> str:
        return f"{self.name} {self.start}–{self.end}"

from django.db import models


class EntryKind(models.TextChoices):
    """What a calendar entry says about the days it covers (see services.is_school_day)."""

    TERM = "term", "学期 Term"
    VACATION = "vacation", "假期 Vacation"
    EXAM = "exam", "考试 Exam days"
    CLOSURE = "closure", "停课 School closure"
    SCHOOL_DAY = "school_day", "补课/上课日 Extra school day"

"""Periodic jobs of the kitchen domain (run by `canteen worker`)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.utils import timezone

from canteen.core.worker import periodic

from . import selectors, services
from .choices import Meal, RecordKind
from .models import FoodSample, KitchenSchedule

# When each meal is over; a sample is expected within the grace period after it.
MEAL_ENDS = {Meal.BREAKFAST: time(9, 0), Meal.LUNCH: time(13, 30), Meal.DINNER: time(19, 30)}
GRACE = timedelta(hours=1)
DEFAULT_MEALS = [Meal.LUNCH]


def missing_samples_check(*, day: date, now: datetime | None = None, canteens=None) -> int:
    """Raise kitchen.record_missing for every served meal of `day` whose samples are missing
    once the meal is over (plus the grace period). With a published menu every dish needs its
    sample; without one, at least one sample per meal. Idempotent: each gap is raised once."""
    now = now or timezone.now()
    # Only canteens that keep their records here (they have a kitchen schedule) are checked:
    # a canteen not yet on the programme is not "missing" anything.
    schedules = KitchenSchedule.objects.select_related("canteen__campus__school")
    if canteens is not None:
        schedules = schedules.filter(canteen__in=canteens)
    raised = 0
    for schedule in schedules:
        canteen = schedule.canteen
        meals = schedule.meals or DEFAULT_MEALS
        if day.weekday() not in schedule.work_days:
            continue
        for meal in meals:
            due = timezone.make_aware(datetime.combine(day, MEAL_ENDS[meal])) + GRACE
            if now < due:
                continue
            sampled = set(
                FoodSample.objects.filter(canteen=canteen, day=day, meal=meal).values_list("dish_name", flat=True)
            )
            planned = selectors.planned_dishes(canteen=canteen, day=day, meal=meal)
            if planned is not None:
                missing = [d["name"] for d in planned if d["name"] not in sampled]
            else:
                missing = [] if sampled else ["*"]
            if missing:
                alert = services.missing_record_raise(
                    canteen=canteen,
                    kind=RecordKind.FOOD_SAMPLE,
                    day=day,
                    meal=meal,
                    detail={"dishes": [m for m in missing if m != "*"], "planned": planned is not None},
                )
                raised += alert is not None
    return raised


@periodic(seconds=300, name="kitchen.missing_samples")
def sweep_missing_samples() -> str:
    today = timezone.localdate()
    raised = missing_samples_check(day=today - timedelta(days=1)) + missing_samples_check(day=today)
    return f"{raised} missing sample records raised"

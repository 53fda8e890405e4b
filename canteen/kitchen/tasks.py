"""Periodic jobs of the kitchen domain (run by `canteen worker`)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.utils import timezone

from canteen.core.worker import periodic

from . import selectors, services
from .choices import Meal, RecordKind
from .models import AccompaniedMeal, DisinfectionRecord, FoodSample, KitchenSchedule, MorningCheck

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


# When each meal starts: the morning check (晨检) is due before the first meal's service.
MEAL_STARTS = {Meal.BREAKFAST: time(6, 30), Meal.LUNCH: time(11, 0), Meal.DINNER: time(17, 0)}
# Per-campus overrides live in KitchenSchedule.record_deadlines: a time of day ("07:00") for the
# morning check, minutes after the meal's end for the others.
DEFAULT_DEADLINES: dict[str, object] = {
    RecordKind.MORNING_CHECK: None,  # the first meal's start
    RecordKind.DISINFECTION: 120,
    RecordKind.ACCOMPANY: 120,
}


def _school_day(campus_id, day: date) -> bool:
    """The school calendar's answer for the campus; beyond the national holiday data a working
    day counts (the leader's accompanied meal is then expected rather than silently skipped)."""
    from canteen.schoolcalendar.services import CalendarYearUnknown, is_school_day

    try:
        return is_school_day(campus_id, day)
    except CalendarYearUnknown:
        return day.weekday() < 5


def _deadline(schedule: KitchenSchedule, kind: str, day: date, meal: str) -> datetime:
    value = (schedule.record_deadlines or {}).get(kind, DEFAULT_DEADLINES.get(kind))
    if kind == RecordKind.MORNING_CHECK:
        if isinstance(value, str) and value:
            due = time.fromisoformat(value)
        else:
            due = MEAL_STARTS[meal]
        return timezone.make_aware(datetime.combine(day, due))
    minutes = int(value) if isinstance(value, int | str) and str(value).isdigit() else 120
    return timezone.make_aware(datetime.combine(day, MEAL_ENDS[meal])) + timedelta(minutes=minutes)


def missing_records_check(*, day: date, now: datetime | None = None, canteens=None) -> int:
    """晨检 before the first meal, 消毒 after each meal, 陪餐 on school days: each missing at its
    deadline raises kitchen.record_missing once (missing_record_raise is idempotent)."""
    now = now or timezone.now()
    schedules = KitchenSchedule.objects.select_related("canteen__campus__school")
    if canteens is not None:
        schedules = schedules.filter(canteen__in=canteens)
    raised = 0
    for schedule in schedules:
        canteen = schedule.canteen
        if day.weekday() not in schedule.work_days:
            continue
        meals = [m for m in Meal.values if m in (schedule.meals or DEFAULT_MEALS)]
        checks: list[tuple[str, str, bool]] = []
        due = _deadline(schedule, RecordKind.MORNING_CHECK, day, meals[0])
        if now >= due:
            done = MorningCheck.objects.filter(canteen=canteen, day=day, checked_at__lte=due).exists()
            checks.append((RecordKind.MORNING_CHECK, meals[0], done))
        for meal in meals:
            if now < _deadline(schedule, RecordKind.DISINFECTION, day, meal):
                continue
            # A disinfection started after the meal began counts for that meal.
            start = timezone.make_aware(datetime.combine(day, MEAL_STARTS[meal]))
            done = DisinfectionRecord.objects.filter(canteen=canteen, day=day, started_at__gte=start).exists()
            checks.append((RecordKind.DISINFECTION, meal, done))
        if _school_day(canteen.campus_id, day):
            meal = Meal.LUNCH if Meal.LUNCH in meals else meals[0]
            if now >= _deadline(schedule, RecordKind.ACCOMPANY, day, meal):
                done = AccompaniedMeal.objects.filter(canteen=canteen, day=day).exists()
                checks.append((RecordKind.ACCOMPANY, meal, done))
        for kind, meal, done in checks:
            if not done:
                alert = services.missing_record_raise(canteen=canteen, kind=kind, day=day, meal=meal, detail={})
                raised += alert is not None
    return raised


@periodic(seconds=300, name="kitchen.missing_samples")
def sweep_missing_samples() -> str:
    today = timezone.localdate()
    raised = missing_samples_check(day=today - timedelta(days=1)) + missing_samples_check(day=today)
    return f"{raised} missing sample records raised"


@periodic(seconds=300, name="kitchen.missing_records")
def sweep_missing_records() -> str:
    today = timezone.localdate()
    raised = missing_records_check(day=today - timedelta(days=1)) + missing_records_check(day=today)
    return f"{raised} missing daily records raised"

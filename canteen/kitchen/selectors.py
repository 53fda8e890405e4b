"""Reads of the kitchen domain, always from what the actor may see."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from canteen.core.errors import NotFound

from .choices import HealthStatus, Meal
from .models import (
    AccompaniedMeal,
    Alarm,
    Camera,
    CameraHealth,
    DisinfectionRecord,
    FoodSample,
    KitchenSchedule,
    KitchenStaff,
    MissingRecordAlert,
    MorningCheck,
    RecordingSegment,
    WasteDisposal,
)


@dataclass
class CameraView:
    camera: Camera
    health: CameraHealth | None
    status: str

    @property
    def status_label(self) -> str:
        from canteen.core.i18n import tr

        zh, _, en = str(HealthStatus(self.status).label).partition(" ")
        return tr(zh, en)


def cameras_visible(
    *,
    actor: Any,
    school_id: str | None = None,
    campus_id: str | None = None,
    canteen_id: str | None = None,
    area: str | None = None,
    status: str | None = None,
) -> list[CameraView]:
    qs = Camera.objects.visible_to(actor).select_related("canteen__campus__school", "health")
    if school_id:
        qs = qs.filter(canteen__campus__school_id=school_id)
    if campus_id:
        qs = qs.filter(canteen__campus_id=campus_id)
    if canteen_id:
        qs = qs.filter(canteen_id=canteen_id)
    if area:
        qs = qs.filter(area=area)
    now = timezone.now()
    views = []
    for camera in qs.order_by("canteen__code", "sort_order", "name"):
        health = getattr(camera, "health", None)
        if not camera.enabled:
            effective = HealthStatus.DISABLED
        else:
            effective = health.effective_status(now=now) if health else HealthStatus.OFFLINE
        if status == "online" and effective != HealthStatus.ONLINE:
            continue
        if status == "offline" and effective == HealthStatus.ONLINE:
            continue
        views.append(CameraView(camera, health, effective))
    return views


def camera_get(*, actor: Any, camera_id) -> Camera:
    camera = Camera.objects.visible_to(actor).select_related("canteen__campus__school").filter(pk=camera_id).first()
    if camera is None:
        raise NotFound()
    return camera


def segments_between(*, camera: Camera, start: datetime, end: datetime) -> QuerySet[RecordingSegment]:
    """Segments overlapping [start, end): one may begin before `start`."""
    return RecordingSegment.objects.filter(
        camera=camera, start_at__lt=end, start_at__gte=start - timedelta(minutes=5)
    ).order_by("start_at")


def recording_days(*, camera: Camera) -> list[date]:
    return sorted(
        {
            timezone.localtime(s).date()
            for s in RecordingSegment.objects.filter(camera=camera).values_list("start_at", flat=True)
        },
        reverse=True,
    )


def alarms_visible(*, actor: Any, status: str | None = None, kind: str | None = None) -> QuerySet[Alarm]:
    qs = Alarm.objects.visible_to(actor).select_related("camera__canteen__campus__school")
    if status:
        qs = qs.filter(status=status)
    if kind:
        qs = qs.filter(kind=kind)
    return qs.order_by("-at")


def alarm_get(*, actor: Any, alarm_id) -> Alarm:
    alarm = alarms_visible(actor=actor).filter(pk=alarm_id).first()
    if alarm is None:
        raise NotFound()
    return alarm


# --- daily records -------------------------------------------------------------------------


def canteens_for(*, actor: Any):
    from canteen.org.models import Canteen

    return Canteen.objects.visible_to(actor).select_related("campus__school").order_by("code")


def staff_of(*, actor: Any, canteen) -> QuerySet[KitchenStaff]:
    return KitchenStaff.objects.visible_to(actor).filter(canteen=canteen, active=True)


def off_duty_today(*, actor: Any, canteen, day: date) -> set:
    """Staff ids taken off duty by today's morning check."""
    return set(
        MorningCheck.objects.visible_to(actor)
        .filter(canteen=canteen, day=day, fit=False)
        .values_list("staff_id", flat=True)
    )


def planned_dishes(*, canteen, day: date, meal: str) -> list[dict] | None:
    """Dishes of the day from the meals domain when it can say; None means "not known" and the
    forms fall back to free text. Looked up defensively: meals is built in parallel."""
    try:
        from canteen.meals import selectors as meal_selectors
    except ImportError:
        return None
    finder = getattr(meal_selectors, "dishes_served", None)
    if finder is None:
        return None
    try:
        dishes = list(finder(campus=canteen.campus, day=day, session_kind=meal))
    except Exception:  # a signature we do not know: free text is a safe fallback
        return None
    if not dishes:
        return None  # no published menu: the kitchen writes the dishes by hand
    result = []
    for dish in dishes or []:
        name = getattr(dish, "name", None) or (dish.get("name") if isinstance(dish, dict) else str(dish))
        ref = getattr(dish, "id", None) or (dish.get("id") if isinstance(dish, dict) else None)
        result.append({"name": str(name), "id": ref})
    return result


@dataclass
class DayRecords:
    day: date
    checks: list[MorningCheck]
    samples: list[FoodSample]
    disinfections: list[DisinfectionRecord]
    accompanied: list[AccompaniedMeal]
    waste: list[WasteDisposal]
    missing: list[MissingRecordAlert]
    meals: list[str]


def day_records(*, actor: Any, canteen, day: date) -> DayRecords:
    schedule = KitchenSchedule.objects.filter(canteen=canteen).first()
    return DayRecords(
        day=day,
        checks=list(MorningCheck.objects.visible_to(actor).filter(canteen=canteen, day=day).select_related("staff")),
        samples=list(FoodSample.objects.visible_to(actor).filter(canteen=canteen, day=day)),
        disinfections=list(DisinfectionRecord.objects.visible_to(actor).filter(canteen=canteen, day=day)),
        accompanied=list(AccompaniedMeal.objects.visible_to(actor).filter(canteen=canteen, day=day)),
        waste=list(WasteDisposal.objects.visible_to(actor).filter(canteen=canteen, day=day)),
        missing=list(MissingRecordAlert.objects.visible_to(actor).filter(canteen=canteen, day=day)),
        meals=(schedule.meals if schedule and schedule.meals else [Meal.LUNCH]),
    )


def missing_alerts(*, actor: Any, since: date) -> QuerySet[MissingRecordAlert]:
    return MissingRecordAlert.objects.visible_to(actor).filter(day__gte=since).select_related("canteen__campus")

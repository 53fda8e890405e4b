"""Writes of the kitchen domain. Video processes (supervisor, analyser) call alarm_raise; the web
calls the camera, alarm-transition and daily-record services."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from django.db import IntegrityError, transaction
from django.utils import timezone

from canteen.core.audit import audit_record
from canteen.core.errors import InvalidTransition, NotFound
from canteen.core.events import publish

from .choices import AlarmStatus, Area, Codec, DisinfectionMethod, HealthStatus, Meal, RecordKind
from .crypto import encrypt_credentials
from .errors import (
    CameraUrlInvalid,
    DisinfectionTooShort,
    DuplicateRecord,
    InvalidScore,
    SampleKeptTooShort,
    SampleStillHeld,
    SampleTooSmall,
    StaffOffDuty,
)
from .models import (
    AccompaniedMeal,
    Alarm,
    AlarmTransition,
    Camera,
    CameraHealth,
    DisinfectionRecord,
    FoodSample,
    KitchenSchedule,
    KitchenStaff,
    MissingRecordAlert,
    MorningCheck,
    WasteDisposal,
)

ALLOWED_SCHEMES = {"rtsp", "rtsps", "udp", "tcp", "srt", "http", "https"}
MIN_SAMPLE_G = 125
MIN_SAMPLE_HOURS = 48
FEVER_C = Decimal("37.3")

# Alarm state machine: from → allowed targets.
ALARM_MOVES: dict[str, set[str]] = {
    AlarmStatus.OPEN: {AlarmStatus.ACKNOWLEDGED, AlarmStatus.RESOLVED, AlarmStatus.DISMISSED},
    AlarmStatus.ACKNOWLEDGED: {AlarmStatus.RESOLVED, AlarmStatus.DISMISSED},
    AlarmStatus.RESOLVED: set(),
    AlarmStatus.DISMISSED: set(),
}


def _org_ids(canteen) -> dict[str, str]:
    campus = canteen.campus
    return {
        "campus_id": str(campus.id),
        "school_id": str(campus.school_id),
        "district_id": str(campus.school.district_id),
    }


# --- cameras -------------------------------------------------------------------------------


def _split_url(url: str) -> tuple[str, str, str]:
    """Validate the address and take any user:password out of it (they are stored encrypted)."""
    url = (url or "").strip()
    parts = urlsplit(url)
    if parts.scheme not in ALLOWED_SCHEMES or not parts.hostname:
        raise CameraUrlInvalid()
    username = unquote(parts.username or "")
    password = unquote(parts.password or "")
    host = parts.hostname + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, host, parts.path, parts.query, "")), username, password


@transaction.atomic
def camera_create(
    *,
    actor: Any,
    canteen,
    name: str,
    area: str,
    stream_url: str,
    username: str = "",
    password: str = "",
    codec: str = Codec.H264,
    sort_order: int = 0,
) -> Camera:
    if area not in Area.values:
        raise CameraUrlInvalid("区域无效", "Unknown area", code="kitchen.area_invalid")
    clean_url, url_user, url_password = _split_url(stream_url)
    camera = Camera(canteen=canteen, name=name.strip(), area=area, stream_url=clean_url, codec=codec)
    camera.sort_order = sort_order
    camera.credentials_enc = encrypt_credentials(str(camera.id), username or url_user, password or url_password)
    try:
        with transaction.atomic():
            camera.save()
    except IntegrityError as exc:
        raise DuplicateRecord("该食堂已有同名摄像头", "This canteen already has a camera of that name") from exc
    CameraHealth.objects.create(camera=camera, status=HealthStatus.OFFLINE)
    ids = _org_ids(canteen)
    audit_record(
        actor=actor,
        action="kitchen.camera_created",
        target=camera,
        after={"name": camera.name, "area": area, "url": clean_url, "credentials": camera.has_credentials},
        district_id=ids["district_id"],
        school_id=ids["school_id"],
    )
    return camera


@transaction.atomic
def camera_update(
    *,
    actor: Any,
    camera: Camera,
    stream_url: str | None = None,
    username: str | None = None,
    password: str | None = None,
    enabled: bool | None = None,
    area: str | None = None,
) -> Camera:
    before = {"url": camera.stream_url, "enabled": camera.enabled, "area": camera.area}
    if stream_url is not None:
        camera.stream_url, url_user, url_password = _split_url(stream_url)
        if url_user:
            username, password = url_user, url_password
    if username is not None:
        camera.credentials_enc = encrypt_credentials(str(camera.id), username, password or "")
    if enabled is not None:
        camera.enabled = enabled
    if area is not None:
        if area not in Area.values:
            raise CameraUrlInvalid("区域无效", "Unknown area", code="kitchen.area_invalid")
        camera.area = area
    camera.save()
    ids = _org_ids(camera.canteen)
    audit_record(
        actor=actor,
        action="kitchen.camera_updated",
        target=camera,
        before=before,
        after={"url": camera.stream_url, "enabled": camera.enabled, "area": camera.area},
        district_id=ids["district_id"],
        school_id=ids["school_id"],
    )
    return camera


@transaction.atomic
def schedule_set(
    *, actor: Any, canteen, work_start: time, work_end: time, work_days: list[int], meals: list[str]
) -> KitchenSchedule:
    schedule, _ = KitchenSchedule.objects.update_or_create(
        canteen=canteen,
        defaults={
            "work_start": work_start,
            "work_end": work_end,
            "work_days": sorted({int(d) for d in work_days if 0 <= int(d) <= 6}),
            "meals": [m for m in meals if m in Meal.values],
        },
    )
    audit_record(actor=actor, action="kitchen.schedule_set", target=schedule, after={"meals": schedule.meals})
    return schedule


# --- alarms --------------------------------------------------------------------------------


@transaction.atomic
def alarm_raise(
    *,
    camera: Camera,
    kind: str,
    at: datetime,
    snapshot: str = "",
    score: float = 0.0,
    detail: dict | None = None,
) -> Alarm:
    """Called by the analyser (never the web). Publishes kitchen.alarm_raised for supervision."""
    alarm = Alarm.objects.create(camera=camera, kind=kind, at=at, snapshot=snapshot, score=score, detail=detail or {})
    AlarmTransition.objects.create(alarm=alarm, from_status="", to_status=AlarmStatus.OPEN, note=kind)
    ids = _org_ids(camera.canteen)
    publish(
        "kitchen.alarm_raised",
        {
            "alarm_id": str(alarm.id),
            "kind": kind,
            "camera_id": str(camera.id),
            **ids,
            "at": at.isoformat(),
        },
    )
    audit_record(
        actor=None,
        action="kitchen.alarm_raised",
        target=alarm,
        after={"kind": kind, "camera": str(camera.id), "score": score},
        district_id=ids["district_id"],
        school_id=ids["school_id"],
    )
    return alarm


def alarm_attach_clip(*, alarm_id, clip: str) -> None:
    Alarm.objects.filter(pk=alarm_id).update(clip=clip)


@transaction.atomic
def alarm_move(*, actor: Any, alarm_id, to_status: str, note: str = "") -> Alarm:
    try:
        alarm = Alarm.objects.visible_to(actor).select_for_update().get(pk=alarm_id)
    except Alarm.DoesNotExist as exc:
        raise NotFound() from exc
    if to_status not in ALARM_MOVES.get(alarm.status, set()):
        raise InvalidTransition(details={"from": alarm.status, "to": to_status})
    before = alarm.status
    alarm.status = to_status
    alarm.save(update_fields=["status", "updated_at"])
    AlarmTransition.objects.create(alarm=alarm, from_status=before, to_status=to_status, actor=actor, note=note[:300])
    audit_record(
        actor=actor, action="kitchen.alarm_moved", target=alarm, before={"status": before}, after={"status": to_status}
    )
    return alarm


# --- daily food-safety records --------------------------------------------------------------


@transaction.atomic
def staff_add(
    *,
    actor: Any,
    canteen,
    name: str,
    position: str = "",
    phone: str = "",
    certificate_no: str = "",
    certificate_expires: date | None = None,
) -> KitchenStaff:
    try:
        with transaction.atomic():
            staff = KitchenStaff.objects.create(
                canteen=canteen,
                name=name.strip(),
                position=position,
                phone=phone,
                health_certificate_no=certificate_no,
                health_certificate_expires=certificate_expires,
            )
    except IntegrityError as exc:
        raise DuplicateRecord() from exc
    audit_record(actor=actor, action="kitchen.staff_added", target=staff)
    return staff


@transaction.atomic
def morning_check_record(
    *,
    actor: Any,
    staff: KitchenStaff,
    day: date,
    temperature_c: Decimal,
    symptoms: list[str],
    note: str = "",
) -> MorningCheck:
    """One check per person per day. Fever, any symptom or an expired health certificate makes
    the person unfit, and unfit means off duty for the rest of the day."""
    temperature_c = Decimal(str(temperature_c)).quantize(Decimal("0.1"))
    expired = staff.health_certificate_expires is not None and staff.health_certificate_expires < day
    fit = temperature_c < FEVER_C and not symptoms and not expired
    if expired and "health_certificate_expired" not in note:
        note = (note + " health_certificate_expired").strip()
    try:
        with transaction.atomic():
            check = MorningCheck.objects.create(
                canteen=staff.canteen,
                staff=staff,
                day=day,
                temperature_c=temperature_c,
                symptoms=sorted(set(symptoms)),
                fit=fit,
                note=note[:200],
                checked_by=actor if getattr(actor, "pk", None) else None,
            )
    except IntegrityError as exc:
        raise DuplicateRecord("今日已晨检", "This person was already checked today") from exc
    audit_record(
        actor=actor,
        action="kitchen.morning_check",
        target=check,
        after={"staff": staff.name, "fit": fit, "temperature": str(temperature_c), "symptoms": check.symptoms},
    )
    return check


def staff_assert_on_duty(*, staff: KitchenStaff, day: date) -> None:
    """For other steps (e.g. signing a sample): an unfit person cannot work today."""
    if MorningCheck.objects.filter(staff=staff, day=day, fit=False).exists():
        raise StaffOffDuty()


@transaction.atomic
def food_sample_record(
    *,
    actor: Any,
    canteen,
    day: date,
    meal: str,
    dish_name: str,
    weight_g: int,
    sampler_name: str,
    sampled_at: datetime | None = None,
    keep_hours: int = MIN_SAMPLE_HOURS,
    storage: str = "",
    dish_ref=None,
) -> FoodSample:
    if meal not in Meal.values:
        raise DuplicateRecord("餐次无效", "Unknown meal", code="kitchen.meal_invalid")
    if int(weight_g) < MIN_SAMPLE_G:
        raise SampleTooSmall(details={"weight_g": weight_g, "minimum": MIN_SAMPLE_G})
    if int(keep_hours) < MIN_SAMPLE_HOURS:
        raise SampleKeptTooShort(details={"keep_hours": keep_hours, "minimum": MIN_SAMPLE_HOURS})
    sampler = KitchenStaff.objects.filter(canteen=canteen, name=sampler_name.strip()).first()
    if sampler is not None:
        staff_assert_on_duty(staff=sampler, day=day)
    sampled_at = sampled_at or timezone.now()
    try:
        with transaction.atomic():
            sample = FoodSample.objects.create(
                canteen=canteen,
                day=day,
                meal=meal,
                dish_name=dish_name.strip()[:80],
                dish_ref=dish_ref,
                weight_g=int(weight_g),
                sampled_at=sampled_at,
                sampler_name=sampler_name.strip()[:40],
                recorded_by=actor if getattr(actor, "pk", None) else None,
                storage=storage[:60],
                keep_until=sampled_at + timedelta(hours=int(keep_hours)),
            )
    except IntegrityError as exc:
        raise DuplicateRecord("该菜品本餐已留样", "This dish already has a sample for this meal") from exc
    audit_record(
        actor=actor,
        action="kitchen.food_sample",
        target=sample,
        after={"dish": sample.dish_name, "meal": meal, "day": str(day), "weight_g": sample.weight_g},
    )
    return sample


@transaction.atomic
def food_sample_discard(*, actor: Any, sample_id, now: datetime | None = None) -> FoodSample:
    now = now or timezone.now()
    sample = FoodSample.objects.visible_to(actor).select_for_update().filter(pk=sample_id).first()
    if sample is None:
        raise NotFound()
    if sample.discarded_at is not None:
        raise DuplicateRecord("该留样已处理", "This sample was already discarded")
    if now < sample.keep_until:
        raise SampleStillHeld(details={"keep_until": sample.keep_until.isoformat()})
    sample.discarded_at = now
    sample.discarded_by = actor if getattr(actor, "pk", None) else None
    sample.save(update_fields=["discarded_at", "discarded_by", "updated_at"])
    audit_record(actor=actor, action="kitchen.food_sample_discarded", target=sample)
    return sample


# Minimum exposure per method (消毒: 《餐饮服务食品安全操作规范》 summarised).
DISINFECTION_RULES: dict[str, dict[str, int]] = {
    DisinfectionMethod.STEAM: {"minutes": 10, "temperature_c": 100},
    DisinfectionMethod.BOILING: {"minutes": 10, "temperature_c": 100},
    DisinfectionMethod.INFRARED_CABINET: {"minutes": 10, "temperature_c": 120},
    DisinfectionMethod.CHLORINE: {"minutes": 5, "concentration_mg_l": 250},
    DisinfectionMethod.UV: {"minutes": 30},
}


@transaction.atomic
def disinfection_record(
    *,
    actor: Any,
    canteen,
    target: str,
    method: str,
    started_at: datetime,
    duration_min: int,
    operator_name: str,
    temperature_c: int | None = None,
    concentration_mg_l: int | None = None,
    quantity: str = "",
) -> DisinfectionRecord:
    rule = DISINFECTION_RULES.get(method)
    if rule is None:
        raise DisinfectionTooShort("消毒方式无效", "Unknown disinfection method", code="kitchen.method_invalid")
    shortfalls = {}
    if duration_min < rule["minutes"]:
        shortfalls["duration_min"] = rule["minutes"]
    if "temperature_c" in rule and (temperature_c or 0) < rule["temperature_c"]:
        shortfalls["temperature_c"] = rule["temperature_c"]
    if "concentration_mg_l" in rule and (concentration_mg_l or 0) < rule["concentration_mg_l"]:
        shortfalls["concentration_mg_l"] = rule["concentration_mg_l"]
    if shortfalls:
        raise DisinfectionTooShort(details={"minimum": shortfalls})
    record = DisinfectionRecord.objects.create(
        canteen=canteen,
        day=timezone.localtime(started_at).date(),
        target=target,
        method=method,
        started_at=started_at,
        duration_min=duration_min,
        temperature_c=temperature_c,
        concentration_mg_l=concentration_mg_l,
        quantity=quantity[:60],
        operator_name=operator_name.strip()[:40],
        recorded_by=actor if getattr(actor, "pk", None) else None,
    )
    audit_record(actor=actor, action="kitchen.disinfection", target=record, after={"method": method, "target": target})
    return record


@transaction.atomic
def accompanied_meal_record(
    *,
    actor: Any,
    canteen,
    day: date,
    meal: str,
    leader_name: str,
    leader_title: str = "",
    taste_score: int,
    hygiene_score: int,
    portion_score: int,
    comments: str,
    issues: str = "",
) -> AccompaniedMeal:
    scores = (taste_score, hygiene_score, portion_score)
    if any(not 1 <= int(s) <= 5 for s in scores):
        raise InvalidScore()
    if not comments.strip():
        raise InvalidScore("请填写陪餐意见", "Please write the comments", code="kitchen.comments_required")
    record = AccompaniedMeal.objects.create(
        canteen=canteen,
        day=day,
        meal=meal,
        leader_name=leader_name.strip()[:40],
        leader_title=leader_title[:40],
        taste_score=taste_score,
        hygiene_score=hygiene_score,
        portion_score=portion_score,
        comments=comments.strip(),
        issues=issues.strip(),
        recorded_by=actor if getattr(actor, "pk", None) else None,
    )
    audit_record(actor=actor, action="kitchen.accompanied_meal", target=record, after={"leader": record.leader_name})
    return record


@transaction.atomic
def waste_disposal_record(
    *,
    actor: Any,
    canteen,
    kind: str,
    weight_kg: Decimal,
    collector_company: str,
    disposed_at: datetime,
    collector_name: str = "",
    receipt_no: str = "",
) -> WasteDisposal:
    weight = Decimal(str(weight_kg)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    if weight <= 0:
        raise InvalidScore("重量须大于 0", "The weight must be above zero", code="kitchen.weight_invalid")
    record = WasteDisposal.objects.create(
        canteen=canteen,
        day=timezone.localtime(disposed_at).date(),
        kind=kind,
        weight_kg=weight,
        collector_company=collector_company.strip()[:80],
        collector_name=collector_name[:40],
        receipt_no=receipt_no[:40],
        disposed_at=disposed_at,
        recorded_by=actor if getattr(actor, "pk", None) else None,
    )
    audit_record(actor=actor, action="kitchen.waste_disposal", target=record, after={"kind": kind, "kg": str(weight)})
    return record


@transaction.atomic
def missing_record_raise(*, canteen, kind: str, day: date, meal: str, detail: dict) -> MissingRecordAlert | None:
    """Idempotent: the first sweep that finds the gap raises it; later sweeps find it raised."""
    alert, created = MissingRecordAlert.objects.get_or_create(
        canteen=canteen, kind=kind, day=day, meal=meal, defaults={"detail": detail}
    )
    if not created:
        return None
    # A first gap is an alert to the canteen; a repeat of the same kind within a week is a case
    # (supervision opens it when `repeated` is true).
    recent = MissingRecordAlert.objects.filter(
        canteen=canteen, kind=kind, day__gte=day - timedelta(days=REPEAT_WINDOW_DAYS), day__lte=day
    ).count()
    publish(
        "kitchen.record_missing",
        {
            "kind": kind,
            **_org_ids(canteen),
            "day": day.isoformat(),
            "meal": meal,
            "canteen_id": str(canteen.id),
            "repeated": recent >= 2,
            "count_in_window": recent,
        },
    )
    return alert


REPEAT_WINDOW_DAYS = 7


__all__ = [
    "ALARM_MOVES",
    "RecordKind",
    "accompanied_meal_record",
    "alarm_attach_clip",
    "alarm_move",
    "alarm_raise",
    "camera_create",
    "camera_update",
    "disinfection_record",
    "food_sample_discard",
    "food_sample_record",
    "missing_record_raise",
    "morning_check_record",
    "schedule_set",
    "staff_add",
    "staff_assert_on_duty",
    "waste_disposal_record",
]

"""The home page's to-do items of the kitchen: today's food-safety records not made yet, the
records the daily sweep found missing, and video alarms nobody has looked at."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.urls import reverse
from django.utils import timezone

from canteen.core.i18n import tr
from canteen.core.todo import URGENT, WARN, Todo
from canteen.org.choices import REGULATOR_ROLES

from .choices import AlarmStatus
from .models import MorningCheck
from .selectors import alarms_visible, canteens_for, missing_alerts

RECORD_ROLES = {"canteen_manager", "storekeeper", "school_admin"}


def todo_items(actor: Any) -> list[Todo]:
    role = getattr(actor, "role", "")
    today = timezone.localdate()
    items: list[Todo] = []
    if role in RECORD_ROLES:
        records = reverse("kitchen:records")
        for canteen in list(canteens_for(actor=actor))[:5]:
            if not MorningCheck.objects.visible_to(actor).filter(canteen=canteen, day=today).exists():
                items.append(
                    Todo(
                        tr(f"{canteen.name}：今日晨检未登记", f"{canteen.name}: no morning check today"),
                        f"{records}?canteen={canteen.pk}",
                        WARN,
                        kind="kitchen.morning_check_missing",
                    )
                )
        missing = missing_alerts(actor=actor, since=today - timedelta(days=1)).count()
        if missing:
            items.append(
                Todo(
                    tr(f"{missing} 项食品安全记录缺失（昨日与今日）", f"{missing} food-safety records missing"),
                    records,
                    URGENT,
                    missing,
                    kind="kitchen.records_missing",
                )
            )
    if role in RECORD_ROLES or role in REGULATOR_ROLES:
        open_alarms = alarms_visible(actor=actor, status=AlarmStatus.OPEN).count()
        if open_alarms:
            items.append(
                Todo(
                    tr(f"{open_alarms} 条视频告警待处理", f"{open_alarms} video alarms to handle"),
                    f"{reverse('kitchen:alarms')}?status={AlarmStatus.OPEN}",
                    WARN,
                    open_alarms,
                    kind="kitchen.alarms_open",
                )
            )
    return items

from datetime import timedelta

import pytest
from django.utils import timezone

from canteen.core.worker import discover
from canteen.org.choices import Role
from canteen.supervision import services, tasks
from canteen.supervision.choices import CaseSource, Flag
from canteen.supervision.models import CampusDim, Case, LiveItem, ProcessedEvent

pytestmark = pytest.mark.django_db


def test_the_worker_finds_and_runs_supervision_jobs(world):
    names = set(discover())
    assert {
        "supervision.escalate_overdue",
        "supervision.refresh_campus_dim",
        "supervision.ensure_partitions",
        "supervision.prune",
    } <= names
    case, _ = services.case_open(
        actor=None,
        source=CaseSource.MANUAL,
        title="t",
        district_id=world.districts[0].pk,
        school_id=world.schools[0].pk,
    )
    services.case_assign(case=case, actor=world.user(Role.DISTRICT_REGULATOR))
    Case.objects.filter(pk=case.pk).update(deadline=timezone.now() - timedelta(days=3))
    assert tasks.escalate_overdue() == "1 case(s) flagged"
    assert Case.objects.get(pk=case.pk).flag == Flag.RED
    assert tasks.refresh_campus_dim() == "8 campuses"
    assert CampusDim.objects.get(campus_id=world.campuses[0].pk).enrolled == 3
    tasks.ensure_partitions()
    old = timezone.now() - timedelta(days=30)
    ProcessedEvent.objects.create(event_id=10**12, topic="x", processed_at=old)
    LiveItem.objects.create(kind="alarm", text_zh="旧", text_en="old", at=old)
    result = tasks.prune()
    assert "processed=1" in result
    assert "live=" in result
    assert not LiveItem.objects.filter(text_en="old").exists()

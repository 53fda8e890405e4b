import pytest

from canteen.core.audit import audit_record
from canteen.core.context import request_id_var
from canteen.core.models import AuditEvent
from canteen.org.choices import Role
from canteen.org.services import student_set_status


@pytest.mark.django_db
def test_a_status_change_is_audited_with_before_after_and_request_id(world):
    admin = world.user(Role.SCHOOL_ADMIN)
    student = world.students[0]
    token = request_id_var.set("req-abcdef123")
    try:
        student_set_status(actor=admin, student=student, status="left")
    finally:
        request_id_var.reset(token)
    event = AuditEvent.objects.get(action="student.status")
    assert event.actor == admin
    assert event.target_id == str(student.pk)
    assert event.before == {"status": "enrolled"}
    assert event.after == {"status": "left"}
    assert event.request_id == "req-abcdef123"
    assert event.school_id == student.campus.school_id


@pytest.mark.django_db
def test_audit_events_cannot_be_changed_or_deleted(world):
    event = audit_record(actor=None, action="test.thing", target_type="x", target_id="1")
    event.action = "tampered"
    with pytest.raises(TypeError, match="append-only"):
        event.save()
    with pytest.raises(TypeError, match="append-only"):
        event.delete()
    with pytest.raises(TypeError, match="append-only"):
        AuditEvent.objects.filter(pk=event.pk).update(action="tampered")
    with pytest.raises(TypeError, match="append-only"):
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.get(pk=event.pk).action == "test.thing"


@pytest.mark.django_db
def test_a_school_admin_reads_only_their_school_audit_trail(world):
    audit_record(actor=None, action="a", target_type="x", target_id="1", school_id=world.schools[0].pk)
    audit_record(actor=None, action="b", target_type="x", target_id="2", school_id=world.schools[1].pk)
    admin = world.user(Role.SCHOOL_ADMIN)
    assert list(AuditEvent.objects.visible_to(admin).values_list("action", flat=True)) == ["a"]
    assert AuditEvent.objects.visible_to(world.user(Role.GUARDIAN)).count() == 0

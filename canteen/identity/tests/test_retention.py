"""A student who leaves the school keeps no face data, without anyone having to remember."""

import pytest

from canteen.core.models import AuditEvent, OutboxEvent
from canteen.identity import selectors, services
from canteen.identity.models import FaceConsent, FaceTemplate
from canteen.identity.tasks import purge_departed
from canteen.identity.tests.helpers import consent_and_enrol
from canteen.org.choices import StudentStatus

pytestmark = pytest.mark.django_db


def test_face_data_of_a_student_who_left_is_purged_once(world, portrait_jpegs):
    leaver, stayer = world.students[0], world.students[1]
    consent_and_enrol(leaver, portrait_jpegs["astronaut"])
    consent_and_enrol(stayer, portrait_jpegs["tom"])
    version = selectors.gallery_version(campus=leaver.campus)
    leaver.status = StudentStatus.LEFT
    leaver.save()
    assert purge_departed() == "1 student(s) purged"
    assert not FaceTemplate.objects.filter(student=leaver).exists()
    assert FaceTemplate.objects.filter(student=stayer).exists()
    assert FaceConsent.objects.get(student=leaver).withdrawal_reason == "student_left"
    assert selectors.gallery_version(campus=leaver.campus) == version + 1
    assert OutboxEvent.objects.filter(topic="identity.face_withdrawn", payload__student_id=str(leaver.pk)).exists()
    assert AuditEvent.objects.filter(action="identity.face_data_purged", target_id=str(leaver.pk)).count() == 1
    assert services.face_data_purge_departed() == 0

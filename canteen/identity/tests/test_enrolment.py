"""Enrolment rules: who may enrol, one face per photo, same child across photos, and the photo
is discarded unless the guardian opted to keep one for the window."""

import pytest

from canteen.core.errors import Forbidden, ValidationFailed
from canteen.core.models import AuditEvent
from canteen.identity import samples as faces
from canteen.identity import selectors, services
from canteen.identity.errors import ConsentRequired, NotGuardianOfStudent, PhotoRejected
from canteen.identity.models import DisplayPhoto, FaceTemplate, TemplateSource
from canteen.org.choices import Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def consented(world):
    student = world.students[0]
    services.consent_give(student=student, actor=world.user(Role.GUARDIAN), keep_display_photo=True)
    return student


def enrol(student, actor, photos, source=TemplateSource.GUARDIAN_UPLOAD, **kw):
    return services.face_enrol(student=student, actor=actor, photos=photos, source=source, **kw)


def test_a_bad_photo_is_refused_with_its_number_and_nothing_is_stored(world, consented, portrait_jpegs, group_photo):
    group = faces.jpeg_bytes(group_photo)
    with pytest.raises(PhotoRejected) as exc:
        enrol(consented, world.user(Role.GUARDIAN), [portrait_jpegs["astronaut"], group])
    assert exc.value.code == "several_faces"
    assert exc.value.details["photo"] == 2
    assert not FaceTemplate.objects.exists()
    assert selectors.gallery_version(campus=consented.campus) == 0


def test_photos_of_two_different_people_are_refused(world, consented, portrait_jpegs):
    with pytest.raises(PhotoRejected) as exc:
        enrol(consented, world.user(Role.GUARDIAN), [portrait_jpegs["astronaut"], portrait_jpegs["tom"]])
    assert exc.value.code == "different_people"
    assert not FaceTemplate.objects.exists()


def test_no_photo_or_too_many_photos(world, consented, portrait_jpegs):
    with pytest.raises(ValidationFailed):
        enrol(consented, world.user(Role.GUARDIAN), [])
    with pytest.raises(ValidationFailed):
        enrol(consented, world.user(Role.GUARDIAN), [portrait_jpegs["tom"]] * 6)


def test_the_photo_is_discarded_unless_the_guardian_asks_to_keep_it(world, consented, portrait_jpegs):
    parent = world.user(Role.GUARDIAN)
    enrol(consented, parent, [portrait_jpegs["astronaut"]])
    assert not DisplayPhoto.objects.exists()
    enrol(consented, parent, [portrait_jpegs["astronaut"]], keep_photo=True)
    photo = DisplayPhoto.objects.get(student=consented)
    assert b"JFIF" not in bytes(photo.sealed_jpeg)  # sealed, not a JPEG at rest
    jpeg = selectors.display_photo_jpeg(student=consented, actor=world.user(Role.WINDOW_OPERATOR))
    assert jpeg[:2] == b"\xff\xd8"
    assert AuditEvent.objects.filter(action="identity.display_photo_accessed").count() == 1
    with pytest.raises(Forbidden):
        selectors.display_photo_jpeg(student=consented, actor=world.user(Role.DISTRICT_REGULATOR))


def test_keep_photo_needs_the_opt_in_given_at_consent(world, portrait_jpegs):
    student = world.students[0]
    services.consent_give(student=student, actor=world.user(Role.GUARDIAN), keep_display_photo=False)
    enrol(student, world.user(Role.GUARDIAN), [portrait_jpegs["astronaut"]], keep_photo=True)
    assert not DisplayPhoto.objects.exists()


def test_re_enrolment_replaces_the_old_templates(world, consented, portrait_jpegs):
    parent = world.user(Role.GUARDIAN)
    enrol(consented, parent, [portrait_jpegs["astronaut"]])
    first = set(FaceTemplate.objects.values_list("pk", flat=True))
    enrol(consented, parent, [portrait_jpegs["astronaut"]])
    second = set(FaceTemplate.objects.values_list("pk", flat=True))
    assert len(second) == 1
    assert not first & second
    assert AuditEvent.objects.filter(action="identity.face_enrolled").latest("id").after["replaced"] == 1


@pytest.mark.parametrize("role", [Role.STOREKEEPER, Role.DISTRICT_REGULATOR, Role.CITY_REGULATOR, Role.SUPPLIER_USER])
def test_roles_without_a_need_cannot_capture(world, consented, portrait_jpegs, role):
    with pytest.raises(Forbidden):
        enrol(consented, world.user(role), [portrait_jpegs["astronaut"]], source=TemplateSource.STAFF_CAPTURE)


def test_a_guardian_cannot_upload_for_another_child(world, portrait_jpegs):
    other = world.students[1]
    with pytest.raises(NotGuardianOfStudent):
        enrol(other, world.user(Role.GUARDIAN), [portrait_jpegs["astronaut"]])


def test_staff_cannot_pose_as_guardian_upload(world, consented, portrait_jpegs):
    with pytest.raises(NotGuardianOfStudent):
        enrol(consented, world.user(Role.SCHOOL_ADMIN), [portrait_jpegs["astronaut"]])


def test_a_withdrawal_while_photos_are_processed_stores_nothing(world, consented, portrait_jpegs, engine):
    """The guardian withdraws on one phone while the other parent's upload is being analysed."""

    class WithdrawMidway:
        def enrol_face(self, image):
            result = engine.enrol_face(image)
            services.consent_withdraw(student=consented, actor=world.user(Role.GUARDIAN))
            return result

    with pytest.raises(ConsentRequired):
        services.face_enrol(
            student=consented,
            actor=world.user(Role.GUARDIAN),
            photos=[portrait_jpegs["astronaut"]],
            source=TemplateSource.GUARDIAN_UPLOAD,
            engine=WithdrawMidway(),
        )
    assert not FaceTemplate.objects.exists()
    assert not DisplayPhoto.objects.exists()

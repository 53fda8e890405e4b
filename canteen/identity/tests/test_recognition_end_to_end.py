"""End to end with real faces: guardians upload photos, the campus gallery is built from the
encrypted templates, and window frames identify the right child; a stranger is refused. The
same holds on a terminal that only has the encrypted package."""

import numpy as np
import pytest

from canteen.core.models import AuditEvent
from canteen.identity import samples as faces
from canteen.identity import selectors, services
from canteen.identity.engine import FaceEngine
from canteen.identity.errors import GalleryPackageInvalid
from canteen.identity.models import FaceTemplate
from canteen.identity.tests.helpers import add_students, consent_and_enrol
from canteen.org.choices import Role

pytestmark = pytest.mark.django_db

ENROLLED = ["group1", "group2", "group3", "group5", "group6", "tom", "astronaut"]
STRANGER = "group4"  # photographed, never enrolled


@pytest.fixture
def campus_with_faces(world, portrait_jpegs):
    campus = world.campuses[0]
    klass = world.students[0].school_class
    students = add_students(campus, klass, [f"学生{name}" for name in ENROLLED])
    by_name = {}
    for name, student in zip(ENROLLED, students, strict=True):
        consent_and_enrol(student, portrait_jpegs[name])
        by_name[name] = student
    return campus, by_name


def test_the_right_child_is_identified_among_several_from_window_frames(world, portraits, campus_with_faces):
    campus, students = campus_with_faces
    gallery = selectors.gallery_for_campus(campus=campus, actor=world.user(Role.WINDOW_OPERATOR), purpose="checkout")
    assert gallery.student_count == len(ENROLLED)
    engine = FaceEngine.default()
    for seed, name in enumerate(ENROLLED):
        probe = faces.AUGMENTATIONS["darker" if seed % 2 else "flip"](portraits[name])
        # As the child steps up the face grows from frame to frame; HOG may miss a frame, the
        # terminal simply takes the next one.
        for face_width in (120, 140, 100):
            found = engine.embed_frame(faces.window_frame(probe, seed=seed, face_width=face_width))
            if found:
                break
        assert len(found) == 1, name
        match = gallery.identify(found[0][1])
        assert match.decision == "accept", (name, match)
        assert match.student_id == str(students[name].pk)
        assert match.score > 0.9


def test_an_unknown_face_is_rejected(world, portraits, campus_with_faces):
    campus, _ = campus_with_faces
    gallery = selectors.gallery_for_campus(campus=campus, actor=world.user(Role.WINDOW_OPERATOR), purpose="checkout")
    [(box, embedding)] = FaceEngine.default().embed_frame(faces.window_frame(portraits[STRANGER]))
    match = gallery.identify(embedding)
    assert match.decision == "reject"
    assert match.student_id is None


def test_a_terminal_identifies_from_the_encrypted_package_alone(world, portraits, campus_with_faces):
    campus, students = campus_with_faces
    package = services.terminal_gallery_package(campus=campus, actor=world.user(Role.CANTEEN_MANAGER))
    # The package carries no readable template or student id.
    assert str(students["tom"].pk).encode() not in package
    header = services.gallery_package_header(package)
    assert header["version"] == selectors.gallery_version(campus=campus)
    assert header["count"] == len(ENROLLED)
    key = services.terminal_package_key(campus=campus)
    gallery = services.gallery_package_open(package, key=key)
    [(box, embedding)] = FaceEngine.default().embed_frame(faces.window_frame(portraits["tom"]))
    assert gallery.identify(embedding).student_id == str(students["tom"].pk)
    other_campus_key = services.terminal_package_key(campus=world.campuses[1])
    with pytest.raises(GalleryPackageInvalid):
        services.gallery_package_open(package, key=other_campus_key)
    tampered = bytearray(package)
    tampered[-5] ^= 0x01
    with pytest.raises(GalleryPackageInvalid):
        services.gallery_package_open(bytes(tampered), key=key)


def test_templates_are_encrypted_and_bound_to_their_student(world, campus_with_faces):
    campus, students = campus_with_faces
    tom, astronaut = (
        FaceTemplate.objects.get(student=students["tom"]),
        FaceTemplate.objects.get(student=students["astronaut"]),
    )
    assert len(bytes(tom.sealed)) == 2 + 12 + 128 * 4 + 16  # nonce + AES-GCM tag, no clear vector
    assert "sealed" not in str(tom)
    assert "sealed" not in repr(tom)
    # Copying one child's ciphertext onto another's row does not make a usable template.
    FaceTemplate.objects.filter(pk=astronaut.pk).update(sealed=tom.sealed)
    gallery = selectors.gallery_for_campus(campus=campus, actor=None, purpose="integrity-check")
    assert str(students["astronaut"].pk) not in gallery.student_ids
    assert str(students["tom"].pk) in gallery.student_ids
    corrupt = AuditEvent.objects.get(action="identity.templates_corrupt")
    assert corrupt.after == {"student_ids": [str(students["astronaut"].pk)]}


def test_staff_capture_of_several_photos_of_one_child(world, portraits, portrait_jpegs):
    student = world.students[0]
    services.consent_give(student=student, actor=world.user(Role.GUARDIAN))
    photos = [portrait_jpegs["group2"], faces.jpeg_bytes(faces.AUGMENTATIONS["brighter"](portraits["group2"]))]
    templates = services.face_enrol(
        student=student, actor=world.user(Role.CANTEEN_MANAGER), photos=photos, source="staff_capture"
    )
    assert len(templates) == 2
    assert all(t.face_px >= 80 for t in templates)
    gallery = selectors.gallery_for_campus(campus=student.campus, actor=world.user(Role.SCHOOL_ADMIN), purpose="t")
    assert gallery.student_ids == [str(student.pk)] * 2
    probe = FaceEngine.default().embed_frame(np.asarray(portraits["group2"]))[0][1]
    assert gallery.identify(probe).decision == "accept"

"""A school's photo day: a folder of photos named by student number, enrolled in one go."""

import pytest
from django.core.management import call_command

from canteen.identity import samples as faces
from canteen.identity import services
from canteen.identity.models import FaceTemplate
from canteen.identity.tests.helpers import guardian_user_of
from canteen.org.choices import Role

pytestmark = pytest.mark.django_db


def test_enrol_a_folder(world, tmp_path, portraits, capsys):
    a, b, c = world.students[:3]
    for student in (a, b):
        services.consent_give(student=student, actor=guardian_user_of(student))
    (tmp_path / f"{a.student_number}.jpg").write_bytes(faces.jpeg_bytes(portraits["tom"]))
    (tmp_path / f"{a.student_number}_2.jpg").write_bytes(
        faces.jpeg_bytes(faces.AUGMENTATIONS["flip"](portraits["tom"]))
    )
    (tmp_path / f"{b.student_number}.jpg").write_bytes(b"not a photo")
    (tmp_path / f"{c.student_number}.jpg").write_bytes(faces.jpeg_bytes(portraits["group1"]))
    (tmp_path / "notes.txt").write_text("ignored")
    call_command(
        "identity_enrol_folder", campus=a.campus.code, dir=str(tmp_path), user=world.user(Role.CANTEEN_MANAGER).username
    )
    out = capsys.readouterr().out
    assert FaceTemplate.objects.filter(student=a).count() == 2
    assert f"{b.student_number}: not_an_image" in out
    assert f"{c.student_number}: 未同意" in out
    assert not FaceTemplate.objects.filter(student__in=[b, c]).exists()
    assert "enrolled 1, no consent 1, refused 1" in out

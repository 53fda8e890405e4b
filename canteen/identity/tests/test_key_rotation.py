"""Rotating FACE_TEMPLATE_KEY: every template and kept photo is re-sealed, galleries still
identify, terminals are told to fetch a new package, and a second run changes nothing."""

import base64

import pytest
from django.core.management import call_command
from django.test import override_settings

from canteen.identity import samples as faces
from canteen.identity import selectors
from canteen.identity.engine import FaceEngine
from canteen.identity.models import FaceTemplate
from canteen.identity.tests.helpers import consent_and_enrol

pytestmark = pytest.mark.django_db

NEW_KEY = base64.b64encode(b"n" * 32).decode()


def test_rekey_moves_everything_to_the_new_key(world, portrait_jpegs, settings, monkeypatch, capsys):
    student = world.students[0]
    consent_and_enrol(student, portrait_jpegs["astronaut"], keep_display_photo=True)
    old_key = settings.FACE_TEMPLATE_KEY
    version = selectors.gallery_version(campus=student.campus)
    before = bytes(FaceTemplate.objects.get(student=student).sealed)
    with override_settings(FACE_TEMPLATE_KEY=NEW_KEY):
        # Under the new key and before rotation, the old template cannot be read.
        selectors.gallery_cache_invalidate(campus_id=student.campus_id)
        assert len(selectors.gallery_for_campus(campus=student.campus, actor=None, purpose="t")) == 0
        monkeypatch.setenv("CANTEEN_FACE_KEY_OLD", old_key)
        call_command("identity_rekey")
        assert "re-sealed 1 template(s), 1 photo(s)" in capsys.readouterr().out
        assert bytes(FaceTemplate.objects.get(student=student).sealed) != before
        assert selectors.gallery_version(campus=student.campus) == version + 1
        gallery = selectors.gallery_for_campus(campus=student.campus, actor=None, purpose="t")
        probe = FaceEngine.default().embed_frame(faces.window_frame(faces.astronaut()))[0][1]
        assert gallery.identify(probe).student_id == str(student.pk)
        assert selectors.display_photo_jpeg(student=student, actor=None)[:2] == b"\xff\xd8"
        call_command("identity_rekey")
        assert "re-sealed 0 template(s), 0 photo(s); 2 already" in capsys.readouterr().out

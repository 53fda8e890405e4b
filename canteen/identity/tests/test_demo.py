"""The demo seed gives a believable rollout and real enrolled faces on the demo campus."""

import numpy as np
import pytest

from canteen.identity import demo, selectors, services
from canteen.identity import samples as faces
from canteen.identity.models import FaceConsent, FaceTemplate, QrCredential
from canteen.org.demo import seed_organisation
from canteen.org.models import Student

pytestmark = pytest.mark.django_db


def test_demo_seed(engine):
    ctx = seed_organisation(seed=3, districts=1, schools=2, campuses=3, students_per_campus=30)
    demo.seed(ctx)
    students = Student.objects.count()
    active = FaceConsent.objects.filter(withdrawn_at__isnull=True).count()
    assert 0.35 * students < active < 0.8 * students
    assert FaceConsent.objects.filter(withdrawn_at__isnull=False).exists() or students < 100
    # Every student has face consent or a QR card: nobody is left without a way to eat.
    without = Student.objects.exclude(face_consents__withdrawn_at__isnull=True).exclude(
        qr_credentials__revoked_at__isnull=True
    )
    assert not without.exists()
    child = Student.objects.filter(guardian_links__guardian__user__username="guardian01").order_by("student_number")
    first, second = child[0], child[1]
    templates = FaceTemplate.objects.filter(student__campus=first.campus)
    assert 1 <= templates.count() <= 8
    gallery = selectors.gallery_for_campus(campus=first.campus, actor=None, purpose="demo-test")
    probe = engine.embed_frame(faces.window_frame(faces.astronaut()))[0][1]
    assert gallery.identify(probe).student_id == str(first.pk)
    assert services.credential_verify_pin(campus=second.campus, student_number=second.student_number, pin="2580")
    assert QrCredential.objects.exists()
    assert np.isfinite(gallery.matrix).all()

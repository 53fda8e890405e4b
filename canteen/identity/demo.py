"""Demo data for identity: a realistic rollout state.

- About 55 % of students have a guardian's active face consent and about 3 % withdrew one;
  students without consent hold a printed QR card (the alternative, issued to everyone who needs it).
- On the demo guardian's campus, the first eight students (including the demo guardian's two
  children) are enrolled with REAL face photos shipped in packages — scikit-image's astronaut,
  and, when the insightface wheel is in var/test-assets (the test suite puts it there), the six
  people of its group photo and Tom Hanks — so the window terminal and kiosk can be shown with
  real frames. Every other consented student is "consented, photo needed": no template is made
  up for them.
- The demo guardian's second child has the PIN 2580 (listed with the logins).
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
from django.utils import timezone

from canteen.org.choices import StudentStatus
from canteen.org.models import GuardianLink, Student

from .consent_text import CURRENT_VERSION, STORAGE_STATEMENT_EN, STORAGE_STATEMENT_ZH, consent_text_sha256
from .models import FaceConsent, FaceTemplate, PinCredential, QrCredential, TemplateSource

DEMO_PIN = "2580"


def _demo_portraits() -> list:
    """Real portraits available offline, astronaut first."""
    from canteen.identity import samples as faces

    people = [faces.astronaut()]
    if faces.sorted_local_wheels():
        portraits = faces.portraits()
        people += [im for name, im in portraits.items() if name != "astronaut"]
    return people


def seed(ctx) -> None:
    from . import crypto, services
    from .engine import FaceEngine

    now = timezone.now()
    statement = f"{STORAGE_STATEMENT_ZH} / {STORAGE_STATEMENT_EN}"[:200]
    sha = consent_text_sha256(CURRENT_VERSION)
    links = dict(
        GuardianLink.objects.filter(is_primary=True, student__campus__in=ctx.campuses).values_list(
            "student_id", "guardian_id"
        )
    )
    students = list(
        Student.objects.filter(campus__in=ctx.campuses, status=StudentStatus.ENROLLED)
        .order_by("campus__code", "student_number")
        .values_list("id", "campus_id")
    )
    consents, cards = [], []
    for student_id, _campus_id in ctx.progress(students, "identity consents"):
        guardian_id = links.get(student_id)
        roll = ctx.rng.random()
        if guardian_id and roll < 0.03:
            given = now - timedelta(days=ctx.rng.randint(60, 200))
            consents.append(
                FaceConsent(
                    student_id=student_id,
                    guardian_id=guardian_id,
                    given_at=given,
                    text_version=CURRENT_VERSION,
                    text_sha256=sha,
                    storage_statement=statement,
                    withdrawn_at=given + timedelta(days=ctx.rng.randint(5, 50)),
                    withdrawal_reason="guardian_page",
                )
            )
        elif guardian_id and roll < 0.58:
            consents.append(
                FaceConsent(
                    student_id=student_id,
                    guardian_id=guardian_id,
                    given_at=now - timedelta(days=ctx.rng.randint(1, 200)),
                    text_version=CURRENT_VERSION,
                    text_sha256=sha,
                    storage_statement=statement,
                    keep_display_photo=ctx.rng.random() < 0.3,
                )
            )
            continue
        cards.append(QrCredential(student_id=student_id))
    FaceConsent.objects.bulk_create(consents, batch_size=2000)
    QrCredential.objects.bulk_create(cards, batch_size=2000)

    # Real faces for the first students of the demo guardian's campus.
    first = (
        Student.objects.filter(campus__in=ctx.campuses, guardian_links__guardian__user__username="guardian01")
        .order_by("student_number")
        .first()
    )
    if first is None:
        return
    engine = FaceEngine.default()
    targets = list(
        Student.objects.filter(campus=first.campus, status=StudentStatus.ENROLLED).order_by("student_number")[:8]
    )
    for student, portrait in zip(targets, _demo_portraits(), strict=False):
        consent = FaceConsent.objects.filter(student=student, withdrawn_at__isnull=True).first()
        if consent is None:
            consent = FaceConsent.objects.create(
                student=student,
                guardian_id=links[student.pk],
                text_version=CURRENT_VERSION,
                text_sha256=sha,
                storage_statement=statement,
            )
        QrCredential.objects.filter(student=student).delete()
        box, embedding = engine.enrol_face(np.asarray(portrait))
        FaceTemplate.objects.create(
            student=student,
            consent=consent,
            sealed=crypto.seal_embedding(embedding, student_id=str(student.pk)),
            source=TemplateSource.STAFF_CAPTURE,
            face_px=box.width,
            detector_score=box.score,
        )
    services._bump_gallery_version(first.campus_id)
    children = list(
        Student.objects.filter(guardian_links__guardian__user__username="guardian01").order_by("student_number")
    )
    if len(children) > 1:
        pin_child = children[1]
        # A salt derived from the student number keeps the demo deterministic.
        salt = f"demo-{pin_child.student_number}".encode()[:16].ljust(16, b"-")
        PinCredential.objects.update_or_create(
            student=pin_child, defaults={"pin_hash": services._pin_hash(DEMO_PIN, salt)}
        )
        ctx.logins.append(("学号+PIN 演示 PIN demo", pin_child.student_number, f"PIN {DEMO_PIN} · {pin_child.name}"))

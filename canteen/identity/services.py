"""Writes of the identity domain: consent, enrolment, withdrawal, QR cards, PINs, and the
encrypted gallery package sent to window terminals."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import io
import json
import os
import struct
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import numpy as np
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core import signing
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone
from PIL import Image

from canteen.core.audit import audit_record
from canteen.core.db import model_from_row
from canteen.core.errors import ValidationFailed
from canteen.core.events import publish
from canteen.org.choices import StudentStatus
from canteen.org.models import Campus, Guardian, SchoolClass, Student

from . import crypto
from .access import require_guardian, require_guardian_or_staff, require_staff
from .consent_text import CURRENT_VERSION, STORAGE_STATEMENT_EN, STORAGE_STATEMENT_ZH, TEXTS, consent_text_sha256
from .engine import FaceEngine, load_image
from .errors import (
    ConsentAlreadyGiven,
    ConsentRequired,
    CredentialInvalid,
    CredentialRevoked,
    CredentialWrongCampus,
    GalleryPackageInvalid,
    PhotoRejected,
    PinLocked,
    PinNotSet,
    PinTooWeak,
    PinWrong,
)
from .gallery import Gallery, Thresholds
from .models import (
    DisplayPhoto,
    FaceConsent,
    FaceTemplate,
    GalleryState,
    PinCredential,
    QrCredential,
    TemplateSource,
)
from .selectors import gallery_cache_invalidate, gallery_for_campus

MAX_PHOTOS = 5
MAX_PHOTO_BYTES = 8 * 1024 * 1024


def _org(student: Student) -> dict[str, Any]:
    return {"district_id": student.campus.school.district_id, "school_id": student.campus.school_id}


def _bump_gallery_version(campus_id: Any) -> int:
    GalleryState.objects.get_or_create(campus_id=campus_id)
    GalleryState.objects.filter(campus_id=campus_id).update(version=F("version") + 1, changed_at=timezone.now())
    gallery_cache_invalidate(campus_id=campus_id)
    return GalleryState.objects.values_list("version", flat=True).get(campus_id=campus_id)


# -- consent -----------------------------------------------------------------------------------


@transaction.atomic
def consent_give(
    *, student: Student, actor: Any, keep_display_photo: bool = False, text_version: str = CURRENT_VERSION
) -> FaceConsent:
    """The guardian's separate consent, given by the guardian's own account (never by staff on
    their behalf): which guardian, when, which text, where the data goes."""
    require_guardian(actor, student)
    if text_version not in TEXTS:
        raise ValidationFailed("同意书版本无效", "Unknown consent text version")
    guardian = Guardian.objects.get(user=actor)
    # Lock the student row so two taps on "agree" make one consent, not an IntegrityError.
    Student.objects.select_for_update().filter(pk=student.pk).first()
    if FaceConsent.objects.filter(student=student, withdrawn_at__isnull=True).exists():
        raise ConsentAlreadyGiven()
    consent = FaceConsent.objects.create(
        student=student,
        guardian=guardian,
        given_by=actor,
        text_version=text_version,
        text_sha256=consent_text_sha256(text_version),
        storage_statement=f"{STORAGE_STATEMENT_ZH} / {STORAGE_STATEMENT_EN}"[:200],
        keep_display_photo=keep_display_photo,
    )
    audit_record(
        actor=actor,
        action="identity.consent_given",
        target=student,
        after={
            "consent_id": str(consent.pk),
            "guardian_id": str(guardian.pk),
            "text_version": text_version,
            "keep_display_photo": keep_display_photo,
        },
        **_org(student),
    )
    return consent


@transaction.atomic
def consent_withdraw(*, student: Student, actor: Any, reason: str = "") -> FaceConsent:
    """Ends the consent and deletes the student's templates and kept photo. The campus gallery
    version moves, so the server cache rebuilds and every terminal drops the student at its next
    version check (the `identity.face_withdrawn` event lets a connected terminal act at once)."""
    require_guardian_or_staff(actor, student)
    consent = FaceConsent.objects.select_for_update().filter(student=student, withdrawn_at__isnull=True).first()
    if consent is None:
        raise ConsentRequired("没有可撤回的同意", "There is no active consent to withdraw")
    templates_deleted, _ = FaceTemplate.objects.filter(student=student).delete()
    photos_deleted, _ = DisplayPhoto.objects.filter(student=student).delete()
    consent.withdrawn_at = timezone.now()
    consent.withdrawn_by = actor
    consent.withdrawal_reason = reason[:200]
    consent.save(update_fields=["withdrawn_at", "withdrawn_by", "withdrawal_reason", "updated_at"])
    version = _bump_gallery_version(student.campus_id)
    audit_record(
        actor=actor,
        action="identity.consent_withdrawn",
        target=student,
        after={
            "consent_id": str(consent.pk),
            "templates_deleted": templates_deleted,
            "photos_deleted": photos_deleted,
            "gallery_version": version,
        },
        **_org(student),
    )
    publish(
        "identity.face_withdrawn",
        {"student_id": str(student.pk), "campus_id": str(student.campus_id), "gallery_version": version},
    )
    return consent


# -- enrolment ---------------------------------------------------------------------------------


def _display_jpeg(image: np.ndarray) -> bytes:
    """A small JPEG for the window screen: enough to recognise a child, not a full-size photo."""
    im = Image.fromarray(image)
    im.thumbnail((360, 360))
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=80)
    return buf.getvalue()


def face_enrol(
    *,
    student: Student,
    actor: Any,
    photos: Sequence[bytes],
    source: str,
    keep_photo: bool = False,
    engine: FaceEngine | None = None,
) -> list[FaceTemplate]:
    """Templates from one or more photos, replacing earlier ones. Every photo must pass
    (PhotoRejected names the photo by `details.photo`), and the photos must show the same child.
    The photos are discarded once the templates exist, except one small copy when the guardian
    opted in at consent and asks to keep it now."""
    if source == TemplateSource.GUARDIAN_UPLOAD:
        require_guardian(actor, student)
    elif source == TemplateSource.STAFF_CAPTURE:
        require_staff(actor, student.campus)
    else:
        raise ValidationFailed("来源无效", "Unknown enrolment source")
    if not photos:
        raise ValidationFailed("请至少上传一张照片", "Upload at least one photo")
    if len(photos) > MAX_PHOTOS:
        raise ValidationFailed(f"最多上传 {MAX_PHOTOS} 张照片", f"Upload at most {MAX_PHOTOS} photos")
    consent = FaceConsent.objects.filter(student=student, withdrawn_at__isnull=True).first()
    if consent is None:
        raise ConsentRequired()
    engine = engine or FaceEngine.default()
    # The expensive part (≈ 0.1–0.3 s per photo) runs outside the transaction.
    results: list[tuple[np.ndarray, np.ndarray, Any]] = []
    for index, data in enumerate(photos):
        try:
            image = load_image(data)
            box, embedding = engine.enrol_face(image)
        except PhotoRejected as exc:
            exc.details["photo"] = index + 1
            raise
        results.append((image, embedding, box))
    if len(results) > 1:
        first = results[0][1]
        limit = Thresholds.from_settings().confirm_distance
        for index, (_, emb, _) in enumerate(results[1:], start=2):
            if float(np.linalg.norm(first - emb)) > limit:
                raise PhotoRejected("different_people", photo=index)
    with transaction.atomic():
        consent = FaceConsent.objects.select_for_update().filter(pk=consent.pk, withdrawn_at__isnull=True).first()
        if consent is None:  # withdrawn while the photos were being processed
            raise ConsentRequired()
        replaced, _ = FaceTemplate.objects.filter(student=student).delete()
        templates = [
            FaceTemplate.objects.create(
                student=student,
                consent=consent,
                sealed=crypto.seal_embedding(emb, student_id=str(student.pk)),
                source=source,
                face_px=box.width if box else 0,
                detector_score=box.score if box else 0.0,
                created_by=actor,
            )
            for _, emb, box in results
        ]
        kept = False
        if keep_photo and consent.keep_display_photo:
            DisplayPhoto.objects.update_or_create(
                student=student,
                defaults={
                    "consent": consent,
                    "sealed_jpeg": crypto.seal(_display_jpeg(results[0][0]), bound_to=f"display-photo:{student.pk}"),
                },
            )
            kept = True
        version = _bump_gallery_version(student.campus_id)
        audit_record(
            actor=actor,
            action="identity.face_enrolled",
            target=student,
            after={
                "templates": len(templates),
                "replaced": replaced,
                "source": source,
                "display_photo_kept": kept,
                "gallery_version": version,
            },
            **_org(student),
        )
    return templates


# -- terminal gallery package ------------------------------------------------------------------

_PACKAGE_MAGIC = b"CGP1"


def terminal_package_key(*, campus: Campus) -> bytes:
    """Per-campus transfer key derived from the template key: a terminal provisioned for one
    campus cannot open another campus's package."""
    return crypto.derived_key(f"canteen.identity.gallery-package.v1:{campus.pk}")


def terminal_gallery_package(*, campus: Campus, actor: Any) -> bytes:
    """The campus gallery, encrypted for a window terminal. The header (campus, version, count,
    thresholds) is readable without the key, so a terminal can tell it is stale before
    decrypting, and is authenticated with the body so it cannot be altered."""
    gallery = gallery_for_campus(campus=campus, actor=actor, purpose="terminal_package")
    header = {
        "campus_id": str(campus.pk),
        "version": gallery.version,
        "count": len(gallery),
        "created_at": timezone.now().isoformat(),
        "thresholds": {
            "accept_distance": gallery.thresholds.accept_distance,
            "confirm_distance": gallery.thresholds.confirm_distance,
            "min_margin": gallery.thresholds.min_margin,
        },
    }
    header_bytes = json.dumps(header, sort_keys=True).encode()
    ids = json.dumps(gallery.student_ids).encode()
    body = struct.pack(">I", len(ids)) + ids + gallery.matrix.astype("<f4").tobytes()
    nonce = os.urandom(12)
    aad = _PACKAGE_MAGIC + header_bytes
    sealed = AESGCM(terminal_package_key(campus=campus)).encrypt(nonce, body, aad)
    return _PACKAGE_MAGIC + struct.pack(">I", len(header_bytes)) + header_bytes + nonce + sealed


def gallery_package_header(data: bytes) -> dict:
    """The clear header of a package (campus_id, version, count); not authenticated on its own."""
    if not data.startswith(_PACKAGE_MAGIC) or len(data) < 8:
        raise GalleryPackageInvalid()
    (n,) = struct.unpack(">I", data[4:8])
    try:
        return json.loads(data[8 : 8 + n])
    except ValueError:
        raise GalleryPackageInvalid() from None


def gallery_package_open(data: bytes, *, key: bytes | None = None) -> Gallery:
    """Decrypt a package on a terminal. `key` is the campus transfer key; by default it is derived
    from this process's settings (a terminal process runs with the district's settings)."""
    header = gallery_package_header(data)
    (n,) = struct.unpack(">I", data[4:8])
    header_bytes = data[8 : 8 + n]
    nonce, sealed = data[8 + n : 20 + n], data[20 + n :]
    if key is None:
        key = terminal_package_key(campus=Campus(pk=header["campus_id"]))
    try:
        body = AESGCM(key).decrypt(nonce, sealed, _PACKAGE_MAGIC + header_bytes)
    except (InvalidTag, ValueError):
        raise GalleryPackageInvalid() from None
    (m,) = struct.unpack(">I", body[:4])
    ids = json.loads(body[4 : 4 + m])
    matrix = np.frombuffer(body[4 + m :], dtype="<f4").reshape(len(ids), 128) if ids else np.zeros((0, 128))
    return Gallery.from_templates(
        ids,
        matrix,
        thresholds=Thresholds(**header["thresholds"]),
        version=int(header["version"]),
        campus_id=header["campus_id"],
    )


# -- QR credentials ----------------------------------------------------------------------------

_QR_SALT = "canteen.identity.qr"
_QR_PREFIX = "CQ1"


def qr_token_for(credential: QrCredential) -> str:
    """Deterministic, so a card sheet can be reprinted without invalidating cards handed out."""
    raw = base64.urlsafe_b64encode(credential.pk.bytes).rstrip(b"=").decode()
    return signing.Signer(salt=_QR_SALT).sign(f"{_QR_PREFIX}.{raw}")


@transaction.atomic
def qr_credential_issue(*, student: Student, actor: Any) -> str:
    """A new QR token for the student; any earlier card stops working (lost-card replacement)."""
    require_guardian_or_staff(actor, student)
    Student.objects.select_for_update().filter(pk=student.pk).first()
    now = timezone.now()
    revoked = QrCredential.objects.filter(student=student, revoked_at__isnull=True).update(
        revoked_at=now, revoked_by=actor, updated_at=now
    )
    credential = QrCredential.objects.create(student=student, issued_by=actor)
    audit_record(
        actor=actor,
        action="identity.qr_issued",
        target=student,
        after={"credential_id": str(credential.pk), "revoked_previous": revoked},
        **_org(student),
    )
    return qr_token_for(credential)


@transaction.atomic
def qr_credential_revoke(*, student: Student, actor: Any) -> int:
    require_guardian_or_staff(actor, student)
    now = timezone.now()
    n = QrCredential.objects.filter(student=student, revoked_at__isnull=True).update(
        revoked_at=now, revoked_by=actor, updated_at=now
    )
    audit_record(actor=actor, action="identity.qr_revoked", target=student, after={"revoked": n}, **_org(student))
    return n


def _active_token(student: Student, actor: Any) -> str:
    credential = QrCredential.objects.filter(student=student, revoked_at__isnull=True).first()
    return qr_token_for(credential) if credential else qr_credential_issue(student=student, actor=actor)


@functools.cache
def _credential_sql(vendor: str) -> str:
    qn = connection.ops.quote_name
    student_columns = ", ".join(f"s.{qn(f.column)}" for f in Student._meta.concrete_fields)
    class_columns = ", ".join(
        f"k.{qn(f.column)} AS {qn('class_' + f.column)}" for f in SchoolClass._meta.concrete_fields
    )
    return (
        f"SELECT {student_columns}, {class_columns}, c.revoked_at AS credential_revoked_at "  # noqa: S608 - our tables
        f"FROM {qn(QrCredential._meta.db_table)} c JOIN {qn(Student._meta.db_table)} s ON s.id = c.student_id "
        f"JOIN {qn(SchoolClass._meta.db_table)} k ON k.id = s.school_class_id WHERE c.id = %s"
    )


def _student_of_credential(credential_id: Any) -> Student | None:
    """The card's student with their class (for the window's screen) and the card's revocation
    time, in one statement of fixed text: every QR checkout asks it, and building the
    three-table join through the ORM (or a raw queryset) cost more than the database spends on
    it."""
    pk = QrCredential._meta.pk.get_db_prep_value(credential_id, connection)
    with connection.cursor() as cursor:
        cursor.execute(_credential_sql(connection.vendor), [pk])
        row = cursor.fetchone()
    if row is None:
        return None
    n = len(Student._meta.concrete_fields)
    student = model_from_row(Student, row[:n])
    klass = model_from_row(SchoolClass, row[n:-1])
    Student.school_class.field.set_cached_value(student, klass)
    student.credential_revoked_at = row[-1]
    return student


def credential_verify_qr(*, token: str, campus: Campus) -> Student:
    """The student of a scanned QR token, or CredentialInvalid / CredentialRevoked /
    CredentialWrongCampus. Read-only: safe to call on every scan."""
    import uuid

    try:
        value = signing.Signer(salt=_QR_SALT).unsign((token or "").strip())
        prefix, raw = value.split(".", 1)
        if prefix != _QR_PREFIX:
            raise ValueError
        credential_id = uuid.UUID(bytes=base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    except (signing.BadSignature, ValueError):
        raise CredentialInvalid("二维码无效", "The QR code is not valid") from None
    student = _student_of_credential(credential_id)
    if student is None:
        raise CredentialInvalid("二维码无效", "The QR code is not valid")
    if student.credential_revoked_at is not None:
        raise CredentialRevoked()
    if student.campus_id != campus.pk:
        raise CredentialWrongCampus()
    if student.status != StudentStatus.ENROLLED:
        raise CredentialInvalid("该学生当前不在读", "This student is not currently enrolled")
    return student


def qr_card_sheet_pdf(*, school_class: SchoolClass, actor: Any) -> bytes:
    """A printable A4 sheet of QR cards for every enrolled student of a class (3 × 4 per page).
    Students with an active card get the same card again; the others get a new one."""
    import segno
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    require_staff(actor, school_class.campus)
    students = list(
        Student.objects.visible_to(actor)
        .filter(school_class=school_class, status=StudentStatus.ENROLLED)
        .select_related("campus", "campus__school")
        .order_by("student_number")
    )
    font = "STSong-Light"
    if font not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(font))
    buf = io.BytesIO()
    pdf = canvas.Canvas(buf, pagesize=A4)
    pdf.setTitle(f"{school_class.campus} {school_class.name} 就餐二维码卡")
    page_w, page_h = A4
    cols, rows, card_w, card_h = 3, 4, 62 * mm, 66 * mm
    margin_x = (page_w - cols * card_w) / 2
    margin_y = (page_h - rows * card_h) / 2
    for i, student in enumerate(students):
        slot = i % (cols * rows)
        if i and slot == 0:
            pdf.showPage()
        col, row = slot % cols, slot // cols
        x = margin_x + col * card_w
        y = page_h - margin_y - (row + 1) * card_h
        pdf.setDash(2, 2)
        pdf.rect(x, y, card_w, card_h)
        pdf.setDash()
        token = _active_token(student, actor)
        png = io.BytesIO()
        segno.make(token, error="m").save(png, kind="png", scale=6, border=2)
        png.seek(0)
        qr_size = 44 * mm
        pdf.drawImage(ImageReader(png), x + (card_w - qr_size) / 2, y + 16 * mm, qr_size, qr_size)
        pdf.setFont(font, 12)
        pdf.drawCentredString(x + card_w / 2, y + 10 * mm, f"{student.name}  {student.student_number}")
        pdf.setFont(font, 8)
        pdf.drawCentredString(x + card_w / 2, y + 5 * mm, f"{student.campus} · {school_class.name}")
        pdf.drawCentredString(x + card_w / 2, y + 1.8 * mm, "就餐卡 Meal card · 遗失请联系老师补办")
    if not students:
        pdf.setFont(font, 14)
        pdf.drawString(margin_x, page_h - margin_y, "本班没有在读学生 / No enrolled students")
    pdf.showPage()
    pdf.save()
    audit_record(
        actor=actor,
        action="identity.qr_sheet_printed",
        target=school_class,
        after={"cards": len(students)},
        district_id=school_class.campus.school.district_id,
        school_id=school_class.campus.school_id,
    )
    return buf.getvalue()


# -- PIN ---------------------------------------------------------------------------------------

PIN_MAX_FAILURES = 5
PIN_LOCK_MINUTES = 15
_PIN_ITERATIONS = 60_000


def _pin_pepper() -> bytes:
    # A server-side secret mixed into every PIN hash: a 4–8 digit space is tiny, so a stolen
    # table alone must not be enough to brute-force it offline.
    return hashlib.sha256(("canteen.identity.pin:" + settings.SECRET_KEY).encode()).digest()


def _pin_hash(pin: str, salt: bytes) -> str:
    peppered = hmac.new(_pin_pepper(), pin.encode(), hashlib.sha256).digest()
    digest = hashlib.pbkdf2_hmac("sha256", peppered, salt, _PIN_ITERATIONS)
    return f"pbkdf2p${_PIN_ITERATIONS}${salt.hex()}${digest.hex()}"


def _pin_matches(pin: str, stored: str) -> bool:
    try:
        _, iterations, salt_hex, digest_hex = stored.split("$")
        peppered = hmac.new(_pin_pepper(), pin.encode(), hashlib.sha256).digest()
        digest = hashlib.pbkdf2_hmac("sha256", peppered, bytes.fromhex(salt_hex), int(iterations))
    except ValueError:
        return False
    return hmac.compare_digest(digest.hex(), digest_hex)


def _pin_is_weak(pin: str, student: Student) -> bool:
    if not (pin.isdigit() and pin.isascii() and 4 <= len(pin) <= 8):
        return True
    if len(set(pin)) == 1:
        return True
    steps = {int(b) - int(a) for a, b in zip(pin, pin[1:], strict=False)}
    if steps in ({1}, {-1}):
        return True
    birth = student.birth_date
    return pin in {
        birth.strftime("%m%d"),
        birth.strftime("%y%m%d"),
        birth.strftime("%Y%m%d"),
        student.student_number[-len(pin) :],
    }


@transaction.atomic
def pin_set(*, student: Student, pin: str, actor: Any) -> None:
    require_guardian_or_staff(actor, student)
    pin = (pin or "").strip()
    if _pin_is_weak(pin, student):
        raise PinTooWeak()
    PinCredential.objects.update_or_create(
        student=student,
        defaults={
            "pin_hash": _pin_hash(pin, os.urandom(16)),
            "failed_attempts": 0,
            "locked_until": None,
            "set_by": actor,
        },
    )
    audit_record(actor=actor, action="identity.pin_set", target=student, **_org(student))


def credential_verify_pin(*, campus: Campus, student_number: str, pin: str) -> Student:
    """The student for a student number + PIN typed at the window. After PIN_MAX_FAILURES wrong
    PINs in a row the PIN locks for PIN_LOCK_MINUTES; a correct PIN resets the count. The failure
    count is committed even though the call raises."""
    student = (
        Student.objects.select_related("school_class")
        .filter(campus=campus, student_number=(student_number or "").strip(), status=StudentStatus.ENROLLED)
        .first()
    )
    if student is None:
        raise PinWrong()
    failure: Exception | None = None
    try:
        with transaction.atomic():
            credential = PinCredential.objects.select_for_update().filter(student=student).first()
            if credential is None:
                raise PinNotSet()
            now = timezone.now()
            if credential.locked_until and credential.locked_until > now:
                raise PinLocked(details={"locked_until": credential.locked_until.isoformat()})
            if _pin_matches((pin or "").strip(), credential.pin_hash):
                if credential.failed_attempts or credential.locked_until:
                    credential.failed_attempts = 0
                    credential.locked_until = None
                    credential.save(update_fields=["failed_attempts", "locked_until", "updated_at"])
                return student
            credential.failed_attempts += 1
            fields = ["failed_attempts", "updated_at"]
            if credential.failed_attempts >= PIN_MAX_FAILURES:
                credential.locked_until = now + timedelta(minutes=PIN_LOCK_MINUTES)
                credential.failed_attempts = 0
                fields.append("locked_until")
                audit_record(
                    actor=None,
                    action="identity.pin_locked",
                    target=student,
                    after={"locked_until": credential.locked_until.isoformat()},
                    **_org(student),
                )
                failure = PinLocked(details={"locked_until": credential.locked_until.isoformat()})
            else:
                failure = PinWrong(details={"attempts_left": PIN_MAX_FAILURES - credential.failed_attempts})
            credential.save(update_fields=fields)
    except IntegrityError:  # pragma: no cover - defensive; the row lock prevents it
        raise PinWrong() from None
    raise failure


# -- retention ---------------------------------------------------------------------------------


def face_data_purge_departed() -> int:
    """Retention: a student who left, graduated or is suspended keeps no face data. Ends the
    consent (reason "student_left"), deletes templates and kept photo, revokes QR cards, and moves
    the campus gallery version. Idempotent: a second run finds nothing. Returns students purged."""
    departed = (
        Student.objects.exclude(status=StudentStatus.ENROLLED)
        .filter(face_consents__withdrawn_at__isnull=True)
        .select_related("campus", "campus__school")
        .distinct()
    )
    purged = 0
    for student in departed:
        with transaction.atomic():
            consent = FaceConsent.objects.select_for_update().filter(student=student, withdrawn_at__isnull=True).first()
            if consent is None:
                continue
            templates_deleted, _ = FaceTemplate.objects.filter(student=student).delete()
            DisplayPhoto.objects.filter(student=student).delete()
            now = timezone.now()
            consent.withdrawn_at = now
            consent.withdrawal_reason = "student_left"
            consent.save(update_fields=["withdrawn_at", "withdrawal_reason", "updated_at"])
            QrCredential.objects.filter(student=student, revoked_at__isnull=True).update(revoked_at=now, updated_at=now)
            version = _bump_gallery_version(student.campus_id)
            audit_record(
                actor=None,
                action="identity.face_data_purged",
                target=student,
                after={"reason": student.status, "templates_deleted": templates_deleted, "gallery_version": version},
                **_org(student),
            )
            publish(
                "identity.face_withdrawn",
                {"student_id": str(student.pk), "campus_id": str(student.campus_id), "gallery_version": version},
            )
            purged += 1
    return purged


# -- key rotation ------------------------------------------------------------------------------


def face_data_rekey(*, old_key_b64: str, batch: int = 500) -> dict[str, int]:
    """Re-seal every template and kept photo from `old_key_b64` to the configured
    FACE_TEMPLATE_KEY. Resumable and idempotent: rows already under the new key are skipped.
    Every campus gallery version moves afterwards, because terminal packages are sealed with
    keys derived from the same root and terminals must fetch new ones. A row that opens under
    neither key is counted as `failed` and left as it is."""
    counts = {"templates": 0, "photos": 0, "already": 0, "failed": 0}
    for model, field, bound, label in (
        (FaceTemplate, "sealed", "face-template:{}", "templates"),
        (DisplayPhoto, "sealed_jpeg", "display-photo:{}", "photos"),
    ):
        last = None
        while True:
            qs = model.objects.order_by("pk")
            if last is not None:
                qs = qs.filter(pk__gt=last)
            rows = list(qs.values_list("pk", "student_id", field)[:batch])
            if not rows:
                break
            with transaction.atomic():
                for pk, student_id, blob in rows:
                    try:
                        fresh = crypto.reseal(blob, bound_to=bound.format(student_id), old_key_b64=old_key_b64)
                    except ValueError:
                        counts["failed"] += 1
                        continue
                    if fresh is None:
                        counts["already"] += 1
                        continue
                    model.objects.filter(pk=pk).update(**{field: fresh})
                    counts[label] += 1
            last = rows[-1][0]
    with transaction.atomic():
        for campus_id in GalleryState.objects.values_list("campus_id", flat=True):
            _bump_gallery_version(campus_id)
        audit_record(actor=None, action="identity.face_data_rekeyed", target_type="identity.facetemplate", after=counts)
    return counts

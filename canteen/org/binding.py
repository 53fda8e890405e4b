"""Guardian binding: a code per pupil, printed for the family, confirmed by a one-time code sent
to the guardian's mobile.

1. The school prints a class's binding sheet (`binding_sheet_pdf`): per pupil a code and a QR
   code of the binding page's address with that code.
2. The guardian opens the page, types the code, their name, relation and mobile
   (`binding_start`). A six-digit one-time code is published as `org.verification_code`; the
   notification service sends it by SMS. Only an HMAC of the code is stored here.
3. The guardian types the code (`binding_confirm`): the mobile is proved, the guardian (found by
   mobile, or new) is linked to the pupil, and the guardian's account (found, or created with
   the mobile as its login) is returned for the view to sign in.

Limits: a challenge takes 5 tries and lives 10 minutes; a mobile gets 5 codes an hour and one a
minute; a binding code starts 10 challenges a day; a pupil has at most 6 guardians.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import secrets
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from canteen.core.audit import audit_record
from canteen.core.errors import Conflict, DomainError, Forbidden, NotFound, ValidationFailed
from canteen.core.events import publish

from .choices import Relation, Role, StudentStatus
from .life import can_manage_school
from .models import BindingChallenge, BindingCode, Guardian, GuardianLink, SchoolClass, Student, User
from .roster import _MOBILE, looks_like_formula

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I
CODE_LENGTH = 10
OTP_TTL = timedelta(minutes=10)
OTP_MAX_ATTEMPTS = 5
MOBILE_CODES_PER_HOUR = 5
MOBILE_RESEND_SECONDS = 60
BINDING_CODE_CHALLENGES_PER_DAY = 10
MAX_GUARDIANS = 6


class RateLimited(DomainError):
    code = "rate_limited"
    status = 429
    message_zh = "操作过于频繁，请稍后再试"
    message_en = "Too many attempts; try again later"


def _org(student: Student) -> dict[str, Any]:
    return {"district_id": student.campus.school.district_id, "school_id": student.campus.school_id}


def _require_manager(actor: Any, student: Student) -> None:
    if not can_manage_school(actor, student.campus.school):
        raise Forbidden("仅本校管理员可管理家长绑定", "Only the school's administrators may manage guardian binding")


def normalise_code(code: str) -> str:
    return "".join(ch for ch in (code or "").upper() if ch.isalnum())


@transaction.atomic
def binding_code_for(*, student: Student, actor: Any) -> BindingCode:
    """The pupil's active binding code, made on first use (reprinting shows the same code)."""
    _require_manager(actor, student)
    Student.objects.select_for_update().filter(pk=student.pk).first()
    existing = BindingCode.objects.filter(student=student, revoked_at__isnull=True).first()
    if existing:
        return existing
    code = BindingCode.objects.create(
        student=student, code="".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    )
    audit_record(actor=actor, action="guardian.binding_code_issued", target=student, **_org(student))
    return code


@transaction.atomic
def binding_code_revoke(*, student: Student, actor: Any) -> int:
    """A lost or leaked sheet: the old code stops working; the next print makes a new one."""
    _require_manager(actor, student)
    n = BindingCode.objects.filter(student=student, revoked_at__isnull=True).update(revoked_at=timezone.now())
    audit_record(
        actor=actor, action="guardian.binding_code_revoked", target=student, after={"revoked": n}, **_org(student)
    )
    return n


def binding_url(code: str) -> str:
    base = getattr(settings, "CANTEEN_PUBLIC_URL", "").rstrip("/")
    return f"{base}/guardian/bind/?code={code}"


def binding_sheet_pdf(*, school_class: SchoolClass, actor: Any) -> bytes:
    """A4 slips for every enrolled pupil of a class (2 × 4 per page), to cut and hand out."""
    import segno
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    if not can_manage_school(actor, school_class.campus.school):
        raise Forbidden("仅本校管理员可打印绑定码", "Only the school's administrators may print binding codes")
    students = list(
        Student.objects.filter(school_class=school_class, status=StudentStatus.ENROLLED)
        .select_related("campus", "campus__school")
        .order_by("student_number")
    )
    font = "STSong-Light"
    if font not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(font))
    buf = io.BytesIO()
    pdf = canvas.Canvas(buf, pagesize=A4)
    pdf.setTitle(f"{school_class.name} 家长绑定码 Guardian binding codes")
    page_w, page_h = A4
    cols, rows, slip_w, slip_h = 2, 4, 95 * mm, 68 * mm
    margin_x = (page_w - cols * slip_w) / 2
    margin_y = (page_h - rows * slip_h) / 2
    for i, student in enumerate(students):
        slot = i % (cols * rows)
        if i and slot == 0:
            pdf.showPage()
        x = margin_x + (slot % cols) * slip_w
        y = page_h - margin_y - (slot // cols + 1) * slip_h
        pdf.setDash(2, 2)
        pdf.rect(x, y, slip_w, slip_h)
        pdf.setDash()
        code = binding_code_for(student=student, actor=actor).code
        png = io.BytesIO()
        segno.make(binding_url(code), error="m").save(png, kind="png", scale=5, border=2)
        png.seek(0)
        qr = 40 * mm
        pdf.drawImage(ImageReader(png), x + 4 * mm, y + (slip_h - qr) / 2, qr, qr)
        tx = x + 48 * mm
        pdf.setFont(font, 12)
        pdf.drawString(tx, y + slip_h - 14 * mm, student.name)
        pdf.setFont(font, 8)
        pdf.drawString(tx, y + slip_h - 20 * mm, f"{school_class.name} · {student.student_number}")
        pdf.drawString(tx, y + slip_h - 30 * mm, "家长绑定码 Binding code")
        pdf.setFont(font, 14)
        pdf.drawString(tx, y + slip_h - 37 * mm, f"{code[:5]} {code[5:]}")
        pdf.setFont(font, 7)
        pdf.drawString(tx, y + 14 * mm, "扫码或访问 /guardian/bind/，")
        pdf.drawString(tx, y + 10 * mm, "输入绑定码和手机号，凭短信验证码确认。")
        pdf.drawString(tx, y + 6 * mm, "Scan, enter the code and your mobile.")
    if not students:
        pdf.setFont(font, 14)
        pdf.drawString(margin_x, page_h - margin_y, "本班没有在读学生 / No enrolled pupils")
    pdf.showPage()
    pdf.save()
    audit_record(
        actor=actor,
        action="guardian.binding_sheet_printed",
        target=school_class,
        after={"slips": len(students)},
        district_id=school_class.campus.school.district_id,
        school_id=school_class.campus.school_id,
    )
    return buf.getvalue()


def _otp_hash(challenge_id: Any, otp: str) -> str:
    key = hashlib.sha256(("binding-otp:" + settings.SECRET_KEY).encode()).digest()
    return hmac.new(key, f"{challenge_id}:{otp}".encode(), hashlib.sha256).hexdigest()


@transaction.atomic
def binding_start(*, code: str, mobile: str, guardian_name: str, relation: str = Relation.OTHER) -> BindingChallenge:
    """Check the binding code and send a one-time code to the mobile (through the event)."""
    mobile = "".join(ch for ch in (mobile or "") if ch.isdigit())
    guardian_name = (guardian_name or "").strip()
    if not _MOBILE.match(mobile):
        raise ValidationFailed("请输入 11 位手机号", "Enter an 11-digit mobile number")
    if not guardian_name or len(guardian_name) > 40 or looks_like_formula(guardian_name):
        raise ValidationFailed("请输入监护人姓名（1–40 个字）", "Enter the guardian's name (1–40 characters)")
    if relation not in Relation.values:
        raise ValidationFailed("关系无效", "Unknown relation")
    now = timezone.now()
    binding = (
        BindingCode.objects.select_for_update()
        .select_related("student", "student__campus", "student__campus__school")
        .filter(code=normalise_code(code), revoked_at__isnull=True)
        .first()
    )
    if binding is None or binding.student.status != StudentStatus.ENROLLED:
        raise NotFound("绑定码无效或已失效", "The binding code is not valid", code="binding_code_invalid")
    recent = BindingChallenge.objects.filter(mobile=mobile, created_at__gte=now - timedelta(hours=1))
    if (
        recent.count() >= MOBILE_CODES_PER_HOUR
        or recent.filter(created_at__gte=now - timedelta(seconds=MOBILE_RESEND_SECONDS)).exists()
    ):
        raise RateLimited("验证码发送过于频繁，请稍后再试", "Codes were sent to this mobile too often; try later")
    if (
        BindingChallenge.objects.filter(binding_code=binding, created_at__gte=now - timedelta(days=1)).count()
        >= BINDING_CODE_CHALLENGES_PER_DAY
    ):
        raise RateLimited("该绑定码今日尝试次数过多", "This binding code was tried too often today")
    student = binding.student
    if (
        GuardianLink.objects.filter(student=student).count() >= MAX_GUARDIANS
        and not GuardianLink.objects.filter(student=student, guardian__phone=mobile).exists()
    ):
        raise Conflict(f"每名学生最多绑定 {MAX_GUARDIANS} 位监护人", f"A pupil has at most {MAX_GUARDIANS} guardians")
    otp = f"{secrets.randbelow(10**6):06d}"
    challenge = BindingChallenge(
        binding_code=binding,
        mobile=mobile,
        guardian_name=guardian_name,
        relation=relation,
        expires_at=now + OTP_TTL,
    )
    challenge.code_hash = _otp_hash(challenge.pk, otp)
    challenge.save()
    publish(
        "org.verification_code",
        {
            "purpose": "guardian_binding",
            "mobile": mobile,
            "code": otp,
            "expires_at": challenge.expires_at.isoformat(),
            "student_id": str(student.pk),
        },
    )
    audit_record(
        actor=None,
        action="guardian.binding_started",
        target=student,
        after={"challenge_id": str(challenge.pk), "mobile_tail": mobile[-4:]},
        **_org(student),
    )
    return challenge


def binding_confirm(*, challenge_id: Any, otp: str, user: User | None = None) -> tuple[GuardianLink, User]:
    """Check the one-time code; bind. A wrong code counts against the challenge even though the
    call raises (the count is committed before the error)."""
    failure: DomainError | None = None
    with transaction.atomic():
        challenge = (
            BindingChallenge.objects.select_for_update()
            .select_related("binding_code", "binding_code__student", "binding_code__student__campus__school")
            .filter(pk=challenge_id)
            .first()
        )
        if challenge is None:
            raise NotFound("验证请求不存在", "No such verification request")
        now = timezone.now()
        if challenge.confirmed_at is not None:
            raise Conflict("该验证码已使用", "This code was already used")
        if challenge.expires_at < now or challenge.attempts >= OTP_MAX_ATTEMPTS:
            raise ValidationFailed(
                "验证码已失效，请重新获取", "The code has expired; request a new one", code="otp_expired"
            )
        if not hmac.compare_digest(challenge.code_hash, _otp_hash(challenge.pk, (otp or "").strip())):
            challenge.attempts += 1
            challenge.save(update_fields=["attempts", "updated_at"])
            left = OTP_MAX_ATTEMPTS - challenge.attempts
            failure = ValidationFailed(
                f"验证码错误，还可尝试 {left} 次",
                f"Wrong code; {left} tries left",
                code="otp_wrong",
                details={"attempts_left": left},
            )
        else:
            if challenge.binding_code.revoked_at is not None:
                raise NotFound("绑定码已失效", "The binding code is no longer valid", code="binding_code_invalid")
            challenge.confirmed_at = now
            challenge.save(update_fields=["confirmed_at", "updated_at"])
            return _bind(challenge, user)
    raise failure


def _bind(challenge: BindingChallenge, user: User | None) -> tuple[GuardianLink, User]:
    student = challenge.binding_code.student
    mobile = challenge.mobile
    # The pupil's own guardian with this mobile first (the roster imported them), then anyone's.
    guardian = (
        Guardian.objects.filter(links__student=student, phone=mobile).first()
        or Guardian.objects.filter(phone=mobile).order_by("created_at").first()
    )
    if guardian is None:
        guardian = Guardian.objects.create(name=challenge.guardian_name, phone=mobile)
    if user is not None and user.is_authenticated and user.role == Role.GUARDIAN:
        account = user
    elif guardian.user_id:
        account = guardian.user
    else:
        account = User.objects.filter(role=Role.GUARDIAN, phone=mobile).first()
        if account is None:
            account = User(
                username=f"m{mobile}", role=Role.GUARDIAN, phone=mobile, display_name=challenge.guardian_name
            )
            account.set_unusable_password()  # signs in by mobile code; may set a password later
            account.save()
    if guardian.user_id and guardian.user_id != account.pk:
        raise Conflict("该手机号已绑定另一个家长账号", "This mobile belongs to another guardian account")
    if guardian.user_id is None:
        if Guardian.objects.filter(user=account).exclude(pk=guardian.pk).exists():
            guardian = Guardian.objects.get(user=account)
        else:
            guardian.user = account
            guardian.save(update_fields=["user", "updated_at"])
    link, created = GuardianLink.objects.get_or_create(
        guardian=guardian,
        student=student,
        defaults={
            "relation": challenge.relation,
            "is_primary": not GuardianLink.objects.filter(student=student).exists(),
        },
    )
    audit_record(
        actor=account,
        action="guardian.bound",
        target=link,
        after={"guardian_id": str(guardian.pk), "student_id": str(student.pk), "new_link": created},
        **_org(student),
    )
    return link, account


@transaction.atomic
def guardian_unlink(*, actor: User, link: GuardianLink) -> None:
    """Remove a guardian from a pupil: by the school, or by that guardian themself. The
    guardian's consents stay on record (they are evidence); the link goes."""
    student = link.student
    own = actor.role == Role.GUARDIAN and link.guardian.user_id == actor.pk
    if not own:
        _require_manager(actor, student)
    audit_record(
        actor=actor,
        action="guardian.unlink",
        target=student,
        before={"guardian_id": str(link.guardian_id), "relation": link.relation},
        **_org(student),
    )
    link.delete()

"""Demo data for supervision: the rollups checked against the other domains' demo facts, cases
in every state of the loop (one overdue with a red flag), a 双随机 draw with a recorded
inspection, and parent feedback (one complaint became a case, one answered)."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.utils import timezone

from canteen.org.choices import Role
from canteen.org.models import Canteen, User

from . import rebuild, services
from .choices import CaseSource, ItemResult, Severity
from .models import Case

log = logging.getLogger("canteen.demo")


def _user(role: str, **scope) -> User | None:
    return User.objects.filter(role=role, is_active=True, **scope).order_by("username").first()


def seed(ctx) -> None:
    services.campus_dim_refresh()
    if rebuild._records_available():
        # The other seeds' meals moved the rollups through events; procurement's demo writes
        # deliveries without events. This recount from their records fills and repairs both.
        report = rebuild.rollups_rebuild(records_only=True, apply=True, start=ctx.today - timedelta(days=120))
        log.info(
            "supervision: rollups checked against meal records, %d difference(s) repaired", len(report.differences)
        )
    _backfill_procurement(ctx)
    district = ctx.districts[0]
    regulator = _user(Role.DISTRICT_REGULATOR, district=district)
    if regulator is None:
        regulator = User.objects.create_user(
            "demo-district-inspector", role=Role.DISTRICT_REGULATOR, district=district, display_name="区监管演示"
        )
    campuses = [c for c in ctx.campuses if c.school.district_id == district.pk]
    rng = ctx.rng

    def school_admin(campus) -> User:
        return _user(Role.SCHOOL_ADMIN, school=campus.school) or User.objects.create_user(
            f"demo-school-{campus.school.code}", role=Role.SCHOOL_ADMIN, school=campus.school, district=district
        )

    problems = [
        ("后厨地面积水未及时清理", Severity.LOW),
        ("冷藏柜温度记录不全", Severity.MEDIUM),
        ("留样盒标签缺少留样人", Severity.MEDIUM),
        ("从业人员健康证过期", Severity.HIGH),
        ("餐具消毒记录缺失", Severity.MEDIUM),
        ("防蝇帘破损", Severity.LOW),
        ("生熟刀具混用", Severity.HIGH),
    ]
    # The state each demo case is left in: opened, assigned, responded, returned, accepted,
    # closed, overdue.
    plan = ["opened", "assigned", "responded", "returned", "accepted", "closed", "overdue"]
    for (title, severity), state in zip(problems, plan, strict=True):
        campus = rng.choice(campuses)
        case, _ = services.case_open(
            actor=regulator, source=CaseSource.MANUAL, title=title, severity=severity,
            district_id=district.pk, school_id=campus.school_id, campus_id=campus.pk,
            description="日常巡查发现",
        )  # fmt: skip
        if state == "opened":
            continue
        case = services.case_assign(case=case, actor=regulator, note="请按期整改并上传照片")
        if state == "overdue":
            Case.objects.filter(pk=case.pk).update(deadline=timezone.now() - timedelta(days=3))
            continue
        if state == "assigned":
            continue
        admin = school_admin(campus)
        case = services.case_respond(case=case, actor=admin, note="已整改，见现场照片")
        if state == "returned":
            services.case_review(case=case, actor=regulator, accept=False, note="整改不彻底，请补充佐证")
            continue
        if state == "responded":
            continue
        case = services.case_review(case=case, actor=regulator, accept=True, note="整改到位")
        if state == "closed":
            services.case_close(case=case, actor=regulator, note="销号")
    services.case_escalate_overdue()

    # 双随机: draw three campuses with a published seed; record the first inspection.
    inspectors = User.objects.filter(role=Role.DISTRICT_REGULATOR, district=district, is_active=True).count()
    drawn = services.inspection_draw_random(
        actor=regulator,
        district_id=district.pk,
        campuses=min(3, len(campuses)),
        inspectors_per_inspection=min(2, inspectors),
        planned_on=ctx.today,
        seed=20260901,
    )
    first = drawn[0]
    results = {item.code: (ItemResult.PASS, "") for item in first.items.all()}
    results["samples"] = (ItemResult.FAIL, "午餐留样不足125克")
    services.inspection_record(actor=regulator, inspection=first, results=results, summary="总体良好，留样需整改")
    services.inspection_plan(actor=regulator, campus_id=campuses[0].pk, planned_on=ctx.today + timedelta(days=7))

    # Parents' feedback through the QR form.
    canteens = list(Canteen.objects.filter(campus__in=campuses[:5]).order_by("code"))
    messages = [
        ("praise", "孩子说今天的番茄炒蛋很好吃", 5),
        ("suggestion", "希望每周多安排一次水果", 4),
        ("complaint", "米饭有时偏硬，孩子吃不完", 2),
        ("suggestion", "能否在公众号公布每周菜谱", None),
    ]
    answered = None
    for i, (kind, text, rating) in enumerate(messages):
        feedback = services.feedback_submit(
            canteen_code=canteens[i % len(canteens)].code, kind=kind, text=text, rating=rating, ip=f"demo-{i}"
        )
        if kind == "suggestion" and answered is None:
            answered = services.feedback_answer(
                feedback=feedback, actor=regulator, answer="感谢建议，已要求学校每周增加一次水果。"
            )
    log.info("supervision: %d cases, %d inspections, %d feedback", Case.objects.count(), len(drawn) + 1, len(messages))


def _backfill_procurement(ctx) -> None:
    """Procurement's demo inserts its data in bulk without events: raise its licence alerts
    through its own service (which publishes them) and open the cases its rejected deliveries
    would have opened."""
    try:
        from canteen.procurement import services as procurement
        from canteen.procurement.models import Delivery
    except ImportError:
        return
    procurement.licence_alerts_raise(on=ctx.today)
    for d in Delivery.objects.filter(status__in=["rejected", "partially_accepted"]).select_related(
        "supplier", "campus"
    ):
        services.case_open(
            actor=None,
            source=CaseSource.DELIVERY_REJECTED,
            source_ref=str(d.pk),
            title=f"配送{'被拒收' if d.status == 'rejected' else '部分拒收'}：{d.supplier.name}",
            district_id=d.district_id,
            school_id=d.campus.school_id,
            campus_id=d.campus_id,
            severity=Severity.MEDIUM if d.status == "rejected" else Severity.LOW,
        )

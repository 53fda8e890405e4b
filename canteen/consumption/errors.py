"""Checkout errors: the window screen shows `message_zh` to the student and the operator, so each
one says what happened and what to do next."""

from __future__ import annotations

from canteen.core.errors import Conflict, DomainError, Forbidden, InvalidTransition, NotFound


def _yuan(fen: int) -> str:
    sign = "-" if fen < 0 else ""
    whole, part = divmod(abs(fen), 100)
    return f"{sign}{whole}.{part:02d}"


class InsufficientBalance(Conflict):
    code = "insufficient_balance"
    status = 402

    def __init__(self, *, balance_fen: int, price_fen: int) -> None:
        super().__init__(
            f"余额不足：余额 ¥{_yuan(balance_fen)}，本餐 ¥{_yuan(price_fen)}。请家长充值，或到人工窗口办理",
            f"Insufficient balance: ¥{_yuan(balance_fen)} left, this meal costs ¥{_yuan(price_fen)}. "
            "Ask a guardian to top up, or see the staffed window",
            details={"balance_fen": balance_fen, "price_fen": price_fen},
        )


class AlreadyServed(Conflict):
    code = "already_served"

    def __init__(self, *, served_at: str, window: str, session_kind: str) -> None:
        super().__init__(
            f"本餐次已取过餐（{served_at}，{window}）",
            f"Already served this meal session ({served_at}, {window})",
            details={"served_at": served_at, "window": window, "session_kind": session_kind},
        )


class NoMealOffered(Conflict):
    code = "no_meal_offered"
    message_zh = "现在不是供餐时间，或该学生本餐次没有可供应的套餐"
    message_en = "No meal is being served now, or none is offered to this student in this session"


class UnknownStudent(NotFound):
    code = "unknown_student"
    message_zh = "未找到该学生，请改用二维码或学号+PIN，或联系窗口工作人员"
    message_en = "Student not found; use the QR code or student number + PIN, or ask the staff"


class StudentNotEnrolled(Forbidden):
    code = "student_not_enrolled"
    message_zh = "该学生不在读（休学、离校或毕业），不能取餐"
    message_en = "This student is not currently enrolled and cannot be served"


class WrongCampus(Forbidden):
    code = "wrong_campus"
    message_zh = "该学生不属于本校区，不能在此窗口取餐"
    message_en = "This student belongs to another campus and cannot be served at this window"


class FaceConsentMissing(Forbidden):
    code = "face_consent_missing"
    message_zh = "该学生没有有效的人脸识别授权，请使用二维码或学号+PIN"
    message_en = "This student has no valid face-recognition consent; use the QR code or student number + PIN"


class NotAllowedAtWindow(Forbidden):
    code = "not_allowed_at_window"
    message_zh = "只有本校区的窗口终端或窗口操作员可以结算"
    message_en = "Only a terminal or window operator of this campus may check out meals"


class TerminalInactive(Forbidden):
    code = "terminal_inactive"
    message_zh = "该终端已停用，请联系食堂负责人"
    message_en = "This terminal has been deactivated; contact the canteen manager"


class RecordNotFound(NotFound):
    code = "meal_record_not_found"
    message_zh = "未找到该取餐记录"
    message_en = "Meal record not found"


class RecordAlreadyVoided(InvalidTransition):
    code = "meal_record_voided"
    message_zh = "该取餐记录已撤销"
    message_en = "This meal record has already been voided"


class KeyBelongsToAnotherCheckout(DomainError):
    code = "idempotency_key_reused"
    status = 422
    # Says nothing of whose checkout it was: the caller may be another terminal or pupil.
    message_zh = "该请求编号已用于另一笔内容不同的结算，本次未扣款，请重新发起"
    message_en = (
        "This idempotency key was already used for a different checkout request; nothing was charged, start again"
    )


class CheckoutExpired(Conflict):
    code = "checkout_expired"
    message_zh = "终端已放弃这次结算（等待超时），本次未扣款"
    message_en = "The terminal gave this checkout up (it timed out); nothing was charged"


class AllergenConflictFound(Conflict):
    """Today's set meal holds an allergen the pupil declared (or breaks their diet): nothing is
    charged, the kiosk turns red, the window staff decide (consumption.allergens)."""

    code = "allergen_conflict"

    def __init__(
        self,
        *,
        allergens: list[str],
        codes: list[str],
        set_meal_name: str,
        alternative_name: str,
        conflict_id: str,
        student_id: str,
    ) -> None:
        what = "、".join(allergens)
        instead = f"改供「{alternative_name}」" if alternative_name else "另行安排餐食"
        instead_en = f"serve {alternative_name} instead" if alternative_name else "arrange another meal"
        super().__init__(
            f"过敏冲突：「{set_meal_name}」含{what}。未扣款，请窗口工作人员{instead}，或确认并填写原因",
            f"Allergen conflict: {set_meal_name} contains {', '.join(codes)}. Nothing was charged; "
            f"window staff: {instead_en}, or confirm with a reason",
            details={
                "allergens": allergens,
                "codes": codes,
                "set_meal_name": set_meal_name,
                "alternative_name": alternative_name,
                "conflict_id": conflict_id,
                "student_id": student_id,
            },
        )

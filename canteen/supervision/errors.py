from canteen.core.errors import DomainError, Forbidden, ValidationFailed


class SupervisionError(DomainError):
    code = "supervision_error"


class NotYourCase(Forbidden):
    code = "case_not_yours"
    message_zh = "无权处理该整改单"
    message_en = "You may not act on this case"


class DeadlineInPast(ValidationFailed):
    code = "case_deadline_in_past"
    message_zh = "整改期限不能早于当前时间"
    message_en = "The deadline must be in the future"


class EvidenceRejected(ValidationFailed):
    code = "case_evidence_rejected"
    message_zh = "附件类型或大小不符合要求"
    message_en = "The attachment's type or size is not accepted"


class EvidenceRequired(ValidationFailed):
    code = "case_evidence_required"
    message_zh = "请填写整改说明"
    message_en = "Describe what was done"


class RateLimited(DomainError):
    code = "rate_limited"
    status = 429
    message_zh = "提交过于频繁，请稍后再试"
    message_en = "Too many submissions; please try again later"


class InspectionIncomplete(ValidationFailed):
    code = "inspection_incomplete"
    message_zh = "检查表还有未填写的项目"
    message_en = "Some checklist items have no result"


class NotEnoughCandidates(ValidationFailed):
    code = "inspection_not_enough_candidates"
    message_zh = "可抽取的检查人员或校区不足"
    message_en = "Not enough inspectors or campuses to draw from"

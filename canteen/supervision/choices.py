from django.db import models


class CaseStatus(models.TextChoices):
    OPENED = "opened", "已立案 Opened"
    ASSIGNED = "assigned", "已交办 Assigned"
    RESPONDED = "responded", "已整改 Responded"
    ACCEPTED = "accepted", "复核通过 Accepted"
    CLOSED = "closed", "已销号 Closed"


class CaseAction(models.TextChoices):
    OPEN = "open", "立案 Open"
    ASSIGN = "assign", "交办 Assign"
    RESPOND = "respond", "整改 Respond"
    ACCEPT = "accept", "复核通过 Accept"
    RETURN = "return", "退回 Return"
    CLOSE = "close", "销号 Close"
    DISMISS = "dismiss", "撤销 Dismiss"
    ESCALATE = "escalate", "督办 Escalate"


# The whole state machine: (action, from) → to. A return sends the case back to the school,
# which must respond again; only an accepted case can be closed (销号).
TRANSITIONS: dict[tuple[str, str], str] = {
    (CaseAction.ASSIGN, CaseStatus.OPENED): CaseStatus.ASSIGNED,
    (CaseAction.RESPOND, CaseStatus.ASSIGNED): CaseStatus.RESPONDED,
    (CaseAction.ACCEPT, CaseStatus.RESPONDED): CaseStatus.ACCEPTED,
    (CaseAction.RETURN, CaseStatus.RESPONDED): CaseStatus.ASSIGNED,
    (CaseAction.CLOSE, CaseStatus.ACCEPTED): CaseStatus.CLOSED,
    (CaseAction.DISMISS, CaseStatus.OPENED): CaseStatus.CLOSED,
}
OPEN_STATUSES = (CaseStatus.OPENED, CaseStatus.ASSIGNED, CaseStatus.RESPONDED, CaseStatus.ACCEPTED)


class CaseSource(models.TextChoices):
    ALARM = "alarm", "明厨亮灶告警 Kitchen alarm"
    RECORD_MISSING = "record_missing", "安全记录缺失 Missing safety record"
    LICENCE_EXPIRED = "licence_expired", "证照过期 Expired licence"
    DELIVERY_REJECTED = "delivery_rejected", "拒收配送 Rejected delivery"
    NUTRITION_FAILED = "nutrition_failed", "营养不达标 Failed nutrition check"
    INSPECTION = "inspection", "检查发现 Inspection finding"
    FEEDBACK = "feedback", "家长投诉 Parent complaint"
    RECALL = "recall", "食品召回 Food recall"
    MANUAL = "manual", "人工立案 Manual"


class Severity(models.TextChoices):
    LOW = "low", "一般 Low"
    MEDIUM = "medium", "较重 Medium"
    HIGH = "high", "严重 High"


# Days a school gets to respond, by severity (交办 default deadline).
DEADLINE_DAYS = {Severity.LOW: 7, Severity.MEDIUM: 3, Severity.HIGH: 1}


class Flag(models.TextChoices):
    NONE = "", "正常 On time"
    YELLOW = "yellow", "黄牌 Yellow"
    RED = "red", "红牌 Red"


class InspectionKind(models.TextChoices):
    PLANNED = "planned", "计划检查 Planned"
    RANDOM = "random", "双随机 Random"


class InspectionStatus(models.TextChoices):
    PLANNED = "planned", "待检查 Planned"
    DONE = "done", "已完成 Done"


class ItemResult(models.TextChoices):
    PENDING = "pending", "待查 Pending"
    PASS = "pass", "合格 Pass"
    FAIL = "fail", "不合格 Fail"
    NA = "na", "不适用 N/A"


# The standard checklist (after 学校食品安全与营养健康管理规定 2019 and the 明厨亮灶 guidance).
CHECKLIST: list[tuple[str, str, str]] = [
    ("licence", "食品经营许可证在有效期内并公示", "Food business licence valid and displayed"),
    ("health_cert", "从业人员健康证齐全有效", "Staff health certificates complete and valid"),
    ("morning_check", "晨检记录完整", "Morning health checks recorded"),
    ("samples", "留样每餐每样≥125克，保存≥48小时", "Samples of every dish ≥125 g kept ≥48 h"),
    ("accompany", "学校负责人陪餐并记录", "School leaders eat with pupils and record it"),
    ("incoming", "进货查验记录完整、索证索票", "Incoming-goods checks and certificates complete"),
    ("storage", "食材分类分区存放、离地离墙", "Food stored by category, off floor and walls"),
    ("cameras", "明厨亮灶摄像头在线、无遮挡", "Kitchen cameras online and unobstructed"),
    ("hygiene", "加工区清洁、生熟分开", "Preparation areas clean, raw and cooked apart"),
    ("pests", "防鼠防蝇设施完好", "Pest-control measures in place"),
]


class FeedbackKind(models.TextChoices):
    COMPLAINT = "complaint", "投诉 Complaint"
    SUGGESTION = "suggestion", "建议 Suggestion"
    PRAISE = "praise", "表扬 Praise"


class FeedbackStatus(models.TextChoices):
    RECEIVED = "received", "已收到 Received"
    ANSWERED = "answered", "已答复 Answered"
    CASE_OPENED = "case_opened", "已转立案 Became a case"

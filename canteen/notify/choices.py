from django.db import models


class Channel(models.TextChoices):
    INBOX = "inbox", "站内消息 In-app"
    EMAIL = "email", "电子邮件 E-mail"
    SMS = "sms", "短信 SMS"
    WECHAT = "wechat", "微信公众号 WeChat"
    WECOM = "wecom", "企业微信群 WeCom group"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "待发送 Pending"
    HELD = "held", "免打扰暂缓 Held (quiet hours)"
    RETRY = "retry", "等待重试 Retrying"
    SENT = "sent", "已发送 Sent"
    FAILED = "failed", "发送失败 Failed"
    DEAD = "dead", "已放弃 Dead-lettered"
    SKIPPED = "skipped", "无法送达 Unreachable"


class Kind(models.TextChoices):
    # guardians
    MEAL_CHARGED = "meal_charged", "每餐扣费 Meal charged"
    LOW_BALANCE = "low_balance", "余额不足 Low balance"
    TOPUP_CREDITED = "topup_credited", "充值到账 Top-up credited"
    REFUND_SUCCEEDED = "refund_succeeded", "退款成功 Refund"
    DAILY_LIMIT = "daily_limit", "达到每日限额 Daily limit reached"
    ALLERGEN_CONFLICT = "allergen_conflict", "过敏原提醒 Allergen conflict"
    VERIFICATION_CODE = "verification_code", "验证码 Verification code"
    FEEDBACK_ANSWERED = "feedback_answered", "反馈已答复 Feedback answered"
    FEEDBACK_CASE_CLOSED = "feedback_case_closed", "反馈问题已销号 Feedback case closed"
    # canteen manager and school
    KITCHEN_ALARM = "kitchen_alarm", "明厨亮灶告警 Kitchen video alarm"
    COLDCHAIN_BREACH = "coldchain_breach", "冷链超温 Cold-chain breach"
    RECALL = "recall", "召回 Recall"
    RECORD_MISSING = "record_missing", "食安记录缺失 Safety record missing"
    LICENCE_EXPIRING = "licence_expiring", "供应商证照将到期 Supplier licence expiring"
    # case parties
    CASE_ASSIGNED = "case_assigned", "问题交办 Case assigned"
    CASE_RETURNED = "case_returned", "整改退回 Case returned"
    CASE_DUE_SOON = "case_due_soon", "24小时内到期 Case due in 24 h"
    CASE_OVERDUE = "case_overdue", "问题逾期 Case overdue"
    CASE_ESCALATED = "case_escalated", "逾期上报 Case escalated"


# Food-safety kinds reach people even in their quiet hours.
URGENT_KINDS = frozenset(
    {Kind.KITCHEN_ALARM, Kind.COLDCHAIN_BREACH, Kind.RECALL, Kind.ALLERGEN_CONFLICT, Kind.VERIFICATION_CODE}
)

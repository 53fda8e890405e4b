"""The text of each notice kind, in Chinese and English, and what each channel makes of it.

A template is `str.format` text over the message's context (ids never shown; amounts are given
already formatted as yuan by the rule, from integer fen). Channels that keep their templates at
the provider (SMS template codes, WeChat template ids) take the kind's id from settings and the
same context as parameters (see channels.py)."""

from __future__ import annotations

from dataclasses import dataclass

from .choices import Channel, Kind


@dataclass(frozen=True)
class Template:
    title_zh: str
    title_en: str
    body_zh: str
    body_en: str
    # Outside channels a recipient gets when they have not chosen (the inbox always).
    guardian_channels: tuple[str, ...] = (Channel.WECHAT, Channel.SMS)
    staff_channels: tuple[str, ...] = (Channel.WECOM, Channel.EMAIL)


G = (Channel.WECHAT, Channel.SMS)
G_WECHAT = (Channel.WECHAT,)

TEMPLATES: dict[str, Template] = {
    Kind.MEAL_CHARGED: Template(
        "用餐扣费",
        "Meal charged",
        "{student}{on}用餐扣费 {amount}。",
        "{student} was charged {amount} for a meal on {on}.",
        guardian_channels=G_WECHAT,
    ),
    Kind.LOW_BALANCE: Template(
        "余额不足提醒",
        "Low balance",
        "{student}的餐费余额为 {balance}，低于您设置的 {threshold}，请及时充值。",
        "{student}'s meal balance is {balance}, below your threshold of {threshold}. Please top up.",
    ),
    Kind.TOPUP_CREDITED: Template(
        "充值到账",
        "Top-up credited",
        "{student}的餐费账户已到账 {amount}，当前余额 {balance}。",
        "{amount} has been credited to {student}'s meal account; balance {balance}.",
        guardian_channels=G_WECHAT,
    ),
    Kind.REFUND_SUCCEEDED: Template(
        "退款成功",
        "Refund completed",
        "{student}的退款 {amount} 已退回原支付渠道。",
        "A refund of {amount} for {student} was returned to the original payment channel.",
    ),
    Kind.DAILY_LIMIT: Template(
        "已达每日消费限额",
        "Daily limit reached",
        "{student}今日消费已达限额 {limit}，今日不能再消费。",
        "{student} has reached today's spending limit of {limit}.",
        guardian_channels=G_WECHAT,
    ),
    Kind.ALLERGEN_CONFLICT: Template(
        "过敏原提醒",
        "Allergen alert",
        "{student}在窗口取餐时发现含过敏原（{allergens}），处理：{resolution_zh}。",
        "An allergen ({allergens}) was found in {student}'s meal at the window; resolution: {resolution_en}.",
    ),
    Kind.VERIFICATION_CODE: Template(
        "验证码",
        "Verification code",
        "您的验证码为 {code}，{minutes} 分钟内有效，请勿告诉他人。",
        "Your verification code is {code}, valid for {minutes} minutes. Do not share it.",
        guardian_channels=(Channel.SMS,),
    ),
    Kind.FEEDBACK_ANSWERED: Template(
        "您的反馈已答复",
        "Your feedback was answered",
        "您提交的反馈（查询码 {follow_code}）已答复：{answer}",
        "Your feedback (follow code {follow_code}) was answered: {answer}",
    ),
    Kind.FEEDBACK_CASE_CLOSED: Template(
        "反馈问题已整改销号",
        "The case from your feedback is closed",
        "您的反馈（查询码 {follow_code}）引出的问题 {case_number} 已整改并销号。",
        "Case {case_number}, opened from your feedback (follow code {follow_code}), has been resolved and closed.",
    ),
    Kind.KITCHEN_ALARM: Template(
        "明厨亮灶告警",
        "Kitchen video alarm",
        "{campus}后厨摄像头告警：{alarm}（{at}）。请查看抓拍并处置。",
        "Kitchen camera alarm at {campus}: {alarm} ({at}). See the snapshot and act.",
    ),
    Kind.COLDCHAIN_BREACH: Template(
        "冷链超温",
        "Cold-chain breach",
        "送货单 {delivery} 运输途中超温 {minutes} 分钟（最高 {max_c}℃），验收须说明原因并拍照，或拒收。",
        "Delivery {delivery} was out of range for {minutes} min in transit (max {max_c} °C): "
        "accept only with a reason and a photo, or reject.",
    ),
    Kind.RECALL: Template(
        "食品召回",
        "Food recall",
        "召回：{reason}。涉及本校区的批次 {batches} 个，请立即停用并封存。",
        "Recall: {reason}. {batches} batch(es) at your campus are affected: stop using them and set them aside.",
    ),
    Kind.RECORD_MISSING: Template(
        "食安记录缺失",
        "Food-safety record missing",
        "{campus} {day} {meal}的{record}记录在截止时间前未填写。",
        "The {record_en} record of {campus} for {day} {meal_en} was not made by its deadline.",
    ),
    Kind.LICENCE_EXPIRING: Template(
        "供应商证照即将到期",
        "Supplier licence expiring",
        "供应商 {supplier} 的{licence}将于 {expires_on} 到期。",
        "Supplier {supplier}'s {licence} expires on {expires_on}.",
    ),
    Kind.CASE_ASSIGNED: Template(
        "问题交办",
        "Case assigned",
        "问题 {case_number}「{title}」已交办，请于 {deadline} 前整改。",
        "Case {case_number} “{title}” was assigned to you; respond by {deadline}.",
    ),
    Kind.CASE_RETURNED: Template(
        "整改被退回",
        "Response returned",
        "问题 {case_number}「{title}」的整改被退回：{note}。新期限 {deadline}。",
        "The response to case {case_number} “{title}” was returned: {note}. New deadline {deadline}.",
    ),
    Kind.CASE_DUE_SOON: Template(
        "整改将于24小时内到期",
        "Case due within 24 h",
        "问题 {case_number}「{title}」将于 {deadline} 到期。",
        "Case {case_number} “{title}” is due at {deadline}.",
    ),
    Kind.CASE_OVERDUE: Template(
        "整改已逾期",
        "Case overdue",
        "问题 {case_number}「{title}」已超过期限 {deadline}。",
        "Case {case_number} “{title}” is past its deadline of {deadline}.",
    ),
    Kind.CASE_ESCALATED: Template(
        "逾期问题上报",
        "Overdue case escalated",
        "{level}的问题 {case_number}「{title}」逾期未整改，已上报至您。",
        "Case {case_number} “{title}” at {level_en} is overdue and has been escalated to you.",
    ),
}


class _Safe(dict):
    """A missing context value shows as empty text instead of failing the whole message."""

    def __missing__(self, key: str) -> str:
        return ""


def render(kind: str, context: dict) -> dict[str, str]:
    t = TEMPLATES[kind]
    values = _Safe({k: "" if v is None else v for k, v in context.items()})
    return {
        "title_zh": t.title_zh.format_map(values),
        "title_en": t.title_en.format_map(values),
        "body_zh": t.body_zh.format_map(values),
        "body_en": t.body_en.format_map(values),
    }

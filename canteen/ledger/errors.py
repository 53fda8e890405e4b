"""Ledger error codes (see canteen.core.errors)."""

from canteen.core.errors import Conflict, DomainError, ValidationFailed


class InsufficientFunds(DomainError):
    code = "insufficient_funds"
    status = 402
    message_zh = "账户余额不足"
    message_en = "The account balance is too low"


class DailyLimitExceeded(DomainError):
    code = "daily_limit_exceeded"
    status = 402
    message_zh = "已超过家长设置的每日消费限额"
    message_en = "The daily spending limit set by the guardian would be exceeded"


class AccountClosed(Conflict):
    code = "account_closed"
    message_zh = "账户已销户"
    message_en = "The account is closed"


class PeriodClosed(Conflict):
    code = "period_closed"
    message_zh = "该会计期间已结账，不能再记账"
    message_en = "The period is closed; post into the open period"


class AlreadyReversed(Conflict):
    code = "already_reversed"
    message_zh = "该笔记录已冲正"
    message_en = "This posting has already been reversed"


class IdempotencyMismatch(Conflict):
    code = "idempotency_key_reused"
    status = 422
    message_zh = "该幂等键已用于内容不同的记账"
    message_en = "This idempotency key was already used for a different posting"


class InvalidAmount(ValidationFailed):
    code = "invalid_amount"
    message_zh = "金额必须为正"
    message_en = "The amount must be positive"


class SignatureInvalid(DomainError):
    code = "signature_invalid"
    status = 400
    message_zh = "支付通知签名无效"
    message_en = "The payment notification signature is invalid"


class NotYourChild(DomainError):
    code = "forbidden"
    status = 403
    message_zh = "只能操作本人子女的账户"
    message_en = "You may only act on your own children's accounts"

"""Error codes of online payments (see canteen.core.errors)."""

from canteen.core.errors import Conflict, DomainError, NotFound


class ProviderUnavailable(DomainError):
    code = "provider_unavailable"
    status = 503
    message_zh = "支付渠道暂时无法连接，请稍后再试（未扣款）"
    message_en = "The payment provider cannot be reached; try again later (nothing was charged)"


class MerchantMissing(DomainError):
    code = "merchant_missing"
    status = 409
    message_zh = "学校尚未开通该支付渠道"
    message_en = "The school has no merchant account at this provider"


class MerchantMisconfigured(DomainError):
    code = "merchant_misconfigured"
    status = 500
    message_zh = "商户密钥未配置"
    message_en = "The merchant's keys are not configured"


class NotificationRefused(DomainError):
    """A notification we will not act on; the provider is told FAIL (and may redeliver)."""

    code = "notification_refused"
    status = 400
    message_zh = "支付通知无效"
    message_en = "The payment notification is refused"


class UnknownOrder(NotFound):
    code = "unknown_order"
    message_zh = "找不到该充值订单"
    message_en = "No such top-up order"


class RefundRefused(Conflict):
    code = "refund_refused"
    message_zh = "无法退款"
    message_en = "The refund cannot be made"

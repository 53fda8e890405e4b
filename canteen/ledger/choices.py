from django.db import models


class AccountKind(models.TextChoices):
    WALLET = "wallet", "学生账户 Student wallet"
    REVENUE = "revenue", "食堂收入 Canteen revenue"
    SUBSIDY = "subsidy", "营养改善计划补助 Nutrition subsidy receivable"
    PAYABLE = "payable", "应付供应商 Supplier payable"
    CASH = "cash", "现金 Cash"
    BANK = "bank", "银行存款 Bank"
    PROVIDER = "provider", "在线支付待结算 Payment provider clearing"
    REFUND = "refund", "应退款项 Refunds due"
    FOOD_COST = "food_cost", "食材成本 Food cost"
    OTHER_COST = "other_cost", "其他成本 Other costs"
    # A pupil's restricted subsidy balance (补助余额): spent on meals before family money, never
    # paid out as cash; what is unspent goes back to the programme's fund (ledger.subsidies).
    ALLOWANCE = "allowance", "学生补助余额 Pupil's subsidy balance"


class AccountStatus(models.TextChoices):
    OPEN = "open", "正常 Open"
    CLOSED = "closed", "已销户 Closed"


class PostingKind(models.TextChoices):
    TOP_UP = "top_up", "充值 Top-up"
    MEAL_CHARGE = "meal_charge", "餐费 Meal charge"
    MEAL_REVERSE = "meal_reverse", "餐费退回 Meal refund"
    REFUND = "refund", "退款 Refund"
    SUBSIDY = "subsidy", "营养餐补助 Nutrition subsidy"
    TRANSFER = "transfer", "子女间转账 Transfer between children"
    CLOSURE = "closure", "销户退款 Closure refund"
    REFUND_PAID = "refund_paid", "退款支付 Refund paid out"
    SUPPLIER_INVOICE = "supplier_invoice", "供应商发票 Supplier invoice"
    SUPPLIER_PAYMENT = "supplier_payment", "供应商付款 Supplier payment"
    OTHER_COST = "other_cost", "其他支出 Other cost"
    REVERSAL = "reversal", "冲正 Reversal"
    SUBSIDY_RETURN = "subsidy_return", "补助退回资金 Subsidy returned to its fund"
    GOODS_RECEIVED = "goods_received", "验收入账 Goods received"
    GOODS_RETURNED = "goods_returned", "退货冲减 Goods returned to supplier"


class Channel(models.TextChoices):
    ONLINE = "online", "在线支付 Online"
    BANK = "bank", "银行转账 Bank transfer"
    CASH = "cash", "现金 Cash"
    TERMINAL = "terminal", "窗口 Window"
    INTERNAL = "internal", "内部 Internal"


class TopUpOrderStatus(models.TextChoices):
    CREATED = "created", "待支付 Awaiting payment"
    PAID = "paid", "已支付 Paid"
    FAILED = "failed", "支付失败 Failed"
    CLOSED = "closed", "已关闭 Closed unpaid"


class PaymentProviderName(models.TextChoices):
    DEMO = "demo", "演示支付 Demo payment"
    WECHAT = "wechat", "微信支付 WeChat Pay"
    ALIPAY = "alipay", "支付宝 Alipay"


class MerchantMode(models.TextChoices):
    DIRECT = "direct", "学校自有商户 School's own merchant"
    PARTNER = "partner", "区服务商下的子商户 Sub-merchant of the district's service provider"


class TradeType(models.TextChoices):
    JSAPI = "jsapi", "微信内支付 In WeChat (JSAPI)"
    NATIVE = "native", "扫码支付 QR code (Native)"
    H5 = "h5", "手机浏览器支付 Phone browser (H5)"
    WAP = "wap", "手机网站支付 Phone website (Alipay)"
    PAGE = "page", "电脑网站支付 PC website (Alipay)"
    DEMO = "demo", "演示支付 Demo payment"


class RefundStatus(models.TextChoices):
    REQUESTED = "requested", "已申请 Requested"
    PROCESSING = "processing", "退款中 Processing"
    SUCCEEDED = "succeeded", "已退款 Refunded"
    FAILED = "failed", "退款失败 Failed"


class MismatchKind(models.TextChoices):
    PAID_NOT_CREDITED = "paid_not_credited", "已付款未入账 Paid but not credited"
    CREDITED_NOT_IN_BILL = "credited_not_in_bill", "已入账但账单无此笔 Credited but not in the bill"
    AMOUNT_DIFFERS = "amount_differs", "金额不符 Amount differs"
    REFUND_MISSING = "refund_missing", "退款未记账 Refund missing"
    REFUND_NOT_IN_BILL = "refund_not_in_bill", "退款不在账单 Refund not in the bill"
    ORDER_WITHOUT_POSTING = "order_without_posting", "订单已付无记账 Paid order without posting"


class MismatchStatus(models.TextChoices):
    OPEN = "open", "待处理 Open"
    FIXED = "fixed", "已修正 Fixed"
    RESOLVED = "resolved", "已说明 Resolved with a reason"


class ProgrammeKind(models.TextChoices):
    NUTRITION = "nutrition", "农村义务教育学生营养改善计划 National nutrition improvement programme"
    BOARDING = "boarding", "寄宿生生活补助 Boarding allowance"
    HARDSHIP = "hardship", "家庭经济困难学生补助 Hardship allowance"
    FREE_MEAL = "free_meal", "免费午餐 Free meals"


class FundingSource(models.TextChoices):
    CENTRAL = "central", "中央财政 Central government"
    PROVINCIAL = "provincial", "省级财政 Province"
    MUNICIPAL = "municipal", "市级财政 City"
    COUNTY = "county", "县区财政 County/district"
    SCHOOL = "school", "学校自筹 School"
    DONATION = "donation", "社会捐助 Donations"


class SettlementMismatchKind(models.TextChoices):
    """What reconciliation found between a settlement file and the ledger (stored in the run's
    mismatches as codes)."""

    BAD_ROW = "bad_row", "无法读取的行 Unreadable row"
    DUPLICATE_IN_FILE = "duplicate_in_file", "文件内重复 Duplicate in the file"
    MISSING_IN_LEDGER = "missing_in_ledger", "账上没有 Not in the ledger"
    AMOUNT_DIFFERS = "amount_differs", "金额不一致 Amount differs"
    MISSING_IN_SETTLEMENT = "missing_in_settlement", "对账单没有 Not in the settlement file"

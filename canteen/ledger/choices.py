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


class MismatchKind(models.TextChoices):
    """What reconciliation found between a settlement file and the ledger (stored in the run's
    mismatches as codes)."""

    BAD_ROW = "bad_row", "无法读取的行 Unreadable row"
    DUPLICATE_IN_FILE = "duplicate_in_file", "文件内重复 Duplicate in the file"
    MISSING_IN_LEDGER = "missing_in_ledger", "账上没有 Not in the ledger"
    AMOUNT_DIFFERS = "amount_differs", "金额不一致 Amount differs"
    MISSING_IN_SETTLEMENT = "missing_in_settlement", "对账单没有 Not in the settlement file"

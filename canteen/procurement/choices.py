"""Vocabularies of procurement: item categories, licence kinds, order and delivery states."""

from django.db import models


class ItemCategory(models.TextChoices):
    VEGETABLE = "vegetable", "蔬菜 Vegetables"
    MEAT = "meat", "肉类 Meat"
    GRAIN_OIL = "grain_oil", "粮油 Grain & oil"
    AQUATIC = "aquatic", "水产 Aquatic products"
    EGG_DAIRY = "egg_dairy", "蛋奶 Eggs & dairy"
    CONDIMENT = "condiment", "调料 Condiments"
    FRUIT = "fruit", "水果 Fruit"
    SOY = "soy", "豆制品 Soy products"


class Storage(models.TextChoices):
    AMBIENT = "ambient", "常温 Ambient"
    CHILLED = "chilled", "冷藏 Chilled"
    FROZEN = "frozen", "冷冻 Frozen"


class LicenceKind(models.TextChoices):
    BUSINESS = "business", "营业执照 Business licence"
    FOOD_BUSINESS = "food_business", "食品经营许可证 Food business licence"
    FOOD_PRODUCTION = "food_production", "食品生产许可证 Food production licence"
    ANIMAL_EPIDEMIC = "animal_epidemic", "动物防疫条件合格证 Animal epidemic prevention certificate"
    HEALTH = "health", "从业人员健康证 Staff health certificate"
    ORGANIC = "organic", "绿色/有机认证 Green/organic certification"
    OTHER = "other", "其他 Other"


class AlertState(models.TextChoices):
    NONE = "", "—"
    EXPIRING = "expiring", "即将到期 Expiring"
    EXPIRED = "expired", "已过期 Expired"


class MealKind(models.TextChoices):
    BREAKFAST = "breakfast", "早餐 Breakfast"
    LUNCH = "lunch", "午餐 Lunch"
    DINNER = "dinner", "晚餐 Dinner"


class OrderStatus(models.TextChoices):
    DRAFT = "draft", "草稿 Draft"
    SUBMITTED = "submitted", "已提交 Submitted"
    APPROVED = "approved", "已审批 Approved"
    SENT = "sent", "已发送供应商 Sent"
    CONFIRMED = "confirmed", "供应商已确认 Confirmed"
    PARTIALLY_DELIVERED = "partially_delivered", "部分到货 Partially delivered"
    DELIVERED = "delivered", "已到货 Delivered"
    CLOSED = "closed", "已关闭 Closed"
    CANCELLED = "cancelled", "已取消 Cancelled"


class DeliveryStatus(models.TextChoices):
    DISPATCHED = "dispatched", "已发车 Dispatched"
    ARRIVED = "arrived", "已到达 Arrived"
    ACCEPTED = "accepted", "已验收 Accepted"
    PARTIALLY_ACCEPTED = "partially_accepted", "部分验收 Partially accepted"
    REJECTED = "rejected", "拒收 Rejected"


class CheckResult(models.TextChoices):
    ACCEPT = "accept", "合格接收 Accept"
    PARTIAL = "partial", "部分接收 Partly accept"
    REJECT = "reject", "拒收 Reject"


class BatchStatus(models.TextChoices):
    PENDING = "pending", "待验收 Awaiting acceptance"
    ACCEPTED = "accepted", "已接收 Accepted"
    PARTIALLY_ACCEPTED = "partially_accepted", "部分接收 Partly accepted"
    REJECTED = "rejected", "拒收 Rejected"


class MovementKind(models.TextChoices):
    RECEIPT = "receipt", "入库 Receipt"
    ISSUE = "issue", "出库领用 Issue to kitchen"
    ADJUSTMENT = "adjustment", "盘点调整 Count adjustment"
    DISPOSAL = "disposal", "报损 Disposal"
    RETURN = "return", "退货 Returned to supplier"


class CountStatus(models.TextChoices):
    OPEN = "open", "盘点中 Counting"
    CLOSED = "closed", "已完成 Closed"


class QuickTest(models.TextChoices):
    """The rapid tests recorded with a batch (their codes are stored in Batch.quick_tests)."""

    PESTICIDE_RESIDUE = "pesticide_residue", "农药残留（酶抑制率） Pesticide residue (enzyme inhibition)"
    CLENBUTEROL = "clenbuterol", "瘦肉精（克伦特罗） Clenbuterol"
    RACTOPAMINE = "ractopamine", "莱克多巴胺 Ractopamine"
    SALBUTAMOL = "salbutamol", "沙丁胺醇 Salbutamol"
    FORMALDEHYDE = "formaldehyde", "甲醛 Formaldehyde"
    SULFUR_DIOXIDE = "sulfur_dioxide", "二氧化硫 Sulfur dioxide"
    NITRITE = "nitrite", "亚硝酸盐 Nitrite"
    MALACHITE_GREEN = "malachite_green", "孔雀石绿 Malachite green"

from django.db import models


class DeviceKind(models.TextChoices):
    VEHICLE = "vehicle", "车载终端 Vehicle tracker"
    APP = "app", "手机应用 Phone app"


class TempProfile(models.TextChoices):
    AMBIENT = "ambient", "常温 Ambient"
    CHILLED = "chilled", "冷藏 Chilled"
    FROZEN = "frozen", "冷冻 Frozen"


class RecallStatus(models.TextChoices):
    OPEN = "open", "召回中 Open"
    CLOSED = "closed", "已完成 Closed"

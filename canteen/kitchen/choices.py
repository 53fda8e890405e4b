from django.db import models


class Area(models.TextChoices):
    RECEIVING = "receiving", "收货验收 Receiving"
    WASHING_CUTTING = "washing_cutting", "清洗切配 Washing/cutting"
    COOKING = "cooking", "烹饪 Cooking"
    PORTIONING = "portioning", "分餐 Portioning"
    STORAGE = "storage", "库房 Storage"
    DISINFECTION = "disinfection", "餐具消毒 Utensil disinfection"


class Codec(models.TextChoices):
    # Cameras that give H.264 are only remuxed; anything else is re-encoded (costs a core share).
    H264 = "h264", "H.264（直接转封装 remux）"
    OTHER = "other", "其他（转码 transcode）"


class HealthStatus(models.TextChoices):
    STARTING = "starting", "启动中 Starting"
    ONLINE = "online", "在线 Online"
    OFFLINE = "offline", "离线 Offline"
    BACKOFF = "backoff", "重连等待 Retrying"
    DISABLED = "disabled", "已停用 Disabled"


class AlarmKind(models.TextChoices):
    AFTER_HOURS_MOTION = "after_hours_motion", "非工作时间移动 After-hours motion"
    COVERED = "covered", "镜头遮挡 Camera covered"
    MOVED = "moved", "镜头移位 Camera moved"
    DARK = "dark", "视频中断 Stream gone dark"
    # Plug-in detectors (ONNX or Python) raise "detector:<label>", e.g. "detector:no_hat".


class AlarmStatus(models.TextChoices):
    OPEN = "open", "待处理 Open"
    ACKNOWLEDGED = "acknowledged", "已确认 Acknowledged"
    RESOLVED = "resolved", "已处置 Resolved"
    DISMISSED = "dismissed", "误报 Dismissed"


class Meal(models.TextChoices):
    BREAKFAST = "breakfast", "早餐 Breakfast"
    LUNCH = "lunch", "午餐 Lunch"
    DINNER = "dinner", "晚餐 Dinner"


class DisinfectionMethod(models.TextChoices):
    STEAM = "steam", "蒸汽 Steam"
    BOILING = "boiling", "煮沸 Boiling"
    INFRARED_CABINET = "infrared_cabinet", "红外消毒柜 Infrared cabinet"
    CHLORINE = "chlorine", "含氯消毒液 Chlorine solution"
    UV = "uv", "紫外线 UV lamp"


class DisinfectionTarget(models.TextChoices):
    TABLEWARE = "tableware", "餐饮具 Tableware"
    UTENSILS = "utensils", "工用具 Kitchen utensils"
    SURFACES = "surfaces", "操作台面 Work surfaces"
    ROOM = "room", "专间 Dedicated room"


class WasteKind(models.TextChoices):
    FOOD_WASTE = "food_waste", "餐厨垃圾 Food waste"
    WASTE_OIL = "waste_oil", "废弃油脂 Waste oil"
    OTHER = "other", "其他 Other"


class Symptom(models.TextChoices):
    FEVER = "fever", "发热 Fever"
    DIARRHOEA = "diarrhoea", "腹泻 Diarrhoea"
    VOMITING = "vomiting", "呕吐 Vomiting"
    SORE_THROAT = "sore_throat", "咽痛 Sore throat"
    COUGH = "cough", "咳嗽 Cough"
    HAND_WOUND = "hand_wound", "手部伤口/化脓 Hand wound"
    SKIN_INFECTION = "skin_infection", "皮肤病 Skin infection"
    JAUNDICE = "jaundice", "黄疸 Jaundice"


class RecordKind(models.TextChoices):
    FOOD_SAMPLE = "food_sample", "留样 Food sample"
    MORNING_CHECK = "morning_check", "晨检 Morning health check"
    DISINFECTION = "disinfection", "消毒 Disinfection"
    ACCOMPANY = "accompany", "陪餐 Accompanied meal"

from django.db import models


class SessionKind(models.TextChoices):
    BREAKFAST = "breakfast", "早餐 Breakfast"
    LUNCH = "lunch", "午餐 Lunch"
    DINNER = "dinner", "晚餐 Dinner"


SESSION_ORDER = {SessionKind.BREAKFAST: 0, SessionKind.LUNCH: 1, SessionKind.DINNER: 2}


class Diet(models.TextChoices):
    STANDARD = "standard", "普通 Standard"
    HALAL = "halal", "清真 Halal"
    VEGETARIAN = "vegetarian", "素食 Vegetarian"
    LOW_ALLERGEN = "low_allergen", "低敏 Low-allergen"


class MenuStatus(models.TextChoices):
    DRAFT = "draft", "草稿 Draft"
    PUBLISHED = "published", "已发布 Published"


class FoodGroup(models.TextChoices):
    """Food groups as WS/T 554-2017 counts them (plus condiments, which it limits)."""

    CEREAL = "cereal", "谷薯类 Cereals and tubers"
    VEGETABLE = "vegetable", "蔬菜类 Vegetables"
    FRUIT = "fruit", "水果类 Fruit"
    MEAT = "meat", "畜禽肉类 Meat and poultry"
    AQUATIC = "aquatic", "鱼虾类 Fish and shrimp"
    EGG = "egg", "蛋类 Eggs"
    DAIRY = "dairy", "奶及奶制品 Milk and dairy"
    SOY_NUT = "soy_nut", "大豆类及坚果 Soy and nuts"
    OIL = "oil", "植物油 Cooking oil"
    SALT = "salt", "盐 Salt"
    CONDIMENT = "condiment", "调味品 Condiments"
    OTHER = "other", "其他 Other"


class Allergen(models.TextChoices):
    """The major allergen groups (Codex / GB 7718-2011 annex and EU Regulation 1169/2011)."""

    GLUTEN = "gluten", "含麸质谷物 Cereals with gluten"
    CRUSTACEAN = "crustacean", "甲壳类 Crustaceans"
    EGG = "egg", "蛋类 Eggs"
    FISH = "fish", "鱼类 Fish"
    PEANUT = "peanut", "花生 Peanuts"
    SOY = "soy", "大豆 Soy"
    MILK = "milk", "乳及乳制品 Milk"
    TREE_NUT = "tree_nut", "坚果 Tree nuts"
    SESAME = "sesame", "芝麻 Sesame"
    MOLLUSC = "mollusc", "软体动物 Molluscs"
    CELERY = "celery", "芹菜 Celery"
    MUSTARD = "mustard", "芥末 Mustard"
    SULPHITE = "sulphite", "亚硫酸盐 Sulphites"


# "花生 Peanuts" → "花生": the window's screen is Chinese and short.
ALLERGEN_SHORT = {code: str(label).split(" ")[0] for code, label in Allergen.choices}

ALLERGEN_ICON = {
    "gluten": "🌾",
    "crustacean": "🦐",
    "egg": "🥚",
    "fish": "🐟",
    "peanut": "🥜",
    "soy": "🫘",
    "milk": "🥛",
    "tree_nut": "🌰",
    "sesame": "⚪",
    "mollusc": "🦑",
    "celery": "🥬",
    "mustard": "🟡",
    "sulphite": "🍷",
}

"""WS/T 554-2017 学生餐营养指南 (Nutrition guide for student meals): targets and checks.

Pure functions, no database: the nutrient totals come from canteen.meals.nutrition.

Targets per person per day (Table 1 of the standard; energy in kcal, protein in g), by age group
and sex; fat 20–30 % and carbohydrate 50–65 % of energy. Each meal supplies a share of the day:
breakfast 25–30 %, lunch 35–40 %, dinner 30–35 %. A meal's target is the day's target times the
middle of its share; energy passes at 90–110 % of it and protein at 80–120 %.
Food-group amounts per person per day (Table 2 of the standard) are checked against the same meal
share and reported as warnings (a single meal need not carry every group: fruit is often served
between meals). Salt: the standard's daily limit, scaled by the meal share.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from canteen.core.i18n import pair_of, tr

from .choices import FoodGroup, SessionKind

AGE_GROUPS = ("6-8", "9-11", "12-14", "15-17")

# (boys, girls) kcal and protein g per day.
ENERGY_KCAL = {"6-8": (1700, 1550), "9-11": (2100, 1900), "12-14": (2450, 2100), "15-17": (2900, 2350)}
PROTEIN_G = {"6-8": (35, 35), "9-11": (50, 50), "12-14": (65, 60), "15-17": (75, 60)}
SALT_G_PER_DAY = {"6-8": 5, "9-11": 5, "12-14": 5, "15-17": 6}

# Share of the day's energy and nutrients (low, high) per meal.
MEAL_SHARE = {
    SessionKind.BREAKFAST: (Decimal("0.25"), Decimal("0.30")),
    SessionKind.LUNCH: (Decimal("0.35"), Decimal("0.40")),
    SessionKind.DINNER: (Decimal("0.30"), Decimal("0.35")),
}

# g per person per day, (low, high), by age group.
FOOD_GROUPS_G = {
    FoodGroup.CEREAL: {"6-8": (250, 300), "9-11": (300, 350), "12-14": (350, 400), "15-17": (350, 400)},
    FoodGroup.VEGETABLE: {"6-8": (300, 350), "9-11": (350, 400), "12-14": (400, 450), "15-17": (450, 500)},
    FoodGroup.FRUIT: {"6-8": (150, 200), "9-11": (200, 250), "12-14": (250, 300), "15-17": (300, 350)},
    FoodGroup.MEAT: {"6-8": (30, 40), "9-11": (40, 50), "12-14": (50, 60), "15-17": (60, 70)},
    FoodGroup.AQUATIC: {"6-8": (30, 40), "9-11": (40, 50), "12-14": (50, 60), "15-17": (50, 60)},
    FoodGroup.EGG: {"6-8": (50, 50), "9-11": (50, 50), "12-14": (75, 75), "15-17": (75, 75)},
    FoodGroup.DAIRY: {"6-8": (200, 200), "9-11": (200, 200), "12-14": (250, 250), "15-17": (250, 250)},
    FoodGroup.SOY_NUT: {"6-8": (30, 30), "9-11": (35, 35), "12-14": (40, 40), "15-17": (50, 50)},
    FoodGroup.OIL: {"6-8": (25, 25), "9-11": (25, 25), "12-14": (30, 30), "15-17": (30, 30)},
}

ENERGY_BAND = (Decimal("0.90"), Decimal("1.10"))
PROTEIN_BAND = (Decimal("0.80"), Decimal("1.20"))
FAT_ENERGY_PCT = (Decimal("20"), Decimal("30"))
CARB_ENERGY_PCT = (Decimal("50"), Decimal("65"))

FAIL = "fail"
WARN = "warn"


def age_group(age: int) -> str:
    """The standard's age band for an age in years (younger pupils use 6–8, older 15–17)."""
    if age <= 8:
        return "6-8"
    if age <= 11:
        return "9-11"
    if age <= 14:
        return "12-14"
    return "15-17"


def day_target(group: str, gender: str | None) -> tuple[Decimal, Decimal]:
    """(energy kcal, protein g) per day; gender 'm', 'f' or None for the mean of both."""
    e, p = ENERGY_KCAL[group], PROTEIN_G[group]
    if gender == "m":
        return Decimal(e[0]), Decimal(p[0])
    if gender == "f":
        return Decimal(e[1]), Decimal(p[1])
    return Decimal(e[0] + e[1]) / 2, Decimal(p[0] + p[1]) / 2


def meal_share_mid(kind: str) -> Decimal:
    low, high = MEAL_SHARE[kind]
    return (low + high) / 2


@dataclass(frozen=True)
class Flag:
    code: str
    severity: str
    session_kind: str
    subject: str  # set meal name (or "day")
    age_group: str
    value: Decimal
    low: Decimal | None
    high: Decimal | None
    unit: str
    message_zh: str
    message_en: str

    def as_dict(self) -> dict:
        return {
            "code": self.code,
            "severity": self.severity,
            "session_kind": self.session_kind,
            "subject": self.subject,
            "age_group": self.age_group,
            "value": str(self.value),
            "low": None if self.low is None else str(self.low),
            "high": None if self.high is None else str(self.high),
            "unit": self.unit,
            "message_zh": self.message_zh,
            "message_en": self.message_en,
        }

    @property
    def message(self) -> str:
        return tr(self.message_zh, self.message_en)


def _q(value: Decimal, places: str = "0.1") -> Decimal:
    return value.quantize(Decimal(places))


def check_meal(*, totals: dict, session_kind: str, group: str, subject: str, gender: str | None = None) -> list[Flag]:
    """Flags for one meal (one set meal's nutrient totals per portion) of one age group.

    `totals` is nutrition.Totals.as_dict()-like: energy_kcal, protein_g, fat_g, carbohydrate_g,
    salt_g and groups {food_group: grams}."""
    flags: list[Flag] = []
    share = meal_share_mid(session_kind)
    energy_day, protein_day = day_target(group, gender)
    energy_target, protein_target = energy_day * share, protein_day * share
    energy = Decimal(totals["energy_kcal"])
    protein = Decimal(totals["protein_g"])

    def band(code, value, target, limits, unit, zh, en):
        low, high = _q(target * limits[0]), _q(target * limits[1])
        if value < low or value > high:
            direction_zh, direction_en = ("偏低", "too low") if value < low else ("偏高", "too high")
            flags.append(
                Flag(
                    code=f"{code}_{'low' if value < low else 'high'}",
                    severity=FAIL,
                    session_kind=session_kind,
                    subject=subject,
                    age_group=group,
                    value=_q(value),
                    low=low,
                    high=high,
                    unit=unit,
                    message_zh=f"{subject}：{zh}{direction_zh}（{_q(value)} {unit}，目标 {low}–{high}）",
                    message_en=f"{subject}: {en} {direction_en} ({_q(value)} {unit}; target {low}–{high})",
                )
            )

    band("energy", energy, energy_target, ENERGY_BAND, "kcal", "能量", "energy")
    band("protein", protein, protein_target, PROTEIN_BAND, "g", "蛋白质", "protein")
    if energy > 0:
        for code, grams, per_g, limits, zh, en in (
            ("fat_pct", Decimal(totals["fat_g"]), 9, FAT_ENERGY_PCT, "脂肪供能比", "fat share of energy"),
            (
                "carb_pct",
                Decimal(totals["carbohydrate_g"]),
                4,
                CARB_ENERGY_PCT,
                "碳水化合物供能比",
                "carbohydrate share of energy",
            ),
        ):
            pct = grams * per_g * 100 / energy
            if pct < limits[0] or pct > limits[1]:
                low_side = pct < limits[0]
                flags.append(
                    Flag(
                        code=f"{code}_{'low' if low_side else 'high'}",
                        severity=FAIL,
                        session_kind=session_kind,
                        subject=subject,
                        age_group=group,
                        value=_q(pct),
                        low=limits[0],
                        high=limits[1],
                        unit="%",
                        message_zh=f"{subject}：{zh}{'偏低' if low_side else '偏高'}（{_q(pct)}%，应为 {limits[0]}–{limits[1]}%）",
                        message_en=f"{subject}: {en} {'too low' if low_side else 'too high'} ({_q(pct)}%; should be {limits[0]}–{limits[1]}%)",
                    )
                )
    salt_limit = _q(Decimal(SALT_G_PER_DAY[group]) * MEAL_SHARE[session_kind][1])
    salt = Decimal(totals["salt_g"])
    if salt > salt_limit:
        flags.append(
            Flag(
                code="salt_high",
                severity=FAIL,
                session_kind=session_kind,
                subject=subject,
                age_group=group,
                value=_q(salt),
                low=None,
                high=salt_limit,
                unit="g",
                message_zh=f"{subject}：盐超量（{_q(salt)} g，本餐上限 {salt_limit} g）",
                message_en=f"{subject}: too much salt ({_q(salt)} g; limit for this meal {salt_limit} g)",
            )
        )
    low_share, high_share = MEAL_SHARE[session_kind]
    groups = totals.get("groups", {})
    for food_group, ranges in FOOD_GROUPS_G.items():
        day_low, day_high = ranges[group]
        low, high = (
            _q(Decimal(day_low) * low_share * ENERGY_BAND[0]),
            _q(Decimal(day_high) * high_share * ENERGY_BAND[1]),
        )
        grams = Decimal(groups.get(food_group, 0))
        # Fruit and milk are often served outside the meal; only their excess is flagged.
        if grams < low and food_group in (FoodGroup.FRUIT, FoodGroup.DAIRY):
            continue
        if grams < low or grams > high:
            label = FoodGroup(food_group).label
            zh, en = pair_of(label)
            low_side = grams < low
            flags.append(
                Flag(
                    code=f"group_{food_group}_{'low' if low_side else 'high'}",
                    severity=WARN,
                    session_kind=session_kind,
                    subject=subject,
                    age_group=group,
                    value=_q(grams),
                    low=low,
                    high=high,
                    unit="g",
                    message_zh=f"{subject}：{zh}{'不足' if low_side else '过多'}（{_q(grams)} g，建议 {low}–{high} g）",
                    message_en=f"{subject}: {en.lower()} {'too little' if low_side else 'too much'} ({_q(grams)} g; advised {low}–{high} g)",
                )
            )
    return flags

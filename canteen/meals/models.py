"""Meals: the food composition table, dishes with recipes, set meals (套餐), meal sessions,
per-campus menus per day and session (versioned once published), students' meal plans,
served counts (for the forecast when consumption has none) and menu-board tokens."""

from __future__ import annotations

import secrets

from django.db import models

from canteen.core.models import BaseModel

from .choices import Diet, FoodGroup, MenuStatus, SessionKind

_CAMPUS_SCOPE = {
    "city": "campus__school__district__city_id",
    "district": "campus__school__district_id",
    "school": "campus__school_id",
    "campus": "campus_id",
    "guardian": "campus__students__guardian_links__guardian__user_id",
}


class Ingredient(BaseModel):
    """One row of the bundled food composition table (values per 100 g edible portion).
    Loaded from canteen/meals/data/food_composition.csv by services.food_table_sync()."""

    code = models.CharField(max_length=16, unique=True)
    name_zh = models.CharField(max_length=60)
    name_en = models.CharField(max_length=100)
    food_group = models.CharField(max_length=12, choices=FoodGroup.choices)
    energy_kcal = models.DecimalField(max_digits=7, decimal_places=1)
    protein_g = models.DecimalField(max_digits=6, decimal_places=2)
    fat_g = models.DecimalField(max_digits=6, decimal_places=2)
    carbohydrate_g = models.DecimalField(max_digits=6, decimal_places=2)
    fiber_g = models.DecimalField(max_digits=6, decimal_places=2, default=0)
    sodium_mg = models.DecimalField(max_digits=8, decimal_places=1, default=0)
    calcium_mg = models.DecimalField(max_digits=7, decimal_places=1, default=0)
    iron_mg = models.DecimalField(max_digits=6, decimal_places=2, default=0)
    allergens = models.JSONField(default=list, blank=True)
    source = models.CharField(max_length=120, help_text="e.g. USDA SR Legacy NDB 20444")

    # A public reference table (no scope_lookups): selectors read it unscoped, on purpose.

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name_zh


class Dish(BaseModel):
    """A dish of one school's library, with its recipe per portion."""

    school = models.ForeignKey("org.School", on_delete=models.PROTECT, related_name="dishes")
    name = models.CharField(max_length=60)
    name_en = models.CharField(max_length=100, blank=True)
    # Derived from the recipe by services.dish_set_recipe; stored for the window and the board.
    allergens = models.JSONField(default=list, blank=True)
    diet_tags = models.JSONField(default=list, blank=True, help_text="halal, vegetarian")
    photo = models.ImageField(upload_to="meals/dishes/", blank=True)
    active = models.BooleanField(default=True)

    scope_lookups = {
        "city": "school__district__city_id",
        "district": "school__district_id",
        "school": "school_id",
        "campus": "school__campuses__id",
        "guardian": "school__campuses__students__guardian_links__guardian__user_id",
    }

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "dishes"
        constraints = [models.UniqueConstraint(fields=["school", "name"], name="dish_name_unique_per_school")]

    def __str__(self) -> str:
        return self.name


class RecipeLine(BaseModel):
    dish = models.ForeignKey(Dish, on_delete=models.CASCADE, related_name="lines")
    ingredient = models.ForeignKey(Ingredient, on_delete=models.PROTECT, related_name="recipe_lines")
    grams = models.DecimalField(max_digits=7, decimal_places=1, help_text="grams per portion, edible part")
    # Which procurement catalogue item this line is bought as (nullable: linked when known).
    procurement_item = models.ForeignKey(
        "procurement.Item", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    scope_lookups = {
        "city": "dish__school__district__city_id",
        "district": "dish__school__district_id",
        "school": "dish__school_id",
        "campus": "dish__school__campuses__id",
    }

    class Meta:
        ordering = ["dish", "-grams"]
        constraints = [models.UniqueConstraint(fields=["dish", "ingredient"], name="recipe_line_unique")]

    def __str__(self) -> str:
        return f"{self.dish} · {self.ingredient} {self.grams} g"


class MealSession(BaseModel):
    campus = models.ForeignKey("org.Campus", on_delete=models.PROTECT, related_name="meal_sessions")
    kind = models.CharField(max_length=10, choices=SessionKind.choices)
    serve_start = models.TimeField()
    serve_end = models.TimeField()
    # May a student take a second (paid) meal in this session?
    allows_second_meal = models.BooleanField(default=False)
    active = models.BooleanField(default=True)

    scope_lookups = _CAMPUS_SCOPE

    class Meta:
        ordering = ["campus", "serve_start"]
        constraints = [
            models.UniqueConstraint(fields=["campus", "kind"], name="meal_session_kind_unique_per_campus"),
            models.CheckConstraint(
                condition=models.Q(serve_end__gt=models.F("serve_start")), name="session_end_after_start"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.serve_start:%H:%M}–{self.serve_end:%H:%M}"


class SetMeal(BaseModel):
    """A 套餐 at one campus (optionally one canteen of it): a name and a price; which dishes it
    holds on a given day is what that day's menu says (its default dishes are a template)."""

    campus = models.ForeignKey("org.Campus", on_delete=models.PROTECT, related_name="set_meals")
    canteen = models.ForeignKey("org.Canteen", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=40)
    price_fen = models.BigIntegerField()
    diet = models.CharField(max_length=14, choices=Diet.choices, default=Diet.STANDARD)
    # The set meal a student without a plan gets.
    is_default = models.BooleanField(default=False)
    dishes = models.ManyToManyField(Dish, blank=True, related_name="set_meals")
    active = models.BooleanField(default=True)

    scope_lookups = _CAMPUS_SCOPE

    class Meta:
        ordering = ["campus", "name"]
        constraints = [
            models.UniqueConstraint(fields=["campus", "name"], name="set_meal_name_unique_per_campus"),
            models.CheckConstraint(condition=models.Q(price_fen__gte=0), name="set_meal_price_not_negative"),
        ]

    def __str__(self) -> str:
        return self.name


class Menu(BaseModel):
    """What a campus serves in one session of one day. Published menus are versioned: every
    publication and every change after it stores a MenuVersion snapshot."""

    campus = models.ForeignKey("org.Campus", on_delete=models.PROTECT, related_name="menus")
    session = models.ForeignKey(MealSession, on_delete=models.PROTECT, related_name="menus")
    day = models.DateField()
    status = models.CharField(max_length=10, choices=MenuStatus.choices, default=MenuStatus.DRAFT)
    version = models.PositiveIntegerField(default=0, help_text="0 until first published")
    published_at = models.DateTimeField(null=True, blank=True)

    scope_lookups = _CAMPUS_SCOPE

    class Meta:
        ordering = ["day", "session__serve_start"]
        constraints = [models.UniqueConstraint(fields=["campus", "session", "day"], name="menu_unique_per_session_day")]
        indexes = [models.Index(fields=["campus", "day", "status"])]

    def __str__(self) -> str:
        return f"{self.day} {self.session.get_kind_display()}"


class MenuEntry(BaseModel):
    menu = models.ForeignKey(Menu, on_delete=models.CASCADE, related_name="entries")
    set_meal = models.ForeignKey(SetMeal, on_delete=models.PROTECT, related_name="menu_entries")
    dish = models.ForeignKey(Dish, on_delete=models.PROTECT, related_name="menu_entries")
    position = models.PositiveSmallIntegerField(default=0)

    scope_lookups = {
        "city": "menu__campus__school__district__city_id",
        "district": "menu__campus__school__district_id",
        "school": "menu__campus__school_id",
        "campus": "menu__campus_id",
    }

    class Meta:
        ordering = ["menu", "set_meal__name", "position"]
        constraints = [models.UniqueConstraint(fields=["menu", "set_meal", "dish"], name="menu_entry_unique")]

    def __str__(self) -> str:
        return f"{self.menu} {self.set_meal} {self.dish}"


class MenuVersion(BaseModel):
    """Append-only: a snapshot of a menu each time it is published or changed after publishing."""

    menu = models.ForeignKey(Menu, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    snapshot = models.JSONField()
    # For a change after publishing: what changed, why, by whom.
    changes = models.JSONField(default=dict, blank=True)
    reason = models.CharField(max_length=200, blank=True)
    actor_label = models.CharField(max_length=150, blank=True)
    is_change_after_publish = models.BooleanField(default=False)

    scope_lookups = {
        "city": "menu__campus__school__district__city_id",
        "district": "menu__campus__school__district_id",
        "school": "menu__campus__school_id",
        "campus": "menu__campus_id",
    }

    class Meta:
        ordering = ["menu", "version"]
        constraints = [models.UniqueConstraint(fields=["menu", "version"], name="menu_version_unique")]

    def __str__(self) -> str:
        return f"{self.menu} v{self.version}"


class MealPlan(BaseModel):
    """A student's meal plan: special diet, and per session kind the default set meal."""

    student = models.OneToOneField("org.Student", on_delete=models.CASCADE, related_name="meal_plan")
    diet = models.CharField(max_length=14, choices=Diet.choices, default=Diet.STANDARD)
    diet_notes = models.CharField(max_length=200, blank=True)

    scope_lookups = {
        "city": "student__campus__school__district__city_id",
        "district": "student__campus__school__district_id",
        "school": "student__campus__school_id",
        "campus": "student__campus_id",
        "guardian": "student__guardian_links__guardian__user_id",
    }

    def __str__(self) -> str:
        return f"{self.student} {self.get_diet_display()}"


class MealPlanChoice(BaseModel):
    plan = models.ForeignKey(MealPlan, on_delete=models.CASCADE, related_name="choices")
    session_kind = models.CharField(max_length=10, choices=SessionKind.choices)
    # Null with enrolled=False: the student does not eat this session (e.g. day pupils' dinner).
    set_meal = models.ForeignKey(SetMeal, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    enrolled = models.BooleanField(default=True)

    scope_lookups = {
        "city": "plan__student__campus__school__district__city_id",
        "district": "plan__student__campus__school__district_id",
        "school": "plan__student__campus__school_id",
        "campus": "plan__student__campus_id",
        "guardian": "plan__student__guardian_links__guardian__user_id",
    }

    class Meta:
        constraints = [models.UniqueConstraint(fields=["plan", "session_kind"], name="meal_plan_choice_unique")]

    def __str__(self) -> str:
        return f"{self.plan.student} {self.session_kind} {self.set_meal or '—'}"


class MealOptOut(BaseModel):
    """Days a student does not eat (sick leave, trips): no meal offered, not forecast."""

    student = models.ForeignKey("org.Student", on_delete=models.CASCADE, related_name="meal_opt_outs")
    start = models.DateField()
    end = models.DateField()
    # Blank: every session of those days.
    session_kind = models.CharField(max_length=10, choices=SessionKind.choices, blank=True)
    reason = models.CharField(max_length=120, blank=True)

    scope_lookups = {
        "city": "student__campus__school__district__city_id",
        "district": "student__campus__school__district_id",
        "school": "student__campus__school_id",
        "campus": "student__campus_id",
        "guardian": "student__guardian_links__guardian__user_id",
    }

    class Meta:
        ordering = ["-start"]
        constraints = [
            models.CheckConstraint(condition=models.Q(end__gte=models.F("start")), name="opt_out_end_after_start")
        ]
        indexes = [models.Index(fields=["student", "start", "end"])]

    def __str__(self) -> str:
        return f"{self.student} {self.start}–{self.end}"


class ServedCount(BaseModel):
    """How many of a set meal were served (for the forecast when consumption records are absent,
    e.g. a campus still on paper tickets). One row per campus, day, session kind and set meal."""

    campus = models.ForeignKey("org.Campus", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    session_kind = models.CharField(max_length=10, choices=SessionKind.choices)
    set_meal = models.ForeignKey(SetMeal, on_delete=models.CASCADE, related_name="served_counts")
    planned = models.PositiveIntegerField(default=0)
    served = models.PositiveIntegerField()

    scope_lookups = _CAMPUS_SCOPE

    class Meta:
        ordering = ["-day"]
        constraints = [
            models.UniqueConstraint(fields=["campus", "day", "session_kind", "set_meal"], name="served_count_unique")
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.set_meal} {self.served}"


def _board_token() -> str:
    return secrets.token_urlsafe(18)


class MenuBoard(BaseModel):
    """A public menu-board address per canteen: whoever has the token sees the menu (no personal
    data on it); rotating the token retires a leaked address."""

    canteen = models.OneToOneField("org.Canteen", on_delete=models.CASCADE, related_name="menu_board")
    token = models.CharField(max_length=40, unique=True, default=_board_token)
    active = models.BooleanField(default=True)

    scope_lookups = {
        "city": "canteen__campus__school__district__city_id",
        "district": "canteen__campus__school__district_id",
        "school": "canteen__campus__school_id",
        "campus": "canteen__campus_id",
        "guardian": "canteen__campus__students__guardian_links__guardian__user_id",
    }

    def __str__(self) -> str:
        return f"{self.canteen} board"


class NutritionCheck(BaseModel):
    """The result of checking one campus-day's published menus against WS/T 554-2017; a new row
    per check (menus change after publishing), the newest one counts."""

    campus = models.ForeignKey("org.Campus", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    passed = models.BooleanField()
    flags = models.JSONField(default=list, blank=True)
    summary = models.JSONField(default=dict, blank=True)

    scope_lookups = _CAMPUS_SCOPE

    class Meta:
        ordering = ["-day", "-created_at"]
        indexes = [models.Index(fields=["campus", "day", "created_at"])]

    def __str__(self) -> str:
        return f"{self.campus_id} {self.day} {'pass' if self.passed else 'fail'}"

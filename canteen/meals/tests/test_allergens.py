"""Allergens come from the ingredients, never typed by hand."""

import pytest

from canteen.meals import services
from canteen.meals.errors import InvalidRecipe, UnknownIngredient
from canteen.meals.models import Ingredient

pytestmark = pytest.mark.django_db


@pytest.fixture
def school(world):
    services.food_table_sync()
    return world.schools[0]


def test_the_food_table_loads_with_source_and_is_idempotent(db):
    created = services.food_table_sync()
    assert created >= 100
    assert services.food_table_sync() == 0
    peanut = Ingredient.objects.get(code="SR16087")
    assert peanut.allergens == ["peanut"]
    assert peanut.source == "USDA SR Legacy NDB 16087"
    assert Ingredient.objects.get(code="SR16124").allergens == ["soy", "gluten"]


def test_dish_allergens_are_the_union_of_its_ingredients_in_canonical_order(school):
    dish = services.dish_create(
        actor=None,
        school=school,
        name="虾仁炒蛋配花生",
        # shrimp (crustacean), egg, peanuts, soy sauce (soy + wheat), sesame oil
        recipe={"SR15149": 40, "SR01123": 50, "SR16087": 10, "SR16124": 5, "SR04058": 3},
    )
    assert dish.allergens == ["gluten", "crustacean", "egg", "peanut", "soy", "sesame"]
    assert "vegetarian" not in dish.diet_tags
    assert "pork_free" in dish.diet_tags


def test_a_recipe_change_rederives_the_allergens(school):
    dish = services.dish_create(actor=None, school=school, name="凉拌菠菜", recipe={"SR11457": 100, "SR12023": 3})
    assert dish.allergens == ["sesame"]
    assert dish.diet_tags == ["vegetarian", "pork_free"]
    services.dish_set_recipe(actor=None, dish=dish, recipe={"SR11457": 100, "SR01116": 30, "SR10219": 20})
    dish.refresh_from_db()
    assert dish.allergens == ["milk"]
    assert dish.diet_tags == []
    assert dish.lines.count() == 3


def test_a_dish_without_allergens_has_none(school):
    dish = services.dish_create(actor=None, school=school, name="清炒白菜", recipe={"SR11119": 150, "SR04582": 5})
    assert dish.allergens == []


@pytest.mark.parametrize(
    ("recipe", "error"),
    [
        ({"NOPE": 10}, UnknownIngredient),
        ({"SR11119": 0}, InvalidRecipe),
        ({"SR11119": -5}, InvalidRecipe),
        ({"SR11119": "abc"}, InvalidRecipe),
        ({}, InvalidRecipe),
    ],
)
def test_bad_recipes_are_refused_and_leave_the_dish_unchanged(school, recipe, error):
    dish = services.dish_create(actor=None, school=school, name="白菜", recipe={"SR11119": 150})
    with pytest.raises(error):
        services.dish_set_recipe(actor=None, dish=dish, recipe=recipe)
    assert [(ln.ingredient.code, ln.grams) for ln in dish.lines.all()] == [("SR11119", 150)]


def test_recipe_lines_link_to_the_districts_procurement_items(world, school):
    from canteen.org.choices import Role
    from canteen.procurement import services as procurement

    regulator = world.user(Role.DISTRICT_REGULATOR)

    item = procurement.item_create(
        actor=regulator, district=school.district, code="VEG-001", name="大白菜", category="vegetable", unit="kg"
    )
    by_code = procurement.item_create(
        actor=regulator, district=school.district, code="CON-009", name="米醋", category="condiment", unit="L",
        food_code="SR02048",
    )  # fmt: skip
    dish = services.dish_create(actor=None, school=school, name="醋溜白菜", recipe={"SR11119": 150, "SR02048": 5})
    lines = {ln.ingredient.code: ln.procurement_item_id for ln in dish.lines.all()}
    # 大白菜 matched by name, the vinegar by its food code
    assert lines == {"SR11119": item.id, "SR02048": by_code.id}

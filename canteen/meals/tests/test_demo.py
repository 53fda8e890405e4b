"""The demo seed: sessions for every campus, published menus this week, plans for students."""

from datetime import timedelta

import pytest

from canteen.meals import demo, selectors
from canteen.meals.choices import MenuStatus, SessionKind
from canteen.meals.models import MealPlan, MealSession, Menu, MenuBoard, NutritionCheck, SetMeal
from canteen.org.choices import SchoolStage
from canteen.org.demo import seed_organisation
from canteen.org.models import Campus, Student

pytestmark = pytest.mark.django_db


def test_demo_seed():
    ctx = seed_organisation(seed=5, districts=1, schools=4, campuses=6, students_per_campus=20)
    demo.seed(ctx)
    campuses = list(Campus.objects.select_related("school"))
    for campus in campuses:
        kinds = set(MealSession.objects.filter(campus=campus).values_list("kind", flat=True))
        boarding = campus.school.stage in (SchoolStage.JUNIOR, SchoolStage.NINE_YEAR)
        assert kinds == ({"breakfast", "lunch", "dinner"} if boarding else {"lunch"})
        assert SetMeal.objects.get(campus=campus, name="标准套餐A").price_fen == 600
        assert MenuBoard.objects.filter(canteen__campus=campus).exists()
    assert SetMeal.objects.filter(name="清真套餐").exists()
    monday = ctx.today - timedelta(days=ctx.today.weekday())
    published = Menu.objects.filter(status=MenuStatus.PUBLISHED, day__gte=monday, day__lt=monday + timedelta(days=5))
    assert published.filter(session__kind=SessionKind.LUNCH).count() == 5 * len(campuses)
    assert Menu.objects.filter(status=MenuStatus.DRAFT, day__gte=monday + timedelta(days=7)).exists()
    assert NutritionCheck.objects.count() == 5 * len(campuses)
    # the demo's menus are planned to meet the guideline: most days pass
    assert NutritionCheck.objects.filter(passed=True).count() >= 0.8 * NutritionCheck.objects.count()
    assert MealPlan.objects.count() == Student.objects.count()
    # a student is offered lunch on a demo weekday
    campus = campuses[0]
    menus = selectors.menu_for_day(campus=campus, day=monday, with_nutrition=True)
    lunch = next(m for m in menus if m.kind == SessionKind.LUNCH)
    assert lunch.set_meals[0].name == "标准套餐A"
    assert all(d.photo_url for d in lunch.set_meals[0].dishes)
    assert 500 < lunch.set_meals[0].nutrition["energy_kcal"] < 1000

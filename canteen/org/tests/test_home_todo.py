"""The home page starts with what needs the user now (issue 23), before the figures: each
domain contributes its items through canteen.core.todo."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from canteen.core import todo
from canteen.core.money import Money
from canteen.org.choices import Role

pytestmark = pytest.mark.django_db


def _home(client, user) -> str:
    client.force_login(user)
    page = client.get(reverse("home")).content.decode()
    assert page.index('data-testid="todo"') < page.index("</main>")
    return page[page.index('data-testid="todo"') : page.index("</section>", page.index('data-testid="todo"'))]


def test_a_regulator_and_a_school_see_the_cases_that_wait_for_them_first(world, client):
    from canteen.supervision import services
    from canteen.supervision.models import Case
    from canteen.supervision.tests.test_case_lifecycle import open_case

    district, school = world.user(Role.DISTRICT_REGULATOR), world.user(Role.SCHOOL_ADMIN)
    late = open_case(world, title="冷库温度超标")
    services.case_assign(case=late, actor=district, deadline=timezone.now() + timedelta(hours=5))
    Case.objects.filter(pk=late.pk).update(deadline=timezone.now() - timedelta(hours=1))
    open_case(world, title="留样不足", source="feedback")

    regulator_todo = _home(client, district)
    assert "1 件整改已超过期限" in regulator_todo
    assert "1 个问题待交办" in regulator_todo
    assert regulator_todo.index("已超过期限") < regulator_todo.index("待交办")  # the urgent first

    school_todo = _home(client, school)
    assert late.number in school_todo
    assert "冷库温度超标" in school_todo
    assert "todo-urgent" in school_todo


def test_a_parent_is_told_when_a_childs_balance_is_below_the_alert(world, client):
    from canteen.consumption.tests.conftest import fund
    from canteen.ledger import services as ledger_services

    parent, child = world.user(Role.GUARDIAN), world.students[0]
    assert "目前没有需要处理的事项" in _home(client, parent)
    fund(child, "3.00")
    ledger_services.wallet_settings_update(
        student=child, actor=parent, daily_limit=None, low_balance_alert=Money.from_yuan("20.00")
    )
    page = _home(client, parent)
    assert f"{child.name} 的餐费余额 ¥3.00" in page


def test_a_failing_provider_does_not_take_the_home_page_down(world, client):
    def broken(actor):
        raise RuntimeError("down")

    def inbox(actor):
        return [{"text": "新消息 3 条", "url": "/inbox/", "level": "info"}]

    todo.register(broken)
    todo.register(inbox)
    try:
        page = _home(client, world.user(Role.GUARDIAN))
    finally:
        todo._providers.remove(broken)
        todo._providers.remove(inbox)
    assert "新消息 3 条" in page

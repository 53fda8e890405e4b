"""The 消毒 and 废弃物 forms lost their start-time prefill on day one of the walk (issue 23):
the browser rejects "2026-12-08 07:30:12+08:00" in a datetime-local field and shows it empty."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from django.utils import timezone

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("url_name", ["kitchen:record-disinfection", "kitchen:record-waste"])
def test_the_time_fields_are_prefilled_in_the_browsers_format_and_local_time(world, client, url_name):
    client.force_login(world.user("canteen_manager"))
    page = client.get(reverse(url_name)).content.decode()
    field = re.search(r'<input type="datetime-local"[^>]*>', page).group(0)
    value = re.search(r'value="([^"]*)"', field).group(1)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d", value), value
    assert value[:13] == timezone.localtime().strftime("%Y-%m-%dT%H")

"""The gettext catalogs are generated from the code's bilingual texts and read by `tr`
(issue 23): a translator's edit of a compiled catalog shows; a text not yet in a catalog shows
the code's own wording."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from django.test import override_settings
from django.utils import translation

from canteen.core import catalogs
from canteen.core.i18n import tr
from canteen.meals.choices import SessionKind


def test_the_catalogs_hold_every_bilingual_text_of_the_code():
    # After adding texts (or merging branches that did): `manage.py i18n_catalogs`.
    assert catalogs.stale() == []
    english = catalogs.catalog_path("en").read_text(encoding="utf-8")
    assert 'msgid "首页"\nmsgstr "Home"' in english  # a NavItem and {% t %}
    assert 'msgid "已立案"\nmsgstr "Opened"' in english  # an enum label
    assert 'msgid "已超过家长设置的每日消费限额"' in english  # a domain error


@pytest.mark.skipif(shutil.which("msgfmt") is None, reason="gettext's msgfmt is installed by scripts/setup.sh")
def test_tr_reads_the_compiled_catalog_and_falls_back_to_the_code(tmp_path):
    po = catalogs.catalog_path("en").read_text(encoding="utf-8")
    po = po.replace('msgid "首页"\nmsgstr "Home"', 'msgid "首页"\nmsgstr "Start"')
    po = po.replace('msgid "午餐"\nmsgstr "Lunch"', 'msgid "午餐"\nmsgstr "Midday meal"')
    target = tmp_path / "en" / "LC_MESSAGES"
    target.mkdir(parents=True)
    (target / "django.po").write_text(po, encoding="utf-8")
    subprocess.run(["msgfmt", "-o", str(target / "django.mo"), str(target / "django.po")], check=True)  # noqa: S603,S607
    with override_settings(LOCALE_PATHS=[tmp_path]), translation.override("en"):
        assert tr("首页", "Home") == "Start"
        assert str(SessionKind.LUNCH.label) == "Midday meal"
        assert tr("一句新写的话", "A sentence written today") == "A sentence written today"
    with override_settings(LOCALE_PATHS=[tmp_path]), translation.override("zh-hans"):
        assert tr("首页", "Home") == "首页"

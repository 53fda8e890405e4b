"""Chinese first, English second, side by side in the code.

The interface is written once in both languages at the place it is used (`tr("首页", "Home")`
and `{% t "首页" "Home" %}`): seven domains grow in parallel and a hand-kept .po file would be a
merge hotspot. The gettext catalogs (zh_Hans, en) are generated from these pairs
(`manage.py i18n_catalogs`, canteen/core/catalogs.py) and compiled by scripts/setup.sh; `tr`
reads the compiled catalog and falls back to the code's text. See docs/decisions.md."""

from __future__ import annotations

import re

from django.utils import translation
from django.utils.functional import Promise, lazy
from django.utils.translation import get_language


def is_english(language: str | None = None) -> bool:
    return (language or get_language() or "").startswith("en")


def tr(zh: str, en: str, language: str | None = None) -> str:
    """The active language's text: the compiled catalog's (canteen/core/catalogs.py) when it has
    this pair, else the code's own."""
    english = is_english(language)
    fallback = en if english else zh
    if language is not None and language != get_language():
        with translation.override(language):
            return _from_catalog(zh, en, fallback)
    return _from_catalog(zh, en, fallback)


def _from_catalog(zh: str, en: str, fallback: str) -> str:
    # A Chinese text with several English renderings has the other renderings under msgctxt.
    found = translation.pgettext(en, zh)
    if found == zh:
        found = translation.gettext(zh)
    if found == zh or not found:
        return fallback
    return found


# "已立案 Opened": Chinese (no Latin letters, at least one CJK character), a space, English.
_PAIR = re.compile(r"^(?P<zh>[^A-Za-z]*[\u2e80-\u9fff\uff00-\uffef][^A-Za-z]*?) (?P<en>[A-Za-z0-9(].*)$")


def split_pair(text: str) -> tuple[str, str] | None:
    """("已立案", "Opened") for "已立案 Opened"; None for a text that is not such a pair."""
    match = _PAIR.match(text) if isinstance(text, str) else None
    return (match["zh"], match["en"]) if match else None


def _pair_text(zh: str, en: str) -> str:
    # No active language: a management command (makemigrations compares the labels with those
    # written in the migrations, where they are the pairs) -> the pair as it is written.
    language = get_language()
    if language is None:
        return f"{zh} {en}"
    return tr(zh, en, language)


_lazy_pair = lazy(_pair_text, str)


def localized(text: str | Promise) -> str | Promise:
    """The enum label "已立案 Opened" shown as "已立案" (or "Opened" in English), decided when it
    is rendered; any other text unchanged."""
    if isinstance(text, Promise):
        return text
    pair = split_pair(text)
    if pair is None:
        return text
    label = _lazy_pair(*pair)
    label.zh, label.en = pair  # for code that needs both (a bilingual PDF, a stored name)
    return label


def pair_of(label: str | Promise) -> tuple[str, str]:
    """(Chinese, English) of an enum label, localized or not."""
    if hasattr(label, "zh"):
        return label.zh, label.en
    return split_pair(str(label)) or (str(label), str(label))


def localize_choices() -> None:
    """Every enum of the project shows one language: the labels of the TextChoices classes and of
    the model fields built from them become `localized`. Run once when the apps are ready, so
    that enums added anywhere in the code, written as "中文 English" pairs, follow."""
    import importlib

    from django.apps import apps
    from django.db import models

    for config in apps.get_app_configs():  # enums not imported by any model yet
        if config.name.startswith("canteen."):
            try:
                importlib.import_module(f"{config.name}.choices")
            except ModuleNotFoundError as exc:
                if exc.name != f"{config.name}.choices":
                    raise
    pending = list(models.Choices.__subclasses__())
    while pending:
        enum = pending.pop()
        pending.extend(enum.__subclasses__())
        if not enum.__module__.startswith("canteen."):
            continue
        for member in enum:
            member._label_ = localized(member._label_)
    for model in apps.get_models():
        if not model.__module__.startswith("canteen."):
            continue
        for field in model._meta.local_fields:
            if field.choices:
                field.choices = [
                    (
                        value,
                        [(v, localized(lbl)) for v, lbl in label]
                        if isinstance(label, list | tuple)
                        else localized(label),
                    )
                    for value, label in field.choices
                ]


def choice_label(choices: str, value: object) -> str:
    """The label of `value` in `canteen.<app>.choices.<Class>` ("meals.SessionKind"), for codes
    stored without `choices=` on their field (a copied session kind, an event payload)."""
    import importlib

    app, _, name = choices.partition(".")
    enum = getattr(importlib.import_module(f"canteen.{app}.choices"), name)
    try:
        return str(localized(enum(value).label))
    except ValueError:
        return "" if value is None else str(value)

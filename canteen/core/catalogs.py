"""gettext catalogs generated from the code's bilingual texts.

The interface is written with both languages at the place of use (`tr("首页", "Home")`,
`{% t "首页" "Home" %}`, enum labels "已立案 Opened", NavItem("首页", "Home"), a domain
error's message_zh/message_en). This module collects every such pair into two catalogs,
`canteen/locale/zh_Hans/LC_MESSAGES/django.po` (the source language) and
`canteen/locale/en/LC_MESSAGES/django.po`: msgid is the Chinese text, msgstr its rendering in
the catalog's language, and a Chinese text with more than one English rendering carries the
English as msgctxt for the other renderings. `scripts/setup.sh` compiles them (msgfmt, from
Debian's gettext); `canteen.core.i18n.tr` looks a text up in the active language's catalog and
falls back to the code's own text, so a text added in code shows correctly before the next
`manage.py i18n_catalogs`, and a translator's edit of a catalog shows once compiled.

Texts built at run time (f-strings) are not in the catalogs: they show the code's text."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import canteen

ROOT = Path(canteen.__file__).parent
LOCALE = ROOT / "locale"
LANGUAGES = ("zh_Hans", "en")

_S = r'"((?:[^"\\\n]|\\.)*)"'  # a plain double-quoted literal (not an f-string: see the lookbehind)
PY_PAIRS = [
    re.compile(r"(?<![\w.])(?:tr|ltr|_tr|_ltr)\(\s*" + _S + r"\s*,\s*" + _S),
    re.compile(r"\bNav(?:Item|Group)\(\s*" + _S + r"\s*,\s*" + _S),
]
HTML_PAIR = re.compile(
    r"""\{%\s*t\s+(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')\s+(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')\s*%\}"""
)


def _unescape(text: str) -> str:
    return text.encode("utf-8").decode("unicode_escape").encode("latin-1").decode("utf-8") if "\\" in text else text


def _source_files(suffix: str) -> Iterable[Path]:
    for path in sorted(ROOT.rglob(f"*{suffix}")):
        if "tests" in path.parts or "migrations" in path.parts:
            continue
        yield path


_SKIP_MODULES = re.compile(r"\.(tests|testing|migrations|management)(\.|$)|^canteen\.(wsgi|asgi|cli|settings)(\.|$)")


def _of_the_code(cls: type) -> bool:
    # Classes of test modules and test servers exist only in a test run: the catalog must not
    # depend on which tests ran before it.
    return cls.__module__.startswith("canteen.") and not _SKIP_MODULES.search(cls.__module__)


def collect() -> list[tuple[str, str]]:
    """Every (Chinese, English) pair of the interface, in a stable order, without repeats."""
    pairs: list[tuple[str, str]] = []
    for path in _source_files(".py"):
        text = path.read_text(encoding="utf-8")
        for pattern in PY_PAIRS:
            pairs += [(_unescape(zh), _unescape(en)) for zh, en in pattern.findall(text)]
    for path in _source_files(".html"):
        for m in HTML_PAIR.finditer(path.read_text(encoding="utf-8")):
            pairs.append(
                (
                    m.group(1) if m.group(1) is not None else m.group(2),
                    m.group(3) if m.group(3) is not None else m.group(4),
                )
            )
    pairs += _runtime_pairs()
    seen: set[tuple[str, str]] = set()
    unique = []
    for zh, en in pairs:
        if zh and en and (zh, en) not in seen and "{" not in zh:
            seen.add((zh, en))
            unique.append((zh, en))
    return unique


def _runtime_pairs() -> list[tuple[str, str]]:
    """Enum labels and domain errors, read from the classes (each app's choices and errors)."""
    import importlib

    from django.apps import apps
    from django.db import models

    for config in apps.get_app_configs():
        if config.name.startswith("canteen."):
            for module in ("choices", "errors"):
                try:
                    importlib.import_module(f"{config.name}.{module}")
                except ModuleNotFoundError as exc:
                    if exc.name != f"{config.name}.{module}":
                        raise
    # Enums and errors defined beside the use case that raises them (ledger.payments.errors,
    # schoolcalendar.services, ...) are imported too, so the catalog does not depend on which
    # code paths ran first.
    import pkgutil

    import canteen

    for info in pkgutil.walk_packages(canteen.__path__, "canteen."):
        name = info.name
        if _SKIP_MODULES.search(name):
            continue
        try:
            importlib.import_module(name)
        except ImportError:
            continue  # an optional dependency of a process this catalog does not need

    from canteen.core.errors import DomainError
    from canteen.core.i18n import pair_of, split_pair

    pairs = []
    pending = list(models.Choices.__subclasses__())
    while pending:
        enum = pending.pop()
        pending.extend(enum.__subclasses__())
        if _of_the_code(enum):
            for member in enum:
                if hasattr(member.label, "zh") or split_pair(str(member.label)):
                    pairs.append(pair_of(member.label))
    errors = list(DomainError.__subclasses__())
    while errors:
        error = errors.pop()
        errors.extend(error.__subclasses__())
        if _of_the_code(error):
            pairs.append((error.message_zh, error.message_en))
    pairs.append((DomainError.message_zh, DomainError.message_en))
    return sorted(set(pairs))


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t") + '"'


def render(language: str, pairs: list[tuple[str, str]]) -> str:
    header = (
        f'msgid ""\nmsgstr ""\n"Project-Id-Version: canteen\\n"\n"PO-Revision-Date: 2026-12-08 00:00+0800\\n"\n'
        '"Last-Translator: generated\\n"\n"Language-Team: canteen\\n"\n"MIME-Version: 1.0\\n"\n'
        f'"Content-Type: text/plain; charset=UTF-8\\n"\n"Content-Transfer-Encoding: 8bit\\n"\n"Language: {language}\\n"\n'
        '"X-Generator: canteen i18n_catalogs (generated from the code: edit msgstr, not msgid)\\n"\n'
    )
    blocks = [header]
    first: dict[str, str] = {}
    for zh, en in pairs:
        context = None
        if zh in first and first[zh] != en:
            context = en  # another English rendering of the same Chinese text
        elif zh in first:
            continue
        else:
            first[zh] = en
        out = zh if language.startswith("zh") else en
        block = (f"msgctxt {_quote(context)}\n" if context else "") + f"msgid {_quote(zh)}\nmsgstr {_quote(out)}\n"
        blocks.append(block)
    return "\n".join(blocks)


def catalog_path(language: str) -> Path:
    return LOCALE / language / "LC_MESSAGES" / "django.po"


def write() -> list[Path]:
    pairs = collect()
    written = []
    for language in LANGUAGES:
        path = catalog_path(language)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render(language, pairs), encoding="utf-8")
        written.append(path)
    return written


def stale() -> list[str]:
    """The catalogs that differ from what the code would generate now."""
    pairs = collect()
    return [
        language
        for language in LANGUAGES
        if not catalog_path(language).exists()
        or catalog_path(language).read_text(encoding="utf-8") != render(language, pairs)
    ]

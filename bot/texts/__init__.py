"""Every text the bot shows, in French and English — one module per feature, assembled here.

Each module of this package holds one feature's texts, its `FR` and `EN` dictionaries side by
side with the same keys (a test checks it, module by module). `FR` and `EN` below are the union
of the modules; a key defined by two modules stops the import, so that no text can silently
replace another (a key written twice in one module's dictionary is ruff's F601).

Question labels keep the protocol's words (DESIGN.md table) so a clinician recognises each
criterion; a short hint may follow on its own line. Messages use HTML parse mode: variables are
escaped by `t()`, so nothing a user typed can inject markup.
"""

from __future__ import annotations

import html
from types import ModuleType
from typing import Any

from bot.texts import (
    answers,
    basic,
    correct,
    criteria,
    export,
    injection,
    membership,
    ops,
    ownership,
    patient,
    reminder_log,
    reminders,
    screening,
    stats,
    status,
)

#: The feature modules, in the order their texts are assembled.
MODULES: tuple[ModuleType, ...] = (
    basic,
    criteria,
    answers,
    screening,
    injection,
    reminders,
    ownership,
    reminder_log,
    status,
    patient,
    correct,
    export,
    stats,
    ops,
    membership,
)


def assemble(modules: tuple[ModuleType, ...], language: str) -> dict[str, str]:
    """One language's catalogue (`language` is "FR" or "EN"): every module's dictionary of that
    name, merged; a key two modules define raises ValueError instead of silently overriding."""
    catalogue: dict[str, str] = {}
    defined_by: dict[str, str] = {}
    for module in modules:
        table: dict[str, str] = getattr(module, language)
        for key, text in table.items():
            if key in catalogue:
                raise ValueError(
                    f"text {key!r} ({language}) is defined twice: in {defined_by[key]} "
                    f"and in {module.__name__}"
                )
            catalogue[key] = text
            defined_by[key] = module.__name__
    return catalogue


FR: dict[str, str] = assemble(MODULES, "FR")
EN: dict[str, str] = assemble(MODULES, "EN")

LANGUAGES: dict[str, dict[str, str]] = {"fr": FR, "en": EN}


def t(lang: str, key: str, **params: Any) -> str:
    """The text `key` in `lang` (French if missing), with `params` HTML-escaped."""
    table = LANGUAGES.get(lang, FR)
    template = table.get(key) or FR.get(key) or key
    if not params:
        return template
    safe = {k: v if isinstance(v, Raw) else html.escape(str(v)) for k, v in params.items()}
    try:
        return template.format(**safe)
    except (KeyError, IndexError, ValueError):
        return template


class Raw(str):
    """A parameter already in HTML (built from other `t()` results): not escaped again."""

    __slots__ = ()


def label(lang: str, key: str) -> str:
    """A plain label (no parameters)."""
    return t(lang, key)

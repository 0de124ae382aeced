"""A stored state read back: the member of its core enum, or `Unrecognised`.

The database keeps each state as its text (a `StrEnum` member equals it). A row may still
hold a text this program has no member for: written by a newer program (a kind added
without a schema change), or by hand. Reading it must not crash the bot, and must not
pretend it is something else: it comes back as `Unrecognised`, the text kept verbatim —
shown and exported as stored, equal to no member, so no rule acts on it, and a reminder
of such a kind is skipped with its reason (bot/reminders/wording.py). Code that needs a
member (a `match`, a write) has to handle it first: mypy sees the union.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TypeVar

E = TypeVar("E", bound=StrEnum)


class Unrecognised(str):
    """A stored text that is no member of its enum (kept verbatim)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"Unrecognised({str.__repr__(self)})"


def member(enum: type[E], text: str) -> E | Unrecognised:
    """The member whose value is `text`, else the text as `Unrecognised`."""
    try:
        return enum(text)
    except ValueError:
        return Unrecognised(text)


def maybe_member(enum: type[E], text: str | None) -> E | Unrecognised | None:
    """`member`, keeping None (a column that may be empty: a screening's outcome)."""
    return None if text is None else member(enum, text)

"""What a due reminder row turns into, shared by the sender (bot/reminders/sender.py) and the modules that
prepare kinds of reminders (bot/d0 loop in bot/flows/ownership.py, the morning board): skip it
(why), a system event done inside the preparing transaction, or a message to render in the
recipient's language (whether it rings is the core's: conversations/loudness.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection

from bot.common import Button, Context
from storage import screenings as store

#: The team chat id kept in the database once known (it changes when a group migrates).
TEAM_CHAT_META = "team_chat_id"
#: Admins told that a chat is unreachable: once per episode (cleared when a send works).
UNREACHABLE_META = "reminder_unreachable:"


@dataclass(frozen=True)
class Skip:
    reason: str


@dataclass(frozen=True)
class Handled:
    """A system event done inside the preparing transaction: nothing to send."""


@dataclass(frozen=True)
class Message:
    render: Callable[[str], tuple[str, list[list[Button]]]]  # language → text, buttons


Decision = Skip | Handled | Message


def team_chat_id(conn: Connection, ctx: Context) -> int | None:
    """The migrated id kept in the database wins over LYSYME_TEAM_CHAT_ID."""
    kept = store.get_meta(conn, TEAM_CHAT_META)
    if kept:
        return int(kept)
    return ctx.settings.team_chat_id

"""What a due reminder row turns into, shared by the sender (bot/jobs.py) and the modules that
prepare kinds of reminders (bot/d0 loop in bot/flows/ownership.py, the morning board): skip it
(why), a system event done inside the preparing transaction, or a message to render in the
recipient's language — urgent ones ring even in quiet hours."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.common import Button


@dataclass(frozen=True)
class Skip:
    reason: str


@dataclass(frozen=True)
class Handled:
    """A system event done inside the preparing transaction: nothing to send."""


@dataclass(frozen=True)
class Message:
    render: Callable[[str], tuple[str, list[list[Button]]]]  # language → text, buttons


class UrgentMessage(Message):
    """Sent with sound even in quiet hours (the last day's 14:00 escalation)."""


Decision = Skip | Handled | Message

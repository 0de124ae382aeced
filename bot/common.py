"""What every flow shares, with no Telegram type in it: who is acting, what to send back, the
access gate, and the clock.

Flows (bot/flows/*) take an `Actor` and plain text or callback data, do their work through the
pure core and the storage layer, and return a list of `Out` messages; the Telegram handlers
(bot/telegram/handlers.py) and the offline console (bot/cli/console.py) render them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from bot.settings import Settings
from bot.texts import t
from storage import screenings as store
from storage.db import Database
from storage.screenings import Session
from storage.users import Reach, User

Clock = Callable[[], dt.datetime]


def system_clock() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class Button:
    label: str
    data: str  # callback data: at most 64 bytes, checked against the database when it comes back


@dataclass
class Out:
    """One message to send (or, with `edit`, an existing message to change)."""

    text: str
    buttons: list[list[Button]] = field(default_factory=list)
    chat_id: int | None = None  # None: the chat the request came from
    edit: int | None = None  # message id to edit instead of sending a new message
    prompt_for: int | None = None  # screening id whose current question this message shows
    # What the prompt asks (`storage.screenings.prompt_key`): recorded on the screening only
    # once Telegram has accepted the message, so a typed answer is taken for the question
    # the clinician was actually shown.
    shows: str | None = None
    # The outbox row (held for this reply, state 'claimed') this message delivers: marked sent
    # once Telegram has accepted it, released to the sender otherwise (bot/telegram/delivery.py).
    delivers: int | None = None
    document: tuple[str, bytes] | None = None  # (file name, content)
    photo: bytes | None = None
    photo_name: str | None = None  # the file name where a photo is written (the console)
    toast: str | None = None  # short answer to a button tap (answerCallbackQuery)
    #: Telegram's contact picker under the message instead of inline buttons (issue 24):
    #: (label, request id) per button, one per row; the choice comes back as users_shared.
    pickers: list[tuple[str, int]] = field(default_factory=list)
    #: Take the reply keyboard away (after a contact was picked).
    drop_keyboard: bool = False


@dataclass(frozen=True)
class Actor:
    user_id: int
    chat_id: int
    private: bool
    user: User | None
    telegram_language: str | None = None
    update_id: int | None = None
    message_id: int | None = None  # the message a tapped button belongs to
    # This chat's session, read by the access gate in the same query as `user` at the start
    # of this update (`session_read`); flows re-check it inside their write transaction.
    session: Session | None = None
    session_read: bool = False
    first_name: str | None = None  # staff's Telegram first name ("taken by …"; issue 14)
    full_name: str | None = None  # first and last name, as Telegram gives them (issue 24)
    username: str | None = None  # @username without the @, if any (issue 24)
    # How this person is reached, read by the access gate in the same query (None: not read;
    # bot/reminders/delivery.py `on_activity` then reads it).
    reach: Reach | None = None


async def chat_session(db: Database, actor: Actor) -> Session | None:
    """The actor's session in this chat: the one the gate read for this update, else a read."""
    if actor.session_read:
        return actor.session
    return await db.read(store.get_session, actor.user_id, actor.chat_id)


#: Telegram ids are 64-bit signed integers: users positive, group chats negative.
MAX_TELEGRAM_ID = 2**63 - 1


def parse_id(text: str) -> int | None:
    """A positive integer written with ASCII digits only (database ids in callback data,
    Telegram user ids), at most 64-bit; None otherwise. `str.isdigit()` is not enough: it
    accepts superscripts and other scripts' digits, which `int()` then rejects or misreads."""
    if not text or len(text) > 19 or not (text.isascii() and text.isdigit()):
        return None
    value = int(text)
    return value if 0 < value <= MAX_TELEGRAM_ID else None


class DuplicateUpdate(Exception):
    """The update was already handled (Telegram delivers at least once): do nothing."""


@dataclass
class Context:
    """Everything a flow needs: settings, database, clock. Built once in the composition root."""

    settings: Settings
    db: Database
    clock: Clock = system_clock
    wake_sender: Callable[[], None] = lambda: None  # nudges the reminder sender after a commit
    #: Whether this process leads (bot/telegram/leadership.py): only the leader sends reminders.
    leads: Callable[[], bool] = lambda: True
    #: (holder, epoch) of the leader lease this process holds (PostgreSQL), None on SQLite:
    #: reminder claims are fenced by it (bot/telegram/leadership.py).
    lease: Callable[[], tuple[str, int] | None] = lambda: None

    @property
    def zone(self) -> ZoneInfo:
        return self.settings.zone

    def now(self) -> dt.datetime:
        return self.clock()

    def language(self, actor: Actor) -> str:
        """/language choice, then LYSYME_LANGUAGE, then Telegram's language if fr/en, then fr."""
        if actor.user is not None and actor.user.language in ("fr", "en"):
            return actor.user.language
        if self.settings.language:
            return self.settings.language
        telegram = (actor.telegram_language or "")[:2].lower()
        return telegram if telegram in ("fr", "en") else "fr"

    def language_of(self, user: User | None) -> str:
        if user is not None and user.language in ("fr", "en"):
            return user.language
        return self.settings.language or "fr"


# --- the access gate: every command and button goes through `allowed` ---------------------

#: The role each command needs (an admin may do everything). None: any listed user.
COMMAND_ROLES: dict[str, str | tuple[str, ...] | None] = {
    "start": None,
    "help": None,
    "language": None,
    "screen": "clinician",
    "back": "clinician",
    "cancel": "clinician",
    "resume": "clinician",
    "update": "clinician",
    "d0": "clinician",
    "withdraw": "clinician",
    "status": ("clinician", "coordinator"),
    "patient": "coordinator",
    "correct": "coordinator",
    "export": "coordinator",
    "stats": "coordinator",
    "users": "admin",
    "adduser": "admin",
    "removeuser": "admin",
    "invite": "admin",
    "reminders": "coordinator",
}

#: Commands that show or change patient data: private chats only.
PRIVATE_ONLY = frozenset(COMMAND_ROLES) - {"start", "help", "language"}


def allowed(user: User | None, command: str) -> bool:
    if user is None:
        return False
    need = COMMAND_ROLES.get(command, "admin")
    if need is None:
        return True
    roles = (need,) if isinstance(need, str) else need
    return any(user.has(role) for role in roles)


def commands_for(user: User) -> list[str]:
    return [c for c in COMMAND_ROLES if allowed(user, c) and c != "start"]


def refuse(ctx: Context, actor: Actor, command: str) -> list[Out]:
    lang = ctx.language(actor)
    if actor.user is None:
        return [Out(t(lang, "access.unknown", user_id=actor.user_id))]
    return [Out(t(lang, "access.role", command=command))]


def group_pointer(ctx: Context, actor: Actor) -> list[Out]:
    return [Out(t(ctx.language(actor), "access.private_only", bot="@"))]


def help_text(ctx: Context, actor: Actor) -> str:
    """/help: the commands this person may use, each with its one line."""
    lang = ctx.language(actor)
    assert actor.user is not None
    lines = [t(lang, "help.intro")]
    lines += [f"/{name} — {t(lang, f'cmd.{name}')}" for name in commands_for(actor.user)]
    return "\n".join(lines)

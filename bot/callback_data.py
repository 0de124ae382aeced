"""Inline-button callback data: every button family declared once, as data.

A button's callback data is `<prefix>:<field>:<field>…` — at most 64 bytes (Telegram's
limit), sent back to the bot verbatim when the button is pressed, and forgeable by any client.
Each family below is a prefix and typed fields (a positive database id, one of a fixed set of
words, a question id of the protocol, a short token, a decimal number, a fixed word); its value
is a frozen dataclass. `encode(value)` builds the data of a button and refuses, with
`CallbackDataError`, a value that would not come back as itself or data over 64 bytes.
`decode(data)` (or `FAMILY.decode(data)`) returns the typed value, or None for anything that
is not exactly what `encode` writes (wrong field count, a non-digit, zero or `01` id, an
unknown word, too long, empty): the flow then refuses it as a stale button. What a value means (the screening's state,
the question's choices) is still checked by the flow against the database.

The strings are those the bot has always sent (`a:12:ward:icu`, `o:3:41:t`, `k:clock` …): a
button already shown in a chat keeps working after an upgrade. `Prefix` is the one list of
prefixes; the routes (bot/routing.py `Callback`) are keyed by it.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final, Generic, Literal, TypeVar, get_args

from bot.common import parse_id
from conversations.protocol import QUESTION_IDS
from conversations.schedule import FOLLOW_UPS
from conversations.scorten import MEASURE_IDS

#: Telegram's limit on `callback_data`, in bytes (UTF-8).
MAX_BYTES: Final = 64
SEPARATOR: Final = ":"


class CallbackDataError(ValueError):
    """A button's data cannot be built: a value that would not decode as itself, or over
    `MAX_BYTES`. A programming error, raised where the button is made."""


class Prefix(StrEnum):
    """The callback-data prefixes, one per route (bot/routing.py `Callback`)."""

    ANSWER = "a"
    BACK = "b"
    EXCLUSION = "x"
    SUMMARY = "s"
    EDIT = "e"
    SCORTEN = "m"
    D0 = "d"
    WITHDRAW = "w"
    UPDATE = "u"
    FOLLOW_UP = "f"
    EXPORT = "xf"
    OWNERSHIP = "o"
    CLOCK = "k"
    INVITATION = "iv"
    ACCESS = "ax"
    SCREEN_CHOICE = "n"


# --- fields -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    """One `:`-separated part after the prefix: `parse` gives its typed value or None. A
    constant part (`constant`: its only word) is checked but carries no value."""

    what: str  # for error messages
    parse: Callable[[str], object | None]
    constant: str | None = None

    @property
    def carries_value(self) -> bool:
        return self.constant is None


def words(allowed: Iterable[str], what: str = "word") -> Field:
    """One of a fixed set of words."""
    options = frozenset(allowed)
    return Field(
        f"{what} ({', '.join(sorted(options))})", lambda text: text if text in options else None
    )


def constant(word: str) -> Field:
    """A fixed word that tells two families of one prefix apart (`m:…:v:…`, `u:…:c`)."""
    return Field(f"the word {word!r}", lambda text: text if text == word else None, word)


_TOKEN = re.compile(r"[A-Za-z0-9_.-]+")
_DECIMAL = re.compile(r"[0-9]*\.?[0-9]*")


def _token(text: str) -> str | None:
    return text if _TOKEN.fullmatch(text) else None


def _decimal(text: str) -> float | None:
    """ASCII digits with at most one point, as Python writes a float (`14.0`, `0.4`): never
    `1e-05`, `nan` or `inf` (encode refuses those)."""
    if not _DECIMAL.fullmatch(text) or not any(c.isdigit() for c in text):
        return None
    return float(text)


#: A database id: a positive integer in ASCII digits without a leading zero, at most 64-bit.
ID: Final = Field("positive id", parse_id)
QUESTION: Final = words(QUESTION_IDS, "question id")
MEASURE: Final = words(MEASURE_IDS, "SCORTEN measure")
FOLLOW_UP_ID: Final = words((f.id for f in FOLLOW_UPS), "follow-up id")
#: A short value whose meaning the flow checks (a choice, an ISO date, `keep`, `skip` …):
#: ASCII letters, digits, `_`, `-` and `.`, never empty, never `:`.
TOKEN: Final = Field("token [A-Za-z0-9_.-]+", _token)
#: A decimal number as typed (the SCORTEN value whose unit is asked).
DECIMAL: Final = Field("decimal number", _decimal)


# --- the families' values ---------------------------------------------------------------------

ExclusionAction = Literal["ok", "chg"]
SummaryAction = Literal["ok", "edit"]
ScortenAction = Literal["na", "gl", "mm"]
UnitCode = Literal["gl", "mm"]  # g/L, mmol/L
ConfirmAction = Literal["ok", "no"]
OwnershipAction = Literal["t", "p", "n"]
ScreenChoiceAction = Literal["go", "new"]
TAKE: Final[OwnershipAction] = "t"  # "I'm on it"
PLAN: Final[OwnershipAction] = "p"  # "Injection planned…"
NOT_INJECTING: Final[OwnershipAction] = "n"  # "Not injecting"


@dataclass(frozen=True)
class Answer:
    """`a:<screening>:<question>:<value>` — an answer button of the screening."""

    screening_id: int
    question_id: str
    value: str


@dataclass(frozen=True)
class Back:
    """`b:<screening>:<question>` — "Back" under a question."""

    screening_id: int
    question_id: str


@dataclass(frozen=True)
class ScreenChoice:
    """`n:<screening>:go|new` — /screen while this user has a screening open: continue it, or
    open a new number (nothing is opened until one is tapped)."""

    screening_id: int
    action: ScreenChoiceAction


@dataclass(frozen=True)
class Exclusion:
    """`x:<screening>:ok|chg` — confirm the excluding answer, or change it."""

    screening_id: int
    action: ExclusionAction


@dataclass(frozen=True)
class Summary:
    """`s:<screening>:ok|edit` — the summary's Confirm / Edit."""

    screening_id: int
    action: SummaryAction


@dataclass(frozen=True)
class Edit:
    """`e:<screening>:<question>` — the question chosen to change from the summary."""

    screening_id: int
    question_id: str


@dataclass(frozen=True)
class Scorten:
    """`m:<screening>:<measure>:na|gl|mm` — not available, or show the measure in g/L | mmol/L."""

    screening_id: int
    measure: str
    action: ScortenAction


@dataclass(frozen=True)
class ScortenUnit:
    """`m:<screening>:<measure>:v:gl|mm:<number>` — the unit meant for a typed number that
    was implausible in the unit shown (the number travels in the button)."""

    screening_id: int
    measure: str
    unit: UnitCode
    number: float


@dataclass(frozen=True)
class D0Confirm:
    """`d:<screening>:ok|no` — confirm the injection asked with /d0, or cancel."""

    screening_id: int
    action: ConfirmAction


@dataclass(frozen=True)
class WithdrawConfirm:
    """`w:<screening>:ok|no` — confirm the withdrawal asked with /withdraw, or cancel."""

    screening_id: int
    action: ConfirmAction


@dataclass(frozen=True)
class UpdateAnswer:
    """`u:<screening>:<question>:<value>` — an /update answer (`skip`, `ask`: show it again)."""

    screening_id: int
    question_id: str
    value: str


@dataclass(frozen=True)
class UpdateConfirm:
    """`u:<screening>:<question>:<value>:c` — the excluding /update answer, confirmed."""

    screening_id: int
    question_id: str
    value: str


@dataclass(frozen=True)
class FollowUpAnswer:
    """`f:<screening>:<follow-up>:<value>` — a follow-up answer (`date`: it will be typed)."""

    screening_id: int
    follow_up_id: str
    value: str


@dataclass(frozen=True)
class ExportFormat:
    """`xf:<format>` — a format button of /export."""

    format: str


@dataclass(frozen=True)
class Ownership:
    """`o:<screening>:<reminder or board row>:t|p|n` — the D0 ownership buttons."""

    screening_id: int
    reminder_id: int
    action: OwnershipAction


@dataclass(frozen=True)
class ClockConfirm:
    """`k:clock` — an admin confirms the clock after the sender paused on a jump."""


@dataclass(frozen=True)
class InvitationRevoke:
    """`iv:<invitation>:rv` — an admin revokes a pending invitation (issue 24)."""

    invitation_id: int


@dataclass(frozen=True)
class AccessExtend:
    """`ax:<telegram id>:<yyyy-mm-dd>` — extend by 6 months the access ending that day (the
    day travels so that a reminder of an end date changed since is refused as stale)."""

    telegram_id: int
    day: str


CallbackValue = (
    Answer | Back | Exclusion | Summary | Edit | Scorten | ScortenUnit | D0Confirm
    | WithdrawConfirm | UpdateAnswer | UpdateConfirm | FollowUpAnswer | ExportFormat
    | Ownership | ClockConfirm | InvitationRevoke | AccessExtend | ScreenChoice
)  # fmt: skip

#: The buttons of a screening in progress: they act only on the chat's own screening
#: (bot/flows/screening.py `session_bound`).
SESSION_BUTTONS: Final = (Answer, Back, Exclusion, Summary, Edit, Scorten, ScortenUnit)


# --- the codec --------------------------------------------------------------------------------

V = TypeVar("V")


@dataclass(frozen=True)
class Family(Generic[V]):
    """One kind of button: its prefix, its value's dataclass and the fields after the prefix
    (in the dataclass's order; constant fields carry no value)."""

    prefix: Prefix
    value_type: type[V]
    fields: tuple[Field, ...]

    def __post_init__(self) -> None:
        names = [f.name for f in dataclasses.fields(self.value_type)]  # type: ignore[arg-type]
        carried = [f for f in self.fields if f.carries_value]
        if len(names) != len(carried):
            raise CallbackDataError(
                f"{self.value_type.__name__}: {len(names)} attributes, {len(carried)} fields"
            )

    def encode(self, value: V) -> str:
        """The button's data; `CallbackDataError` if a field would not decode as itself or
        the data is over `MAX_BYTES`."""
        if type(value) is not self.value_type:
            raise CallbackDataError(f"{value!r} is not a {self.value_type.__name__}")
        attributes = iter(dataclasses.fields(value))  # type: ignore[arg-type]
        parts: list[str] = [self.prefix.value]
        for field in self.fields:
            if field.constant is not None:
                parts.append(field.constant)
                continue
            name = next(attributes).name
            item = getattr(value, name)
            text = str(item)
            parsed = field.parse(text)
            if parsed is None or parsed != item or str(parsed) != text:  # would not come back
                raise CallbackDataError(
                    f"{self.value_type.__name__}.{name}={item!r} is not a {field.what}"
                )
            parts.append(text)
        data = SEPARATOR.join(parts)
        size = len(data.encode())
        if size > MAX_BYTES:
            raise CallbackDataError(
                f"callback data {data!r} is {size} bytes; Telegram allows {MAX_BYTES}"
            )
        return data

    def decode(self, data: object) -> V | None:
        """The typed value, or None if `data` is not exactly this family's data."""
        if not isinstance(data, str) or not within_limit(data):
            return None
        parts = data.split(SEPARATOR)
        if parts[0] != self.prefix.value or len(parts) != 1 + len(self.fields):
            return None
        values: list[object] = []
        for field, text in zip(self.fields, parts[1:], strict=True):
            parsed = field.parse(text)
            if parsed is None or str(parsed) != text:  # only what `encode` writes: no `01`
                return None
            if field.carries_value:
                values.append(parsed)
        return self.value_type(*values)


def within_limit(data: str) -> bool:
    """Non-empty and at most `MAX_BYTES` in UTF-8 (lone surrogates of a forged update count
    as their 3 bytes instead of failing)."""
    return 0 < len(data) <= MAX_BYTES and len(data.encode("utf-8", "surrogatepass")) <= MAX_BYTES


class Codec:
    """The families, indexed by value type and by prefix. Two families may share a prefix
    only with different field counts (decoding must never be ambiguous), and every prefix
    has a family."""

    def __init__(self, families: Iterable[Family[Any]]) -> None:
        self.families = tuple(families)
        self._by_type: dict[type, Family[Any]] = {}
        self._by_prefix: dict[Prefix, list[Family[Any]]] = {}
        for family in self.families:
            if family.value_type in self._by_type:
                raise CallbackDataError(f"{family.value_type.__name__} declared twice")
            self._by_type[family.value_type] = family
            shared = self._by_prefix.setdefault(family.prefix, [])
            if any(len(other.fields) == len(family.fields) for other in shared):
                raise CallbackDataError(
                    f"prefix {family.prefix.value!r}: two families with {len(family.fields)} fields"
                )
            shared.append(family)
        unused = [p.value for p in Prefix if p not in self._by_prefix]
        if unused:
            raise CallbackDataError(f"prefixes without a family: {unused}")

    def encode(self, value: CallbackValue) -> str:
        family = self._by_type.get(type(value))
        if family is None:
            raise CallbackDataError(f"no callback family for {type(value).__name__}")
        return family.encode(value)

    def decode(self, data: object) -> CallbackValue | None:
        prefix = prefix_of(data)
        if prefix is None:
            return None
        for family in self._by_prefix[prefix]:
            value: CallbackValue | None = family.decode(data)
            if value is not None:
                return value
        return None


def prefix_of(data: object) -> Prefix | None:
    """The prefix of callback data (what it is routed by), or None for an unknown one."""
    if not isinstance(data, str) or not within_limit(data):
        return None
    head = data.split(SEPARATOR, 1)[0]
    return Prefix(head) if head in _PREFIXES else None


_PREFIXES: Final = frozenset(p.value for p in Prefix)


ANSWER: Final = Family(Prefix.ANSWER, Answer, (ID, QUESTION, TOKEN))
BACK: Final = Family(Prefix.BACK, Back, (ID, QUESTION))
EXCLUSION: Final = Family(Prefix.EXCLUSION, Exclusion, (ID, words(get_args(ExclusionAction))))
SUMMARY: Final = Family(Prefix.SUMMARY, Summary, (ID, words(get_args(SummaryAction))))
EDIT: Final = Family(Prefix.EDIT, Edit, (ID, QUESTION))
SCORTEN: Final = Family(Prefix.SCORTEN, Scorten, (ID, MEASURE, words(get_args(ScortenAction))))
SCORTEN_UNIT: Final = Family(
    Prefix.SCORTEN, ScortenUnit, (ID, MEASURE, constant("v"), words(get_args(UnitCode)), DECIMAL)
)
D0_CONFIRM: Final = Family(Prefix.D0, D0Confirm, (ID, words(get_args(ConfirmAction))))
WITHDRAW_CONFIRM: Final = Family(
    Prefix.WITHDRAW, WithdrawConfirm, (ID, words(get_args(ConfirmAction)))
)
UPDATE_ANSWER: Final = Family(Prefix.UPDATE, UpdateAnswer, (ID, QUESTION, TOKEN))
UPDATE_CONFIRM: Final = Family(Prefix.UPDATE, UpdateConfirm, (ID, QUESTION, TOKEN, constant("c")))
FOLLOW_UP_ANSWER: Final = Family(Prefix.FOLLOW_UP, FollowUpAnswer, (ID, FOLLOW_UP_ID, TOKEN))
EXPORT_FORMAT: Final = Family(Prefix.EXPORT, ExportFormat, (TOKEN,))
OWNERSHIP: Final = Family(Prefix.OWNERSHIP, Ownership, (ID, ID, words(get_args(OwnershipAction))))
CLOCK_CONFIRM: Final = Family(Prefix.CLOCK, ClockConfirm, (constant("clock"),))
SCREEN_CHOICE: Final = Family(
    Prefix.SCREEN_CHOICE, ScreenChoice, (ID, words(get_args(ScreenChoiceAction)))
)

INVITATION_REVOKE: Final = Family(Prefix.INVITATION, InvitationRevoke, (ID, constant("rv")))
ACCESS_EXTEND: Final = Family(Prefix.ACCESS, AccessExtend, (ID, TOKEN))
CODEC: Final = Codec(
    (
        ANSWER, BACK, EXCLUSION, SUMMARY, EDIT, SCORTEN, SCORTEN_UNIT, D0_CONFIRM,
        WITHDRAW_CONFIRM, UPDATE_ANSWER, UPDATE_CONFIRM, FOLLOW_UP_ANSWER, EXPORT_FORMAT,
        OWNERSHIP, CLOCK_CONFIRM, INVITATION_REVOKE, ACCESS_EXTEND, SCREEN_CHOICE,
    )
)  # fmt: skip


def encode(value: CallbackValue) -> str:
    """A button's callback data (`CallbackDataError` if it cannot travel)."""
    return CODEC.encode(value)


def decode(data: object) -> CallbackValue | None:
    """The typed value of any family, or None (the flow refuses it as a stale button)."""
    return CODEC.decode(data)

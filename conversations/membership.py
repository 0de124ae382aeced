"""Team membership rules (DESIGN.md "Team membership"): invitation tokens, the roles a command
names, access end dates (`until dd/mm/yyyy`), the 7-day reminder and the 6-month extension.

Pure: no Telegram, no database, no clock (*now* and *today* are parameters). The random token
is drawn by the caller (bot/flows/membership.py, `secrets`); what the database keeps of it is
`hash_token(token)` only.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final
from zoneinfo import ZoneInfo

ROLES: Final = ("clinician", "coordinator", "admin")

#: An invitation link works this long after it was made, once.
INVITATION_VALIDITY: Final = dt.timedelta(days=7)
#: Random bytes of a token (`secrets.token_urlsafe(TOKEN_BYTES)`): 256 bits, ≥ 128 asked.
TOKEN_BYTES: Final = 32
#: The deep-link payload is `inv_` + the token: 4 + 43 characters, under Telegram's 64.
TOKEN_PREFIX: Final = "inv_"
_TOKEN_BODY: Final = re.compile(r"[A-Za-z0-9_-]{43}")
#: Refused invitation attempts allowed from one Telegram id per hour.
REFUSALS_PER_HOUR: Final = 10
REFUSAL_WINDOW: Final = dt.timedelta(hours=1)

#: Admins are reminded this many days before an access ends, at this local time.
REMIND_DAYS_BEFORE: Final = 7
REMIND_AT: Final = dt.time(8, 0)
#: The reminder's button extends an access by this many calendar months.
EXTENSION_MONTHS: Final = 6

#: The words of a role, English (the stored name) and French.
_ROLE_WORDS: Final = {
    "clinician": "clinician",
    "clinicien": "clinician",
    "clinicienne": "clinician",
    "coordinator": "coordinator",
    "coordinateur": "coordinator",
    "coordinatrice": "coordinator",
    "admin": "admin",
    "administrator": "admin",
    "administrateur": "admin",
    "administratrice": "admin",
}
_UNTIL_WORDS: Final = frozenset({"until", "jusqu'au", "jusqu’au", "jusquau"})


def role_of(word: str) -> str | None:
    """The stored role a typed word names (English or French, any case), or None."""
    return _ROLE_WORDS.get(word.strip().lower())


# --- tokens ---------------------------------------------------------------------------------


def hash_token(token: str) -> str:
    """What the database keeps of a token: its SHA-256, hex. A token has 256 random bits, so
    no salt or slow hash is needed: nobody can try the hashes back to tokens."""
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def payload_of(token: str) -> str:
    """The `/start` payload of a link: `https://t.me/<bot>?start=<payload>`."""
    return TOKEN_PREFIX + token


class Payload(StrEnum):
    """What a `/start` argument is."""

    INVITATION = "invitation"  # `inv_` and a whole token: looked up by its hash
    BROKEN = "broken"  # `inv_` with a truncated or altered token
    OTHER = "other"  # anything else (a screening number, another bot's payload)


def classify_payload(text: str) -> tuple[Payload, str | None]:
    """(what the payload is, the token when it is a whole one)."""
    if not text.startswith(TOKEN_PREFIX):
        return Payload.OTHER, None
    body = text[len(TOKEN_PREFIX) :]
    if _TOKEN_BODY.fullmatch(body):
        return Payload.INVITATION, body
    return Payload.BROKEN, None


class InvitationState(StrEnum):
    VALID = "valid"
    USED = "used"
    REVOKED = "revoked"
    EXPIRED = "expired"


def invitation_state(
    expires_at: dt.datetime,
    used_at: dt.datetime | None,
    revoked_at: dt.datetime | None,
    now: dt.datetime,
) -> InvitationState:
    if used_at is not None:
        return InvitationState.USED
    if revoked_at is not None:
        return InvitationState.REVOKED
    if now >= expires_at:
        return InvitationState.EXPIRED
    return InvitationState.VALID


def rate_limited(window_start: dt.datetime | None, attempts: int, now: dt.datetime) -> bool:
    """True when this id already had `REFUSALS_PER_HOUR` refused attempts in its window."""
    if window_start is None or now - window_start >= REFUSAL_WINDOW:
        return False
    return attempts >= REFUSALS_PER_HOUR


# --- end dates ------------------------------------------------------------------------------


def end_of_local_day(day: dt.date, zone: ZoneInfo) -> dt.datetime:
    """The instant (UTC) an access `until day` lapses: the first instant of the next local
    day, i.e. the whole of `day` is inside. A day is 23 or 25 hours across a DST change: the
    zone database says when the next day begins (also in zones that change at midnight)."""
    following = day + dt.timedelta(days=1)
    # fold=0 (PEP 495): a midnight that falls in a gap is read with the offset before the
    # change, which is the very instant the gap ends; a midnight that occurs twice is its
    # first occurrence. Either way: the first instant of the following local day.
    return dt.datetime.combine(following, dt.time(0), tzinfo=zone).astimezone(dt.UTC)


def local_day_of(moment: dt.datetime, zone: ZoneInfo) -> dt.date:
    return moment.astimezone(zone).date()


def reminder_due(day: dt.date, zone: ZoneInfo) -> dt.datetime:
    """When the admins are reminded of an access ending on `day`: 08:00 local, 7 days before."""
    before = day - dt.timedelta(days=REMIND_DAYS_BEFORE)
    return dt.datetime.combine(before, REMIND_AT, tzinfo=zone).astimezone(dt.UTC)


def needs_reminder(day: dt.date, zone: ZoneInfo, now: dt.datetime) -> bool:
    """An end date set less than 7 days ahead is no surprise to the admin who set it."""
    return reminder_due(day, zone) > now


def add_months(day: dt.date, months: int) -> dt.date:
    """`day` plus calendar months; the 31st becomes the month's last day (31/08 → 28/02)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    for last in (31, 30, 29, 28):
        try:
            return dt.date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise ValueError(f"no day in {year}-{month}")  # unreachable: every month has 28 days


def extended(day: dt.date) -> dt.date:
    return add_months(day, EXTENSION_MONTHS)


# --- the words of /invite and /adduser -------------------------------------------------------


class GrantError(StrEnum):
    """Why the roles and end date of a command were refused (each one line to the admin)."""

    NO_ROLE = "no_role"
    UNKNOWN_ROLE = "unknown_role"
    NO_DATE = "no_date"
    BAD_DATE = "bad_date"
    PAST_DATE = "past_date"
    EXTRA = "extra"


@dataclass(frozen=True)
class Grant:
    roles: frozenset[str]
    until: dt.date | None


@dataclass(frozen=True)
class GrantRefused:
    error: GrantError
    word: str = ""  # the word at fault (an unknown role, a date that does not exist)


_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")
_ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})")


def parse_day(text: str) -> dt.date | None:
    """`dd/mm/yyyy` (or `yyyy-mm-dd`) as a date; None for any other text or a day that
    does not exist (31/02/2027)."""
    text = text.strip()
    if match := _DATE.fullmatch(text):
        day, month, year = (int(g) for g in match.groups())
    elif match := _ISO.fullmatch(text):
        year, month, day = (int(g) for g in match.groups())
    else:
        return None
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def parse_grant(words: Sequence[str], today: dt.date) -> Grant | GrantRefused:
    """`role [role…] [until dd/mm/yyyy]` → the roles and the last day of access. The date may
    be today (the access ends tonight), never in the past."""
    cut = next((i for i, w in enumerate(words) if w.lower() in _UNTIL_WORDS), len(words))
    role_words, rest = words[:cut], words[cut + 1 :]
    roles: set[str] = set()
    for word in role_words:
        role = role_of(word)
        if role is None:
            return GrantRefused(GrantError.UNKNOWN_ROLE, word[:40])
        roles.add(role)
    if not roles:
        return GrantRefused(GrantError.NO_ROLE)
    if cut == len(words):
        return Grant(frozenset(roles), None)
    if not rest:
        return GrantRefused(GrantError.NO_DATE)
    if len(rest) > 1:
        return GrantRefused(GrantError.EXTRA, " ".join(rest[1:])[:40])
    day = parse_day(rest[0])
    if day is None:
        return GrantRefused(GrantError.BAD_DATE, rest[0][:40])
    if day < today:
        return GrantRefused(GrantError.PAST_DATE, rest[0][:40])
    return Grant(frozenset(roles), day)

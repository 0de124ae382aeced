"""Shared by every suite: the injected clock, the settings a test bot runs with, and the answers
of an eligible patient as a clinician gives them through the bot (the core's values are
`eligible_answers` in tests/conversations/support.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.settings import Settings
from tests.e2e.fake_telegram import FakeTelegram

#: Saturday 21 November 2026, 10:00 in Paris: the suites' "now" unless a test says otherwise.
T0 = dt.datetime(2026, 11, 21, 9, 0, tzinfo=dt.UTC)

#: Who runs a test bot, unless a test says otherwise (DESIGN.md roles).
ADMIN = 1001
TEAM_CHAT = -100500


class FakeClock:
    """Time that moves only when the test says so (the bot's injected clock)."""

    def __init__(self, now: dt.datetime = T0) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)

    def set(self, now: dt.datetime) -> dt.datetime:
        self.now = now
        return now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def make_settings(db_path: Path, **extra: Any) -> Settings:
    """Settings of a test bot: English, Paris, `ADMIN`, `TEAM_CHAT`; no .env file is read."""
    values: dict[str, Any] = {
        "LYSYME_DATABASE": str(db_path),
        "LYSYME_ADMIN_IDS": str(ADMIN),
        "LYSYME_TEAM_CHAT_ID": str(TEAM_CHAT),
        "LYSYME_LANGUAGE": "en",
        "LYSYME_TIMEZONE": "Europe/Paris",
    }
    values.update(extra)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


#: A whole eligible screening (male patient), as a clinician answers it: (a fragment of the
#: question the bot shows, "tap:<button label>" or "type:<text>").
ELIGIBLE_MALE: list[tuple[str, str]] = [
    ("Date of first symptoms", "type:19/11/2026"),
    ("Date of admission", "tap:Yesterday"),
    ("Confirmed SJS", "tap:Yes"),
    ("Age (years)", "type:54"),
    ("Ward", "tap:Intensive care"),
    ("body surface area", "type:35 %"),
    ("Sex", "tap:Male"),
    ("Malignancy", "tap:No"),
    ("HIV", "tap:No"),
    ("hepatitis", "tap:No"),
    ("SARS-CoV-2", "tap:No"),
    ("heart failure", "tap:No"),
    ("epilepsy", "tap:No"),
    ("bone-marrow", "tap:No"),
    ("interventional drug study", "tap:No"),
    ("Deprived of liberty", "tap:No"),
    ("hampering follow-up", "tap:No"),
    ("tutorship", "tap:No"),
    ("psychiatric care", "tap:No"),
    ("social security", "tap:Yes"),
    ("Written consent", "tap:Obtained"),
    ("Who signed", "tap:The patient"),
    ("Weight (kg)", "type:68"),
]


def eligible_script(**answers: str) -> list[tuple[str, str]]:
    """`ELIGIBLE_MALE` with some answers replaced, keyed by question fragment."""
    unknown = set(answers) - {label for label, _ in ELIGIBLE_MALE}
    assert not unknown, unknown
    return [(label, answers.get(label, how)) for label, how in ELIGIBLE_MALE]


@pytest.fixture
def server() -> Iterator[FakeTelegram]:
    """The fake Bot API in a thread of its own, for tests that start `lysyme-bot` processes."""
    tg = FakeTelegram.start_in_thread()
    try:
        yield tg
    finally:
        tg.stop_thread()

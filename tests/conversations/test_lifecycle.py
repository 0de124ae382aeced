"""The one decision of whether a queued reminder still means anything, for every kind, and
the type check that refuses a new kind without its rule."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

from conversations.escalation import LoopState
from conversations.lifecycle import (
    Action,
    PatientFacts,
    Row,
    Stage,
    Status,
    reminder_relevance,
)
from conversations.reminder_kinds import Recipient, ReminderKind

PARIS = ZoneInfo("Europe/Paris")
NOW = dt.datetime(2026, 11, 22, 9, 0, tzinfo=dt.UTC)
ROOT = Path(__file__).resolve().parents[2]

ELIGIBLE = PatientFacts(status="screened", outcome="eligible", reasons=(), injected=False)
PENDING_BSA = PatientFacts(
    status="screened", outcome="pending", reasons=("max_bsa_percent",), injected=False
)
INJECTED = PatientFacts(status="injected", outcome="eligible", reasons=(), injected=True)
WITHDRAWN = PatientFacts(status="withdrawn", outcome="eligible", reasons=(), injected=False)


def row(kind: ReminderKind, step: str = "day_1", recipient: str = "team") -> Row:
    return Row(kind, step, recipient, NOW)


def decide(kind: ReminderKind, facts: PatientFacts | None, **kw: str) -> Action:
    return reminder_relevance(row(kind, **kw), facts, NOW, PARIS).action


def test_every_kind_has_a_rule_and_none_fails_on_a_missing_screening() -> None:
    for kind in ReminderKind:
        relevance = reminder_relevance(row(kind), None, NOW, PARIS)
        without_patient = (ReminderKind.ADMIN, ReminderKind.BOARD)
        expected = Action.SEND if kind in without_patient else Action.SKIP
        assert relevance.action is expected, kind
        if relevance.action is Action.SKIP:
            assert relevance.reason


def test_d0_window_reminders_stop_at_the_injection_and_the_window_close_acts_once() -> None:
    assert decide(ReminderKind.D0_WINDOW, ELIGIBLE, recipient="user:7") is Action.SEND
    assert decide(ReminderKind.D0_WINDOW, INJECTED) is Action.SKIP
    assert decide(ReminderKind.D0_WINDOW, WITHDRAWN) is Action.SKIP
    assert decide(ReminderKind.D0_WINDOW, ELIGIBLE, step="window_closed") is Action.ACT
    missed = PatientFacts(status="window_missed", outcome="eligible", reasons=(), injected=False)
    assert decide(ReminderKind.D0_WINDOW, missed, step="window_closed") is Action.SEND
    excluded = PatientFacts(status="screened", outcome="not_eligible", reasons=("age",),
                            injected=False)  # fmt: skip
    assert decide(ReminderKind.D0_WINDOW, excluded) is Action.SKIP


def test_the_teams_morning_steps_go_on_the_board_the_clinicians_are_sent() -> None:
    for morning in ("day_1", "day_2", "last_day_morning"):
        assert decide(ReminderKind.D0_WINDOW, ELIGIBLE, step=morning) is Action.BOARD
        assert (
            decide(ReminderKind.D0_WINDOW, ELIGIBLE, step=morning, recipient="user:7")
            is Action.SEND
        )
    assert decide(ReminderKind.D0_WINDOW, ELIGIBLE, step="last_day_evening") is Action.SEND
    # An injected patient is off the board too: the step is skipped, not listed.
    assert decide(ReminderKind.D0_WINDOW, INJECTED, step="day_1") is Action.SKIP


def test_pending_and_bsa_expiry_only_while_pending() -> None:
    assert decide(ReminderKind.PENDING, PENDING_BSA) is Action.SEND
    assert decide(ReminderKind.PENDING, ELIGIBLE) is Action.SKIP
    assert decide(ReminderKind.BSA_EXPIRY, PENDING_BSA) is Action.ACT
    consent_only = PatientFacts(status="screened", outcome="pending", reasons=("consent",),
                                injected=False)  # fmt: skip
    assert decide(ReminderKind.BSA_EXPIRY, consent_only) is Action.SKIP


def test_consent_reminders_never_go_to_the_team() -> None:
    assert decide(ReminderKind.CONSENT_PATIENT, ELIGIBLE, recipient=Recipient.TEAM) is Action.SKIP
    assert decide(ReminderKind.CONSENT_PATIENT, ELIGIBLE, recipient="user:7") is Action.SEND
    assert decide(ReminderKind.CONSENT_PATIENT, INJECTED, recipient="user:7") is Action.SEND


def test_follow_ups_repeat_until_answered() -> None:
    step = "reepithelialisation_d7"
    assert decide(ReminderKind.FOLLOW_UP, INJECTED, step=step) is Action.SEND
    answered = PatientFacts(status="injected", outcome="eligible", reasons=(), injected=True,
                            follow_up_answered=True)  # fmt: skip
    assert decide(ReminderKind.FOLLOW_UP, answered, step=step) is Action.SKIP
    assert decide(ReminderKind.FOLLOW_UP, INJECTED, step="d99") is Action.SKIP
    assert decide(ReminderKind.FOLLOW_UP, ELIGIBLE, step=step) is Action.SKIP


def test_outcome_changes_idle_and_notices_only_while_still_true() -> None:
    assert decide(ReminderKind.OUTCOME_CHANGE, ELIGIBLE, step="eligible") is Action.SEND
    assert decide(ReminderKind.OUTCOME_CHANGE, ELIGIBLE, step="pending") is Action.SKIP
    idle = PatientFacts(status="in_screening", outcome=None, reasons=(), injected=False,
                        idle_reminded=True)  # fmt: skip
    assert decide(ReminderKind.IDLE, idle, step="reminder") is Action.SEND
    assert decide(ReminderKind.IDLE, ELIGIBLE, step="reminder") is Action.SKIP
    assert decide(ReminderKind.NOTICE, INJECTED, step="injected") is Action.SEND
    assert decide(ReminderKind.NOTICE, ELIGIBLE, step="withdrawn") is Action.SKIP
    assert decide(ReminderKind.ALERT, WITHDRAWN, step="adverse_events_d10") is Action.SEND


def test_escalation_follows_the_loop_state() -> None:
    admission = dt.date(2026, 11, 20)
    due = dt.datetime(2026, 11, 22, 9, 0, tzinfo=dt.UTC)  # day 2, 10:00 Paris
    silent = LoopState(acknowledged_at=None, planned_at=None, injected=False, closed=False)
    taken = LoopState(acknowledged_at=due - dt.timedelta(minutes=30), planned_at=None,
                      injected=False, closed=False)  # fmt: skip
    for loop, expected in ((silent, Action.SEND), (taken, Action.SKIP)):
        facts = PatientFacts(status="screened", outcome="eligible", reasons=(), injected=False,
                             loop=loop, admission_date=admission)  # fmt: skip
        got = reminder_relevance(
            Row(ReminderKind.ESCALATION, "unacknowledged_2", "user:9", due), facts, NOW, PARIS
        )
        assert got.action is expected
    facts = PatientFacts(status="screened", outcome="eligible", reasons=(), injected=False,
                         loop=silent, admission_date=admission)  # fmt: skip
    bad = Row(ReminderKind.ESCALATION, "unacknowledged_9", "user:9", due)
    assert reminder_relevance(bad, facts, NOW, PARIS).action is Action.SKIP


def test_lifecycle_values_are_the_stored_strings() -> None:
    assert [s.value for s in Status] == [
        "in_screening", "screened", "injected", "withdrawn", "window_missed", "abandoned",
    ]  # fmt: skip
    assert Stage.SUMMARY == "summary" and Status.SCREENED == "screened"


def test_a_new_reminder_kind_without_its_rule_fails_the_type_check(tmp_path: Path) -> None:
    core = tmp_path / "conversations"
    shutil.copytree(ROOT / "conversations", core, ignore=shutil.ignore_patterns("__pycache__"))
    kinds = core / "reminder_kinds.py"
    kinds.write_text(kinds.read_text().replace(
        '    BOARD = "board"', '    BOARD = "board"\n    SURPRISE = "surprise"'))  # fmt: skip
    checked = subprocess.run(  # mypy is part of the dev extra, as in .ci/run
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "conversations"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert checked.returncode == 1, checked.stdout
    assert "lifecycle.py" in checked.stdout and "SURPRISE" in checked.stdout

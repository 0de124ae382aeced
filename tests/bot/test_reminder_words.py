"""Issue 25: every reminder kind, step, recipient, state and reason has words in both
languages (bot/views/reminder_words.py); no snake_case id and no "user:N" reaches a reader."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest

from bot.texts import EN, FR
from bot.views.reminder_words import (
    STATES,
    kind_words,
    reason_words,
    recipient_words,
    state_words,
    step_words,
    what,
)
from conversations.escalation import EscalationStep, unacknowledged_step
from conversations.lifecycle import PatientFacts, Row, reminder_relevance
from conversations.reminder_kinds import Recipient, ReminderKind
from conversations.schedule import FOLLOW_UPS, d0_window_steps

PARIS = ZoneInfo("Europe/Paris")
CODE = re.compile(r"\b[a-z0-9]+_[a-z0-9_]+\b|user:\d+")
LANGS = ("fr", "en")

#: Every step the program writes, per kind (the ones built from data: a sample).
STEPS: dict[ReminderKind, list[str]] = {
    ReminderKind.D0_WINDOW: [
        "outcome",
        *(d.step for d in d0_window_steps(dt.date(2026, 11, 20), PARIS)),
    ],
    ReminderKind.ESCALATION: [
        unacknowledged_step(1),
        unacknowledged_step(2),
        *(s.value for s in EscalationStep if s is not EscalationStep.UNACKNOWLEDGED),
    ],
    ReminderKind.OUTCOME_CHANGE: ["eligible", "pending", "not_eligible", "incomplete"],
    ReminderKind.PENDING: ["daily"],
    ReminderKind.BSA_EXPIRY: ["observation_end"],
    ReminderKind.CONSENT_PATIENT: ["reminder"],
    ReminderKind.FOLLOW_UP: [f.id for f in FOLLOW_UPS],
    ReminderKind.IDLE: ["reminder", "abandoned"],
    ReminderKind.NOTICE: ["injected", "withdrawn"],
    ReminderKind.ALERT: ["adverse_events_d10"],
    ReminderKind.ADMIN: [
        "unreachable:-100123:chat_not_found",
        "migrated:-100:-100200",
        "clock_jump 2026-11-20T08:00:00+00:00 2026-11-22T08:00:00+00:00",
    ],
    ReminderKind.BOARD: ["2026-11-22"],
}


def _plain(text: str) -> str:
    return re.sub(r"<[^>]+>", "", text)


@pytest.mark.parametrize("kind", list(ReminderKind))
def test_every_kind_has_words_in_both_languages(kind: ReminderKind) -> None:
    for catalogue in (FR, EN):
        assert f"rl.kind.{kind.value}" in catalogue, kind
    assert kind_words("fr", kind) != kind.value  # French words, not the stored id
    for lang in LANGS:
        assert not CODE.search(kind_words(lang, kind))


def test_every_kind_has_its_steps_listed_here() -> None:
    assert set(STEPS) == set(ReminderKind)  # a new kind fails here until its steps have words


@pytest.mark.parametrize("kind", list(ReminderKind))
def test_every_step_reads_in_words(kind: ReminderKind) -> None:
    for step in STEPS[kind]:
        for lang in LANGS:
            words = _plain(step_words(lang, kind, step))
            assert words != "—", (kind, step)
            assert not CODE.search(words), (kind, step, words)
            assert step not in words or "_" not in step, (kind, step, words)
            assert not CODE.search(_plain(what(lang, kind, step)))


@pytest.mark.parametrize("state", STATES)
def test_every_state_has_words_in_both_languages(state: str) -> None:
    for catalogue in (FR, EN):
        assert f"pt.rstate.{state}" in catalogue, state
        assert f"rl.state.{state}" in catalogue, state
    assert state_words("fr", state) != state
    assert state_words("en", state) == EN[f"pt.rstate.{state}"]


def test_recipients_read_as_people_or_roles() -> None:
    names = {1001: "Alice"}
    for lang in LANGS:
        for recipient in Recipient:
            words = recipient_words(lang, recipient.value, names)
            assert f"rl.to.{recipient.value}" in (FR if lang == "fr" else EN)
            assert not CODE.search(words)
            assert lang == "en" or words != recipient.value
    assert recipient_words("fr", "user:1001", names) == "Alice"
    assert recipient_words("fr", "user:1002", names) == "utilisateur 1002"
    assert recipient_words("en", "user:1002", names) == "user 1002"
    assert recipient_words("fr", Recipient.LAST_ACTOR, names) == "dernier intervenant"


def _core_reasons() -> set[str]:
    """Every reason the core gives for skipping a row, over a grid of facts."""
    reasons: set[str] = set()
    now = dt.datetime(2026, 11, 22, 8, tzinfo=dt.UTC)
    for kind, steps in STEPS.items():
        for step in steps:
            for recipient in (Recipient.TEAM, Recipient.OWNER, "user:1001"):
                for status in ("in_screening", "screened", "injected", "withdrawn",
                               "window_missed", "abandoned"):  # fmt: skip
                    for outcome in ("eligible", "pending", "not_eligible", None):
                        for injected in (False, True):
                            facts = PatientFacts(status, outcome, ("max_bsa_percent",), injected,
                                                 follow_up_answered=injected)  # fmt: skip
                            row = Row(kind, step, recipient, now)
                            reasons.add(reminder_relevance(row, facts, now, PARIS).reason)
                reasons.add(reminder_relevance(Row(kind, step, recipient, now), None, now,
                                               PARIS).reason)  # fmt: skip
    return {r for r in reasons if r}


def test_every_reason_the_core_gives_reads_in_words() -> None:
    reasons = _core_reasons()
    assert len(reasons) > 8
    for reason in reasons:
        for lang in LANGS:
            words = reason_words(lang, reason)
            assert not CODE.search(words), (reason, words)
            assert words != t_other(lang), reason  # each one is worded, not "other reason"


def t_other(lang: str) -> str:
    return (FR if lang == "fr" else EN)["rl.why.other"]


@pytest.mark.parametrize(
    ("reason", "french"),
    [
        ("status withdrawn", "statut retiré"),
        (
            "status window_missed, outcome not_eligible",
            "statut fenêtre J0 dépassée, résultat non éligible",
        ),
        ("no longer pending (screened, not_eligible)", "plus en attente (dépisté, non éligible)"),
        ("acknowledgement", "pris en compte par l'équipe"),
        ("re-planned", "injection reprogrammée"),
        ("chat migrated to -100200", "groupe devenu supergroupe (-100200)"),
        (
            "Forbidden: bot was blocked by the user",
            "Telegram : Forbidden: bot was blocked by the user",
        ),
        ("some_future_reason", "autre raison"),
    ],
)
def test_stored_reasons_in_french(reason: str, french: str) -> None:
    assert reason_words("fr", reason) == french

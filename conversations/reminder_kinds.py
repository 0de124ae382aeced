"""The kinds of rows in the reminder outbox and the states a row takes, as closed sets
(stored as their text value).

A `StrEnum`: each member equals its stored string, so the database keeps plain text and
SQL text may name the values; Python code compares and writes the members (issue 21).
"""

from __future__ import annotations

from enum import StrEnum


class ReminderKind(StrEnum):
    D0_WINDOW = "d0_window"
    OUTCOME_CHANGE = "outcome_change"
    PENDING = "pending"
    BSA_EXPIRY = "bsa_expiry"
    CONSENT_PATIENT = "consent_patient"
    FOLLOW_UP = "follow_up"
    IDLE = "idle"
    NOTICE = "notice"
    ALERT = "alert"
    ADMIN = "admin"
    #: An escalation step of the D0 window (conversations/escalation.py): unacknowledged
    #: morning reminder, no plan on the last day, planned-time reminders.
    ESCALATION = "escalation"
    #: The team's morning board: one message listing every open patient, edited in place.
    BOARD = "board"


class ReminderState(StrEnum):
    """Where an outbox row is (`reminders.state`, storage/reminders.py): scheduled → claimed →
    sent | failed | unknown, or skipped (caught up, no longer relevant) / cancelled."""

    SCHEDULED = "scheduled"
    CLAIMED = "claimed"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"
    #: The request left and no answer came: maybe delivered, never retried (no duplicate).
    UNKNOWN = "unknown"


class Recipient(StrEnum):
    """Symbolic recipients resolved when the row is sent (besides "user:<id>")."""

    TEAM = "team"
    LAST_ACTOR = "last_actor"
    SYSTEM = "system"
    #: The patient's owner ("I'm on it"), else the screening clinician.
    OWNER = "owner"


class Cause(StrEnum):
    """Why a reminder still to be sent was cancelled: stored with the row (the log words it)."""

    INJECTED = "injection recorded"
    WITHDRAWN = "withdrawn"
    ANSWERED = "answered"  # the follow-up question was answered
    WINDOW_CLOSED = "window closed"  # the D0 window closed with no injection
    ABANDONED = "abandoned"  # a screening left unanswered for 24 h
    REEVALUATION = "re-evaluation"  # the outcome was evaluated again
    ACKNOWLEDGEMENT = "acknowledgement"  # "I'm on it" (or a plan) answered an escalation
    REPLANNED = "re-planned"  # a new planned time replaced the old one's steps

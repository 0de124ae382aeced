"""A screening's record inside a write transaction, shared by every flow and the reminder
sender: load it with its current answers, begin an update's transaction (a re-delivered
update is dropped), record an answer with its audit rows, abandon it.

No Telegram type here; flows (bot/flows/*), the outcomes and the sender build on it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Connection

from bot.common import Actor, DuplicateUpdate
from conversations.answers import from_json, to_json
from conversations.lifecycle import Stage
from conversations.protocol import BY_ID, AnswerValue
from storage import screenings as store
from storage.audit import AuditEntry, append_audit, append_audit_many
from storage.screenings import Screening


@dataclass
class Loaded:
    screening: Screening
    answers: dict[str, AnswerValue]


def load(conn: Connection, screening: Screening) -> Loaded:
    raw = store.current_answers(conn, screening.id)
    answers = {qid: from_json(qid, value) for qid, value in raw.items() if qid in BY_ID}
    return Loaded(screening, answers)


def load_by_id(conn: Connection, screening_id: int) -> Loaded | None:
    """The screening and its current answers in one query (the answer path's hot read)."""
    found = store.get_with_answers(conn, screening_id)
    if found is None:
        return None
    screening, raw = found
    answers = {qid: from_json(qid, value) for qid, value in raw.items() if qid in BY_ID}
    return Loaded(screening, answers)


def audit(
    actor: str | int,
    action: str,
    now: dt.datetime,
    screening: str | None = None,
    **fields: str | None,
) -> AuditEntry:
    return AuditEntry(at=now, actor=str(actor), action=action, screening=screening, **fields)


def begin(conn: Connection, actor: Actor, now: dt.datetime) -> None:
    """First statement of a write transaction acting on an update: drop a re-delivery."""
    if actor.update_id is not None and not store.claim_update(conn, actor.update_id, now):
        raise DuplicateUpdate


def abandon(
    conn: Connection, screening: Screening, actor: str, now: dt.datetime, reason: str
) -> None:
    store.update_screening(
        conn, screening.id, now, status=store.ABANDONED, stage=Stage.DONE, cursor=None,
        proposed=None, closed_at=now,
    )  # fmt: skip
    append_audit(
        conn,
        audit(actor, "status", now, screening.number, field="status",
              old_value=screening.status, new_value=store.ABANDONED, reason=reason),
    )  # fmt: skip


def record_answer(
    conn: Connection,
    actor: Actor,
    screening: Screening,
    before: dict[str, AnswerValue],
    after: dict[str, AnswerValue],
    question_id: str,
    now: dt.datetime,
    source: str = "screening",
    reason: str | None = None,
) -> None:
    """One new answer row and its audit row; answers that stopped applying are withdrawn."""
    new = after[question_id]
    store.add_answer(
        conn, screening.id, question_id, to_json(new), by=actor.user_id, now=now,
        source=source, reason=reason,
    )  # fmt: skip
    old = before.get(question_id)
    entries = [
        audit(actor.user_id, "answer" if source == "screening" else source, now,
              screening.number, field=question_id,
              old_value=None if old is None else to_json(old), new_value=to_json(new),
              reason=reason)
    ]  # fmt: skip
    for gone in sorted(set(before) - set(after)):
        store.add_answer(
            conn, screening.id, gone, None, by=actor.user_id, now=now, source="not_applicable"
        )
        entries.append(
            audit(actor.user_id, "answer_withdrawn", now, screening.number, field=gone,
                  old_value=to_json(before[gone]), reason="no longer applies")
        )  # fmt: skip
    append_audit_many(conn, entries)

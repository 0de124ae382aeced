"""The trail can rebuild the record (DESIGN.md "After day one the record stays true").

`replay` reads the audit rows about screenings, oldest first, and nothing else, into each
screening's current answers (every stored value: the questions, SCORTEN, the follow-ups and
the D0 facts), its status, its outcome and its D0 facts. It must equal the stored state: a
test checks it after every step of the real flows. Pure: plain rows in, plain values out.

How each row reads:

- `screening_opened`: a new screening, in screening, no outcome, no answer.
- a row whose field is `status` (`status`, `withdrawal`, `reopened`, the cancelled
  withdrawal's `correction`): the status becomes its new value.
- a row whose field is `outcome` (`outcome`): the outcome becomes its new value.
- an answer row (`answer`, `update`, `correction`, `scorten`, `follow_up`, `d0_fact`,
  `answer_withdrawn`) whose field is an answer's id: that answer becomes its new value (the
  stored JSON text), or is gone when the new value is empty (an answer withdrawn).

Anything else (navigation, reminders, ownership, the injection time) leaves these alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final, Protocol

from conversations.d0 import D0_PREFIX, D0Facts, read_facts
from conversations.protocol import BY_ID

OPENED: Final = "screening_opened"
#: Actions whose rows carry an answer's value (JSON text, as stored) under `field`.
ANSWER_ACTIONS: Final = frozenset(
    {"answer", "answer_withdrawn", "update", "correction", "scorten", "follow_up", "d0_fact"}
)
#: Stored values that are not screening questions: SCORTEN, follow-ups, D0 facts.
ANSWER_PREFIXES: Final = ("scorten:", "follow_up:", D0_PREFIX)


class TrailRow(Protocol):
    """What replay needs of an audit row (storage's `TrailRow` has it)."""

    @property
    def screening(self) -> str: ...
    @property
    def action(self) -> str: ...
    @property
    def field(self) -> str | None: ...
    @property
    def new_value(self) -> str | None: ...


@dataclass
class Record:
    """A screening's current record, as the trail tells it (or as stored, for comparison)."""

    status: str
    outcome: str | None = None
    answers: dict[str, str] = field(default_factory=dict)

    @property
    def d0(self) -> D0Facts | None:
        return read_facts(self.answers)


def is_answer_key(key: str) -> bool:
    """Whether `key` names a stored answer (a question, a SCORTEN value, a follow-up, a D0
    fact) rather than a column of the screening (`status`, `injected_at`, …)."""
    return key in BY_ID or key.startswith(ANSWER_PREFIXES)


def replay(rows: Iterable[TrailRow]) -> dict[str, Record]:
    """Screening number → its record rebuilt from the trail alone (rows oldest first)."""
    records: dict[str, Record] = {}
    for row in rows:
        number = row.screening
        if row.action == OPENED:
            records[number] = Record(status="in_screening")
            continue
        record = records.get(number)
        if record is None or row.field is None:
            continue
        if row.field == "status":
            if row.new_value is not None:
                record.status = row.new_value
        elif row.field == "outcome":
            record.outcome = row.new_value
        elif row.action in ANSWER_ACTIONS and is_answer_key(row.field):
            if row.new_value is None:
                record.answers.pop(row.field, None)
            else:
                record.answers[row.field] = row.new_value
    return records


def differences(replayed: Mapping[str, Record], stored: Mapping[str, Record]) -> list[str]:
    """Where the trail and the stored record disagree, one line each (empty: they agree).
    Lines name the screening and the field, never a value (they may end up in a log)."""
    lines: list[str] = []
    for number in sorted(set(replayed) | set(stored)):
        mine, theirs = replayed.get(number), stored.get(number)
        if mine is None or theirs is None:
            where = "the trail" if mine is None else "the database"
            lines.append(f"{number}: missing from {where}")
            continue
        if mine.status != theirs.status:
            lines.append(f"{number}: status differs")
        if mine.outcome != theirs.outcome:
            lines.append(f"{number}: outcome differs")
        for key in sorted(set(mine.answers) | set(theirs.answers)):
            if mine.answers.get(key) != theirs.answers.get(key):
                lines.append(f"{number}: answer {key} differs")
        if mine.d0 != theirs.d0:
            lines.append(f"{number}: D0 facts differ")
    return lines

"""The screening conversation as a state machine over the answers given so far.

Where a screening stands is fully described by its answers plus a cursor (the question on
screen, or the summary), so a restarted bot resumes from the database alone. The moves:

- `next_question(answers, after)`: the first applicable unanswered question after `after`
  (then any earlier unanswered one); None when every applicable question is answered.
- `previous_question(answers, current)`: Back — the applicable question before `current`
  (before the summary: the last one), whose answer can then be changed.
- `apply_answer(...)`: what a new answer does — continue, ask to confirm an exclusion, or
  reach the summary. A failing answer is never final until confirmed (DESIGN.md).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from zoneinfo import ZoneInfo

from conversations.eligibility import Evaluation, Outcome, evaluate
from conversations.protocol import QUESTIONS, Answers, AnswerValue, question
from conversations.versions import ProtocolVersion


class Move(StrEnum):
    ASK = "ask"  # ask `question_id`
    CONFIRM_EXCLUSION = "confirm_exclusion"  # the answer excludes the patient: confirm or change
    SUMMARY = "summary"  # all answered: show the summary, then the result


@dataclass(frozen=True)
class Step:
    move: Move
    question_id: str | None
    evaluation: Evaluation

    @property
    def excluding(self) -> tuple[str, ...]:
        return self.evaluation.failed


def is_answered(answers: Answers, question_id: str) -> bool:
    return answers.get(question_id) is not None


def next_question(answers: Answers, after: str | None = None) -> str | None:
    applicable = [q.id for q in QUESTIONS if q.applies(answers)]
    start = applicable.index(after) + 1 if after in applicable else 0
    for question_id in applicable[start:] + applicable[:start]:
        if not is_answered(answers, question_id):
            return question_id
    return None


def previous_question(answers: Answers, current: str | None) -> str | None:
    """The question Back leads to; None when `current` is the first question."""
    applicable = [q.id for q in QUESTIONS if q.applies(answers)]
    if current is None:  # on the summary
        return applicable[-1] if applicable else None
    if current in applicable:
        position = applicable.index(current)
        return applicable[position - 1] if position > 0 else None
    # The current question no longer applies (an earlier answer changed): go to the last
    # applicable question ordered before it.
    order = [q.id for q in QUESTIONS]
    earlier = [q for q in applicable if order.index(q) < order.index(current)]
    return earlier[-1] if earlier else None


def without_inapplicable(answers: Answers) -> dict[str, AnswerValue]:
    """Drop answers to questions that no longer apply (e.g. pregnancy once sex is male)."""
    return {k: v for k, v in answers.items() if v is not None and question(k).applies(answers)}


def step_after(
    answers: Answers,
    answered: str | None,
    now: dt.datetime,
    zone: ZoneInfo,
    version: ProtocolVersion | None = None,
) -> Step:
    """Where the conversation goes once `answers` (including the latest, `answered`) stand,
    under the rules of `version` (default: the version in force at `now`)."""
    current = without_inapplicable(answers)
    evaluation = evaluate(current, now, zone, version=version)
    if evaluation.outcome is Outcome.NOT_ELIGIBLE:
        return Step(Move.CONFIRM_EXCLUSION, answered, evaluation)
    following = next_question(current, answered)
    if following is None:
        return Step(Move.SUMMARY, None, evaluation)
    return Step(Move.ASK, following, evaluation)


def apply_answer(
    answers: Answers,
    question_id: str,
    value: AnswerValue,
    now: dt.datetime,
    zone: ZoneInfo,
    version: ProtocolVersion | None = None,
) -> tuple[dict[str, AnswerValue], Step]:
    """The answers with `question_id` set to `value`, and the next step. Pure: nothing stored."""
    updated = dict(answers)
    updated[question_id] = value
    updated = without_inapplicable(updated)
    return updated, step_after(updated, question_id, now, zone, version)


def first_question() -> str:
    return QUESTIONS[0].id


def progress(answers: Answers, question_id: str) -> tuple[int, int]:
    """(position, total) of `question_id` for "question 5/24": the total counts every question
    that is or may still be asked, so it only ever shrinks (a man: no pregnancy question)."""
    counted = [q.id for q in QUESTIONS if q.may_apply(answers) or q.id == question_id]
    position = counted.index(question_id) + 1 if question_id in counted else 1
    return position, len(counted)

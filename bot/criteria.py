"""One vocabulary per criterion, used by every message, list, chart and export.

The catalogue: the words live in bot/texts/ (criteria.py there), once per language and per criterion —
`q.<id>` the question (the protocol's label, without options: those are buttons), `n.<id>`
the short name for lists (never reads as a result: "Sérologie VIH", not "… positive"),
`v.<id>.failed` / `v.<id>.pending` the verdict stated with the value and the rule. The
numbers and dates of the rule come from the core (`conversations.eligibility.finding`), so
"18 to 75" is written once, in conversations/protocol.py.

Why the words are not in the core: the core is language-neutral (the `check` command and the
exports' machine columns use ids); every language's words are in one catalogue, bot/texts/,
whose French and English keys are tested for parity.

Public functions — the only way the bot names a criterion:
- `criterion_question(lang, id)`: the question asked.
- `criterion_short_name(lang, id)`, `short_names(lang, ids)`: lists, team chat, exports.
- `verdict_sentence(lang, id, answers, now, zone)`, `verdict_sentences(...)`: why a patient
  is excluded or pending, for the clinician and the coordinators (never the team group).
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Iterable
from typing import Any
from zoneinfo import ZoneInfo

from bot.present import answer_text, date_text, number_text
from bot.texts import Raw, t
from conversations.eligibility import Verdict, finding
from conversations.protocol import BY_ID, D0_WINDOW, Answers, in_question_order

#: A criterion's sentence needs these facts; without them (an answer changed since), the
#: short name is shown rather than a sentence with a hole.
_NEEDS: dict[str, tuple[str, ...]] = {
    "age": ("value",),
    "admission_date": ("delay_days",),
    D0_WINDOW: ("deadline",),
    "max_bsa_percent": ("value", "observation_end"),
}


def criterion_question(lang: str, criterion_id: str) -> str:
    return t(lang, f"q.{criterion_id}")


def criterion_short_name(lang: str, criterion_id: str) -> str:
    key = f"n.{criterion_id}"
    text = t(lang, key)
    return criterion_id if text == key else text


def awaited_name(lang: str, criterion_id: str) -> str:
    """What a pending criterion waits for: the test ("Sérologie VIH"), not the question's
    words ("Sérologie VIH positive", which a team chat would read as a result); the short
    name when the criterion has no test of its own (consent, BSA)."""
    key = f"w.{criterion_id}"
    text = t(lang, key)
    return criterion_short_name(lang, criterion_id) if text == key else text


def awaited_names(lang: str, ids: Iterable[str]) -> Raw:
    """The pending criteria of a list (team notices, the board, /status), in question order,
    `; `-separated, escaped: never a word that reads as an answer."""
    return Raw("; ".join(html.escape(awaited_name(lang, i)) for i in in_question_order(ids)))


def short_names(lang: str, ids: Iterable[str]) -> Raw:
    """Short names in the order of the questions, `; `-separated, escaped for a message."""
    return Raw(
        "; ".join(html.escape(criterion_short_name(lang, i)) for i in in_question_order(ids))
    )


def verdict_sentence(
    lang: str,
    criterion_id: str,
    answers: Answers,
    now: dt.datetime,
    zone: ZoneInfo,
    *,
    injected: bool = False,
    verdict: Verdict | None = None,
) -> Raw:
    """`Âge 80 ans — le protocole inclut de 18 à 75 ans`, `Sérologie VIH : résultat attendu`.

    The verdict is the rule's at `now`, or `verdict` when the caller states it (a reason
    recorded when the screening closed). A criterion neither failed nor pending is named.
    Returned as HTML for a message (`Raw`: values escaped, `&lt;` for "<")."""
    found = finding(criterion_id, answers, now, zone, injected=injected)
    shown = verdict or found.verdict
    name = Raw(html.escape(criterion_short_name(lang, criterion_id)))
    if shown not in (Verdict.FAILED, Verdict.PENDING):
        return name
    facts = found.facts
    key = f"v.{criterion_id}.{shown.value}"
    if t(lang, key) == key or any(facts.get(f) is None for f in _NEEDS.get(criterion_id, ())):
        return name
    return Raw(t(lang, key, **_words(lang, criterion_id, facts, zone)))


def verdict_sentences(
    lang: str,
    ids: Iterable[str],
    answers: Answers,
    now: dt.datetime,
    zone: ZoneInfo,
    *,
    injected: bool = False,
    verdict: Verdict | None = None,
    separator: str = "; ",
) -> Raw:
    """Several verdicts in the order of the questions."""
    return Raw(
        separator.join(
            verdict_sentence(lang, i, answers, now, zone, injected=injected, verdict=verdict)
            for i in in_question_order(ids)
        )
    )


def verdict_lines(
    lang: str,
    ids: Iterable[str],
    answers: Answers,
    now: dt.datetime,
    zone: ZoneInfo,
    *,
    injected: bool = False,
    verdict: Verdict | None = None,
) -> Raw:
    """Verdicts as a bulleted list, one per line (exclusion, result, /patient)."""
    return Raw(
        "\n".join(
            "• " + verdict_sentence(lang, i, answers, now, zone, injected=injected, verdict=verdict)
            for i in in_question_order(ids)
        )
    )


def missing_sentences(lang: str, ids: Iterable[str]) -> Raw:
    return Raw(
        "\n".join(
            "• " + t(lang, "v.missing", name=criterion_short_name(lang, i))
            for i in in_question_order(ids)
        )
    )


def _words(lang: str, criterion_id: str, facts: dict[str, Any], zone: ZoneInfo) -> dict[str, Any]:
    """The facts as a person reads them: numbers with the language's decimal separator,
    dates dd/mm/yyyy, the D0 deadline in local time."""
    words: dict[str, Any] = {}
    for name, value in facts.items():
        if name == "deadline" and isinstance(value, dt.datetime):
            local = value.astimezone(zone)
            words["deadline_date"] = date_text(local.date())
            words["deadline_time"] = local.strftime("%H:%M")
        elif name == "value" and criterion_id in BY_ID and value is not None:
            if isinstance(value, int | float) and not isinstance(value, bool):
                words[name] = number_text(lang, value)
            else:
                words[name] = answer_text(lang, criterion_id, value)
        elif isinstance(value, dt.date):
            words[name] = date_text(value)
        elif isinstance(value, float):
            words[name] = number_text(lang, value)
        else:
            words[name] = value
    return words

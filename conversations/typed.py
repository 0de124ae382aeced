"""Where a typed value ends in a command line (`/correct HMN-001 glucose 2,6 g/L reason`): the
value, then its unit if one follows, then the reason. The units are the ones the question's
own parser reads (`conversations.answers` for the protocol questions, `conversations.scorten`
for SCORTEN values), so "g/L" is read as the value's unit, never as the start of the reason.
Pure."""

from __future__ import annotations

from collections.abc import Sequence

from conversations import answers, scorten
from conversations.protocol import BY_ID

SCORTEN_PREFIX = "scorten:"


def _unit_words(field: str) -> frozenset[str]:
    if field in BY_ID:
        return answers.UNIT_WORDS.get(BY_ID[field].unit, frozenset())
    measure = scorten.MEASURE_BY_ID.get(field.removeprefix(SCORTEN_PREFIX))
    if measure is None:
        return frozenset()
    return frozenset().union(*(scorten.UNIT_WORDS[u] for u in measure.units))


def value_length(field: str, words: Sequence[str]) -> int:
    """How many of `words` (what follows the field's name) make up its value: one, or two or
    three when a unit of that field follows the number ("2,6 g/L", "75 kg", "40 pour cent")."""
    if not words:
        return 0
    units = _unit_words(field)
    for extra in (2, 1):
        if len(words) > extra:
            unit = answers.normalise(" ".join(words[1 : 1 + extra])).rstrip(".")
            if unit in units:
                return 1 + extra
    return 1

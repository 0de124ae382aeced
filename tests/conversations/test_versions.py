"""Protocol versions in the core: every version's rules stay addressable, evaluation takes the
version, and the version in force is chosen by its effective date."""

from __future__ import annotations

import datetime as dt

import pytest

from conversations import versions
from conversations.check import run_check
from conversations.eligibility import Outcome, evaluate
from conversations.versions import LYSYME_1_0
from tests.conversations.support import NOW, PARIS, eligible_answers

#: A test-only amendment: the upper age limit moves from 75 to 80.
LYSYME_1_1 = LYSYME_1_0.amended("LYSYME 1.1", dt.date(2026, 12, 1), age_max=80)


@pytest.fixture
def with_1_1(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(versions.REGISTRY, LYSYME_1_1.name, LYSYME_1_1)


def test_lysyme_1_0_is_the_only_shipped_version() -> None:
    assert [v.name for v in versions.all_versions()] == ["LYSYME 1.0"]
    assert versions.get("LYSYME 1.0") is LYSYME_1_0
    assert versions.current() is LYSYME_1_0
    assert LYSYME_1_0.oid == "LYSYME_1.0"
    with pytest.raises(versions.UnknownVersion):
        versions.get("LYSYME 9.9")


def test_an_amendment_changes_only_its_own_rule() -> None:
    assert LYSYME_1_1.rules.age_max == 80 and LYSYME_1_0.rules.age_max == 75
    assert LYSYME_1_1.rules.age_min == LYSYME_1_0.rules.age_min
    assert LYSYME_1_1.rules.excluding_when_true == LYSYME_1_0.rules.excluding_when_true


def test_the_version_in_force_follows_the_effective_date(with_1_1: None) -> None:
    assert versions.in_force(dt.date(2026, 11, 30)) is LYSYME_1_0
    assert versions.in_force(dt.date(2026, 12, 1)) is LYSYME_1_1
    assert versions.in_force(dt.date(2020, 1, 1)) is LYSYME_1_0  # before any: the first
    assert versions.get("LYSYME 1.0") is LYSYME_1_0  # still addressable


def test_each_version_judges_by_its_own_rules(with_1_1: None) -> None:
    answers = eligible_answers(age=78)
    under_1_0 = evaluate(answers, NOW, PARIS, version=LYSYME_1_0)
    under_1_1 = evaluate(answers, NOW, PARIS, version=LYSYME_1_1)
    assert (under_1_0.outcome, under_1_0.failed) == (Outcome.NOT_ELIGIBLE, ("age",))
    assert under_1_1.outcome is Outcome.ELIGIBLE
    # Without a version: the one in force on now's local date (1.0 on 21/11/2026).
    assert evaluate(answers, NOW, PARIS).outcome is Outcome.NOT_ELIGIBLE
    later = dt.datetime(2026, 12, 1, 10, 0, tzinfo=PARIS)
    late_answers = eligible_answers(
        age=78, index_date=dt.date(2026, 11, 28), admission_date=dt.date(2026, 11, 30)
    )
    assert evaluate(late_answers, later, PARIS).outcome is Outcome.ELIGIBLE


def test_check_applies_the_current_version() -> None:
    document = {"answers": {**_json(eligible_answers(age=76))}, "now": NOW.isoformat()}
    result = run_check(document, NOW, PARIS)
    assert result["status"] == "not_eligible" and result["failed"] == ["age"]


def _json(answers: dict[str, object]) -> dict[str, object]:
    return {k: v.isoformat() if isinstance(v, dt.date) else v for k, v in answers.items()}

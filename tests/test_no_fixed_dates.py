"""No test types a literal date near today's: a bot on the real clock refuses it once the calendar
has moved on (issue 20: CI went red two weeks after "19/11/2026" was typed into replicas on the
real clock). A typed date is computed from the clock of the bot under test: `tests.conftest.day`.

What is checked: every string literal in tests/ that is not in an `assert` (an expected output
is not typed) nor a docstring. The core's own tests (tests/conversations/) are left out: they pass
`today` to the parsers explicitly, and their dates are the parsers' inputs."""

from __future__ import annotations

import ast
import datetime as dt
import re
from pathlib import Path

TESTS = Path(__file__).resolve().parent
DATE = re.compile(r"(?<!\d)(\d{1,2})/(\d{1,2})/(\d{4})(?!\d)")


def fixed_dates(source: str, this_year: int) -> list[tuple[int, str]]:
    """(line, literal) of each real dd/mm/yyyy date within a year of `this_year` in `source`,
    outside asserts and docstrings. Impossible dates (31/02) and far ones (31/12/9999) are the
    bad input a test types on purpose."""
    tree = ast.parse(source)
    exempt: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assert):
            exempt.update(id(sub) for sub in ast.walk(node))
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            first = node.body[0] if node.body else None
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                exempt.add(id(first.value))
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
            continue
        if id(node) in exempt:
            continue
        for match in DATE.finditer(node.value):
            day, month, year = map(int, match.groups())
            try:
                dt.date(year, month, day)
            except ValueError:
                continue
            if abs(year - this_year) <= 1:
                found.append((node.lineno, node.value))
    return sorted(found)


def test_no_test_types_a_literal_date_near_today() -> None:
    this_year = dt.date.today().year  # the real calendar is what such a date rots against
    offenders = [
        f"{path.relative_to(TESTS.parent)}:{line}: {literal!r}"
        for path in sorted(TESTS.rglob("*.py"))
        if "conversations" not in path.relative_to(TESTS).parts
        for line, literal in fixed_dates(path.read_text(encoding="utf-8"), this_year)
    ]
    assert offenders == [], "type tests.conftest.day(...) instead:\n" + "\n".join(offenders)


def test_the_check_finds_a_typed_date_and_leaves_expected_outputs_alone() -> None:
    year = 2031
    source = (
        '"""Docstring: 01/02/2031."""\n'
        'await doc.type("19/11/2031")\n'
        'SCRIPT = [("Date of first symptoms", "type:20/11/2030")]\n'
        'assert "D0 deadline: 23/11/2031 23:59" in text\n'
        'BAD = ["31/02/2031", "31/12/9999", "19/11/2020"]\n'
    )
    assert fixed_dates(source, year) == [
        (2, "19/11/2031"),
        (3, "type:20/11/2030"),
    ]

"""docs/LIFECYCLE.md and `conversations.lifecycle.LIFECYCLE` say the same: every status and
outcome pair the product can reach is moved on by a command, or is final."""

from __future__ import annotations

from pathlib import Path

from conversations.lifecycle import LIFECYCLE, Status, moves

DOC = Path(__file__).resolve().parents[2] / "docs" / "LIFECYCLE.md"


def _doc_rows() -> dict[tuple[str, str | None], tuple[tuple[str, ...], bool]]:
    rows: dict[tuple[str, str | None], tuple[tuple[str, ...], bool]] = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 4 or cells[0] in ("status", "---"):
            continue
        status, outcome, moved_by, final = cells
        key = (status, None if outcome == "—" else outcome)
        assert key not in rows, f"{key} twice in docs/LIFECYCLE.md"
        rows[key] = (tuple(c.strip() for c in moved_by.split(",")), final == "yes")
    return rows


def test_the_documented_table_is_the_code_table() -> None:
    documented = _doc_rows()
    in_code = {
        (str(status), outcome): (m.commands, m.final) for (status, outcome), m in LIFECYCLE.items()
    }
    assert documented == in_code


def test_every_pair_that_is_not_final_has_a_command() -> None:
    for pair, m in LIFECYCLE.items():
        assert m.commands, pair
        if not m.final:
            assert any(c.startswith("/") or c == "answer" for c in m.commands), pair


def test_a_closed_screening_left_incomplete_is_a_dead_end_the_product_never_reaches() -> None:
    assert moves("screened", "incomplete") is None
    assert moves("in_screening", "incomplete") is not None
    assert moves("not_a_status", None) is None
    # Every status has at least one pair.
    assert {status for status, _ in LIFECYCLE} == set(Status)

"""`lysyme-bot check FILE` (DESIGN.md "`lysyme-bot check FILE`").

Every shared worked example, then each kind of invalid input: exit 2, exactly one line on
stderr naming the field, nothing on stdout, never a traceback. The cases call the command's
entry point, `bot.cli.command_line`, in this process (tests/cli_in_process.py: cwd an empty folder so
no .env is read, LYSYME_TIMEZONE=Europe/Paris, exit status and streams as a process gives
them), to keep the suite's CPU down; what a shell sees runs as real processes: an invalid input
(`python -m bot.cli`: exit 2, one line, no traceback) and the installed `lysyme-bot` script
(exit 0, the JSON). A module fixture runs every case once; each test then asserts on its own
case.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.cli_in_process import lysyme_bot_in_process
from tests.conftest import day

PARIS = ZoneInfo("Europe/Paris")
REPO = Path(__file__).resolve().parents[1]


def _examples_dir() -> Path:
    beside_repo = REPO.parent / "shared" / "examples" / "check"
    if beside_repo.is_dir():
        return beside_repo
    return Path("/work/shared/examples/check")


EXAMPLES_DIR = _examples_dir()
EXAMPLE_FILES = sorted(EXAMPLES_DIR.glob("*.json")) if EXAMPLES_DIR.is_dir() else []

#: A complete, eligible man (example 01's answers), evaluated at NOW.
NOW = "2026-12-01T08:30:00+01:00"
ELIGIBLE = {
    "age": 58,
    "sex": "male",
    "index_date": "2026-11-27",
    "admission_date": "2026-11-29",
    "diagnosis_confirmed": True,
    "ward": "icu",
    "max_bsa_percent": 35,
    "malignancy_10y_or_metastasis": False,
    "hiv_positive": "no",
    "active_hepatitis_b_or_c": "no",
    "sars_cov2_positive": "no",
    "decompensated_heart_failure": False,
    "uncontrolled_epilepsy": False,
    "prior_allogeneic_bmt": False,
    "other_interventional_trial": False,
    "deprived_of_liberty": False,
    "compliance_concern": False,
    "tutorship_or_curatorship": False,
    "psychiatric_care_l1121_6": False,
    "social_security": True,
    "consent": "obtained",
    "weight_kg": 81.5,
}


def doc(now: str | None = NOW, **changes: object) -> str:
    """The eligible document with some answers changed (a value of `...` removes the id)."""
    answers = copy.deepcopy(ELIGIBLE)
    for key, value in changes.items():
        if value is ...:
            answers.pop(key, None)
        else:
            answers[key] = value
    document: dict[str, object] = {"answers": answers}
    if now is not None:
        document["now"] = now
    return json.dumps(document)


@dataclass(frozen=True)
class Run:
    returncode: int
    stdout: str
    stderr: str

    @property
    def json(self) -> dict:
        return json.loads(self.stdout)


#: name → file content (str), or None for a file that does not exist.
CASES: dict[str, str | None] = {}

# --- invalid input: name → (content, the field the error line must name) --------------------

INVALID: dict[str, tuple[str | None, str]] = {
    "unknown_id": (doc(shoe_size=42), "shoe_size"),
    "unknown_id_d0_window": (doc(d0_window="no"), "d0_window"),
    "age_as_string": (doc(age="58"), "age"),
    "age_not_integer": (doc(age=58.5), "age"),
    "age_121": (doc(age=121), "age"),
    "age_negative": (doc(age=-1), "age"),
    "age_boolean": (doc(age=True), "age"),
    "diagnosis_yes_string": (doc(diagnosis_confirmed="yes"), "diagnosis_confirmed"),
    "social_security_1": (doc(social_security=1), "social_security"),
    "hiv_boolean": (doc(hiv_positive=False), "hiv_positive"),
    "hiv_unknown_value": (doc(hiv_positive="maybe"), "hiv_positive"),
    "sex_abbreviation": (doc(sex="M"), "sex"),
    "ward_unknown": (doc(ward="cardiology"), "ward"),
    "consent_boolean": (doc(consent=True), "consent"),
    "consent_by_unknown": (doc(consent_by="doctor"), "consent_by"),
    "weight_29": (doc(weight_kg=29), "weight_kg"),
    "weight_251": (doc(weight_kg=251), "weight_kg"),
    "weight_string": (doc(weight_kg="70 kg"), "weight_kg"),
    "weight_infinite": (doc(weight_kg=1e999).replace("Infinity", "1e999"), "weight_kg"),
    "weight_nan_literal": (doc(weight_kg=float("nan")), "weight_kg"),
    "bsa_101": (doc(max_bsa_percent=101), "max_bsa_percent"),
    "bsa_negative": (doc(max_bsa_percent=-0.5), "max_bsa_percent"),
    "index_in_future": (doc(index_date="2026-12-02"), "index_date"),
    "admission_in_future": (doc(admission_date="2026-12-02"), "admission_date"),
    "admission_before_index": (doc(admission_date="2026-11-26"), "admission_date"),
    "date_french_in_future": (doc(index_date=day(11)), "index_date"),
    "date_french_impossible": (doc(index_date="30/02/2026"), "index_date"),
    "date_impossible": (doc(index_date="2026-02-30"), "index_date"),
    "date_as_number": (doc(index_date=20261127), "index_date"),
    "answers_not_object": (json.dumps({"answers": ["age", 58], "now": NOW}), "answers"),
    "now_not_a_date": (doc(now="tomorrow"), "now"),
    "now_a_number": (json.dumps({"answers": ELIGIBLE, "now": 1764574200}), "now"),
    "now_impossible": (doc(now="2026-13-01T08:30:00+01:00"), "now"),
}
# Invalid documents with no field to name: one line, and it says what is wrong.
UNREADABLE: dict[str, tuple[str | None, str]] = {
    "malformed_json": ('{"answers": {"age": 58,}}', "json"),
    "truncated_json": (doc()[:-10], "json"),
    "empty_file": ("", "json"),
    "missing_file": (None, "missing.json"),
    "not_an_object_list": ("[1, 2, 3]", ""),
    "not_an_object_string": ('"answers"', ""),
    "not_an_object_null": ("null", ""),
    # Valid JSON too deep or too large for a naive decoder: still one clean line.
    "deeply_nested": ("[" * 100_000 + "]" * 100_000, ""),
    "huge_integer": ('{"answers": {"age": ' + "9" * 5000 + "}}", "age"),
}

for name, (content, _) in {**INVALID, **UNREADABLE}.items():
    CASES[name] = content

# --- valid input beyond the shared examples --------------------------------------------------

_TODAY = dt.datetime.now(PARIS).date()
VALID: dict[str, str] = {
    # A `now` without offset is local time in LYSYME_TIMEZONE (Europe/Paris, UTC+1 in December).
    "naive_now_before_deadline": doc(now="2026-12-02T23:59:59"),
    "naive_now_after_deadline": doc(now="2026-12-03T00:00:00"),
    "naive_now_late_evening": doc(now="2026-12-02T23:30:00"),
    "utc_now_next_local_day": doc(now="2026-12-02T23:30:00+00:00"),
    "utc_now_z": doc(now="2026-12-02T22:59:59Z"),
    "pregnancy_for_a_man_ignored": doc(pregnant_or_breastfeeding="yes"),
    # The error message lists dd/mm/yyyy as accepted: so it is (issue 25).
    "dates_day_first": doc(index_date=day(6), admission_date=day(8)),
    "null_is_unanswered": doc(weight_kg=None),
    "failed_with_missing_and_pending": doc(age=77, weight_kg=None, hiv_positive="pending"),
    "missing_with_pending": doc(ward=..., hiv_positive="pending", consent="pending"),
    "no_admission_date": doc(admission_date=...),
    "woman_without_pregnancy_answer": doc(sex="female"),
    "sex_unknown": doc(sex=...),
    "dose_70": doc(weight_kg=70),
    "dose_70_3": doc(weight_kg=70.3),
    "spring_forward": doc(
        now="2026-03-28T10:00:00+01:00", index_date="2026-03-26", admission_date="2026-03-27"
    ),
    "fall_back": doc(
        now="2026-10-24T10:00:00+02:00", index_date="2026-10-22", admission_date="2026-10-23"
    ),
    "bsa_pending_then_failed": doc(max_bsa_percent=9.9, now="2026-12-07T23:59:59+01:00"),
    "bsa_failed_after_observation": doc(
        max_bsa_percent=9.9,
        admission_date="2026-12-05",
        now="2026-12-08T00:00:00+01:00",
    ),
    "default_now": doc(
        now=None,
        index_date=(_TODAY - dt.timedelta(days=1)).isoformat(),
        admission_date=_TODAY.isoformat(),
    ),
    "empty_answers": json.dumps({"answers": {}, "now": NOW}),
}
CASES.update(VALID)
for path in EXAMPLE_FILES:
    CASES[f"example:{path.name}"] = json.dumps(json.loads(path.read_text("utf-8"))["input"])

# Extreme but well-formed input: no traceback, whichever clean answer the command gives.
EXTREME: dict[str, str] = {
    "now_year_9999": doc(now="9999-12-31T23:59:59-01:00"),
    "admission_year_9999": doc(
        now="9999-12-31T12:00:00", index_date="9999-12-30", admission_date="9999-12-31"
    ),
    "now_year_1": doc(now="0001-01-01T00:00:00+01:00"),
    "huge_weight": doc(weight_kg=10**30),
}
CASES.update(EXTREME)


def _environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LYSYME_", "TELEGRAM_"))}
    env["LYSYME_TIMEZONE"] = "Europe/Paris"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def run_cli(path: Path, cwd: Path, command: list[str] | None = None) -> Run:
    """`lysyme-bot check PATH` in a new process."""
    command = command or [sys.executable, "-m", "bot.cli"]
    completed = subprocess.run(
        [*command, "check", str(path)],
        cwd=cwd,
        env=_environment(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    return Run(completed.returncode, completed.stdout, completed.stderr)


def run_in_process(path: Path, cwd: Path) -> Run:
    """The same entry point (`bot.cli.command_line`) called in this process, with the same
    environment and working directory; an escaping exception is recorded as the traceback
    the interpreter would print."""
    completed = lysyme_bot_in_process(
        "check", str(path), env={"LYSYME_TIMEZONE": "Europe/Paris"}, cwd=cwd
    )
    return Run(completed.returncode, completed.stdout, completed.stderr)


#: Cases run as a real process: what a shell sees of an invalid input (the installed script's
#: exit 0 and JSON: `test_the_console_script`). The others call the same entry point in this
#: process: each interpreter started costs 0.3–1 s of CPU.
IN_A_PROCESS = {"malformed_json"}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    """Run every case once; cwd is an empty folder, so no .env is read."""
    folder = tmp_path_factory.mktemp("check")
    prepared: dict[str, tuple[Path, Path]] = {}
    for number, (name, content) in enumerate(CASES.items()):
        cwd = folder / f"case{number}"
        cwd.mkdir()
        path = cwd / ("missing.json" if content is None else "input.json")
        if content is not None:
            path.write_text(content, encoding="utf-8")
        prepared[name] = (path, cwd)
    return {
        name: (run_cli if name in IN_A_PROCESS else run_in_process)(path, cwd)
        for name, (path, cwd) in prepared.items()
    }


def assert_clean_error(run: Run) -> str:
    assert run.returncode == 2, run
    assert run.stdout == "", run
    assert "Traceback" not in run.stderr, run.stderr
    lines = run.stderr.splitlines()
    assert len(lines) == 1, run.stderr
    assert run.stderr.endswith("\n")
    assert lines[0].strip()
    return lines[0]


def assert_output_shape(result: dict) -> None:
    assert set(result) == {"status", "failed", "pending", "missing", "dose_cells", "d0_deadline"}
    assert result["status"] in ("eligible", "pending", "not_eligible", "incomplete")
    for key in ("failed", "pending", "missing"):
        assert result[key] == sorted(result[key]), key
    behind = {"not_eligible": "failed", "incomplete": "missing", "pending": "pending"}
    for key in ("failed", "pending", "missing"):
        if behind.get(result["status"]) == key:
            assert result[key], (key, result)
        else:
            assert result[key] == [], (key, result)
    if result["status"] not in ("eligible", "pending"):
        assert result["dose_cells"] is None


def same_instant(actual: str | None, expected: str | None) -> None:
    if expected is None:
        assert actual is None
        return
    assert actual is not None
    parsed = dt.datetime.fromisoformat(actual)
    assert parsed.utcoffset() is not None, "the deadline carries its UTC offset"
    assert parsed == dt.datetime.fromisoformat(expected)


# --- the shared worked examples ----------------------------------------------------------------


def test_the_shared_examples_are_present() -> None:
    assert EXAMPLES_DIR.is_dir(), f"shared examples not found at {EXAMPLES_DIR}"
    assert len(EXAMPLE_FILES) >= 6, EXAMPLE_FILES


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.name)
def test_shared_example(path: Path, runs: dict[str, Run]) -> None:
    example = json.loads(path.read_text("utf-8"))
    run = runs[f"example:{path.name}"]
    assert "Traceback" not in run.stderr
    assert run.returncode == example["expected_exit"], run
    if example["expected_exit"] != 0:
        assert_clean_error(run)
        return
    assert run.stderr == ""
    result = run.json
    expected = example["expected_output"]
    assert_output_shape(result)
    same_instant(result.pop("d0_deadline"), expected.pop("d0_deadline"))
    assert result == expected


# --- invalid input -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", INVALID)
def test_invalid_input_exits_2_with_one_line_naming_the_field(
    name: str, runs: dict[str, Run]
) -> None:
    line = assert_clean_error(runs[name])
    assert INVALID[name][1] in line


@pytest.mark.parametrize("name", UNREADABLE)
def test_unreadable_input_exits_2_with_one_line(name: str, runs: dict[str, Run]) -> None:
    line = assert_clean_error(runs[name])
    assert UNREADABLE[name][1] in line.lower()


def test_the_error_line_says_what_is_wrong(runs: dict[str, Run]) -> None:
    # Not just the field: the line explains the problem (range, date, type).
    assert "120" in assert_clean_error(runs["age_121"])
    assert "250" in assert_clean_error(runs["weight_251"])
    assert "2026-11-27" in assert_clean_error(runs["admission_before_index"])


@pytest.mark.parametrize("name", EXTREME)
def test_extreme_input_never_gives_a_traceback(name: str, runs: dict[str, Run]) -> None:
    run = runs[name]
    assert "Traceback" not in run.stderr, run.stderr
    assert run.returncode in (0, 2), run
    if run.returncode == 2:
        assert_clean_error(run)
    else:
        assert_output_shape(run.json)


# --- valid input -------------------------------------------------------------------------------


def result_of(runs: dict[str, Run], name: str) -> dict:
    run = runs[name]
    assert run.returncode == 0, run
    assert run.stderr == ""
    result = run.json
    assert_output_shape(result)
    return result


def test_a_now_without_offset_is_local_time(runs: dict[str, Run]) -> None:
    assert result_of(runs, "naive_now_before_deadline")["status"] == "eligible"
    after = result_of(runs, "naive_now_after_deadline")
    assert after["status"] == "not_eligible"
    assert after["failed"] == ["d0_window"]
    # 23:30 local on the last day is inside the window (it would not be if read as UTC).
    assert result_of(runs, "naive_now_late_evening")["status"] == "eligible"


def test_a_utc_now_is_converted_to_the_local_day(runs: dict[str, Run]) -> None:
    # 23:30 UTC on 2 December is 00:30 on 3 December in Paris: past the deadline.
    late = result_of(runs, "utc_now_next_local_day")
    assert late["status"] == "not_eligible"
    assert late["failed"] == ["d0_window"]
    # 22:59:59 Z is the deadline itself: not past it.
    assert result_of(runs, "utc_now_z")["status"] == "eligible"


def test_a_pregnancy_answer_for_a_man_is_accepted_and_ignored(runs: dict[str, Run]) -> None:
    result = result_of(runs, "pregnancy_for_a_man_ignored")
    assert result["status"] == "eligible"
    assert result["dose_cells"] == 163_000_000


def test_day_first_dates_read_as_the_error_message_says(runs: dict[str, Run]) -> None:
    """`"index_date": "27/11/2026"` is 27 November, as the refusal's list of accepted forms
    says (dd/mm/yyyy): the same result as the ISO dates."""
    result = result_of(runs, "dates_day_first")
    assert result["status"] == "eligible"
    same_instant(result["d0_deadline"], "2026-12-02T23:59:59+01:00")


def test_null_means_unanswered(runs: dict[str, Run]) -> None:
    result = result_of(runs, "null_is_unanswered")
    assert result["status"] == "incomplete"
    assert result["missing"] == ["weight_kg"]
    assert result["dose_cells"] is None
    same_instant(result["d0_deadline"], "2026-12-02T23:59:59+01:00")


def test_only_the_list_behind_the_status_is_filled(runs: dict[str, Run]) -> None:
    failed = result_of(runs, "failed_with_missing_and_pending")
    assert failed == {
        "status": "not_eligible",
        "failed": ["age"],
        "pending": [],
        "missing": [],
        "dose_cells": None,
        "d0_deadline": failed["d0_deadline"],
    }
    missing = result_of(runs, "missing_with_pending")
    assert missing["status"] == "incomplete"
    assert missing["missing"] == ["ward"]
    assert missing["pending"] == []
    assert missing["dose_cells"] is None


def test_no_deadline_without_an_admission_date(runs: dict[str, Run]) -> None:
    result = result_of(runs, "no_admission_date")
    assert result["status"] == "incomplete"
    assert result["missing"] == ["admission_date"]
    assert result["d0_deadline"] is None


def test_pregnancy_is_required_for_women_and_when_sex_is_unknown(runs: dict[str, Run]) -> None:
    woman = result_of(runs, "woman_without_pregnancy_answer")
    assert woman["status"] == "incomplete"
    assert woman["missing"] == ["pregnant_or_breastfeeding"]
    unknown = result_of(runs, "sex_unknown")
    assert unknown["status"] == "incomplete"
    assert unknown["missing"] == ["pregnant_or_breastfeeding", "sex"]


def test_dose(runs: dict[str, Run]) -> None:
    assert result_of(runs, "dose_70")["dose_cells"] == 140_000_000
    assert result_of(runs, "dose_70_3")["dose_cells"] == 140_600_000


def test_deadline_across_daylight_saving_changes(runs: dict[str, Run]) -> None:
    spring = result_of(runs, "spring_forward")
    assert spring["status"] == "eligible"
    assert spring["d0_deadline"].endswith("+02:00")
    same_instant(spring["d0_deadline"], "2026-03-30T23:59:59+02:00")
    autumn = result_of(runs, "fall_back")
    assert autumn["status"] == "eligible"
    assert autumn["d0_deadline"].endswith("+01:00")
    same_instant(autumn["d0_deadline"], "2026-10-26T23:59:59+01:00")


def test_bsa_below_10_pending_then_failed(runs: dict[str, Run]) -> None:
    # Index 2026-11-27: the observation period ends on 2026-12-07. That evening the window
    # (admission 2026-11-29) has closed as well.
    pending_then = result_of(runs, "bsa_pending_then_failed")
    assert pending_then["failed"] == ["d0_window"]
    failed = result_of(runs, "bsa_failed_after_observation")
    assert failed["status"] == "not_eligible"
    assert failed["failed"] == ["max_bsa_percent"]


def test_now_defaults_to_the_current_time(runs: dict[str, Run]) -> None:
    result = result_of(runs, "default_now")
    assert result["status"] == "eligible"
    admission = dt.date.fromisoformat(json.loads(VALID["default_now"])["answers"]["admission_date"])
    deadline = dt.datetime.fromisoformat(result["d0_deadline"])
    assert deadline.astimezone(PARIS).date() == admission + dt.timedelta(days=3)
    assert deadline.astimezone(PARIS).time() == dt.time(23, 59, 59)


def test_empty_answers_are_incomplete(runs: dict[str, Run]) -> None:
    result = result_of(runs, "empty_answers")
    assert result["status"] == "incomplete"
    assert len(result["missing"]) == 23  # every required id, pregnancy included
    assert result["d0_deadline"] is None
    assert result["dose_cells"] is None


def test_the_console_script(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "lysyme-bot"
    assert script.exists(), "the package must be installed (pip install -e .) with its script"
    path = tmp_path / "input.json"
    path.write_text(doc(), encoding="utf-8")
    run = run_cli(path, tmp_path, [str(script)])
    assert run.returncode == 0, run
    assert run.json["status"] == "eligible"
    assert run.json["dose_cells"] == 163_000_000

"""Parsing what a clinician types (DESIGN.md "Clinical rules" and "Architecture": decimal
comma, 21/11/2026, 21/11, 2026-11-21, today / yesterday, aujourd'hui / hier) and the stored
form of answers."""

from __future__ import annotations

import contextlib
import datetime as dt
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conversations.answers import AnswerError, from_json, parse_text, to_json
from tests.conversations.support import ALL_IDS

TODAY = dt.date(2026, 11, 25)

DATE_IDS = ("index_date", "admission_date")
BOOLEAN_IDS = (
    "diagnosis_confirmed",
    "malignancy_10y_or_metastasis",
    "decompensated_heart_failure",
    "uncontrolled_epilepsy",
    "prior_allogeneic_bmt",
    "other_interventional_trial",
    "deprived_of_liberty",
    "compliance_concern",
    "tutorship_or_curatorship",
    "psychiatric_care_l1121_6",
    "social_security",
)
TRI_STATE_IDS = (
    "pregnant_or_breastfeeding",
    "hiv_positive",
    "active_hepatitis_b_or_c",
    "sars_cov2_positive",
)


def parse(question_id: str, text: str, today: dt.date = TODAY, answers=None):
    return parse_text(question_id, text, today, answers)


def rejects(question_id: str, text: str, today: dt.date = TODAY, answers=None) -> AnswerError:
    with pytest.raises(AnswerError) as caught:
        parse(question_id, text, today, answers)
    assert caught.value.field == question_id
    return caught.value


# --- dates -------------------------------------------------------------------------------------


@pytest.mark.parametrize("question_id", DATE_IDS)
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("21/11/2026", dt.date(2026, 11, 21)),
        ("1/11/2026", dt.date(2026, 11, 1)),
        ("01/02/2026", dt.date(2026, 2, 1)),
        ("2026-11-21", dt.date(2026, 11, 21)),
        ("21.11.2026", dt.date(2026, 11, 21)),
        (" 21/11/2026 ", dt.date(2026, 11, 21)),
        ("25/11/2026", TODAY),
        ("21/11", dt.date(2026, 11, 21)),
        ("25/11", TODAY),
        ("01/01", dt.date(2026, 1, 1)),
        ("today", TODAY),
        ("Today", TODAY),
        ("aujourd'hui", TODAY),
        ("Aujourd'hui", TODAY),
        ("aujourd\u2019hui", TODAY),
        ("yesterday", TODAY - dt.timedelta(days=1)),
        ("hier", TODAY - dt.timedelta(days=1)),
        ("Hier", TODAY - dt.timedelta(days=1)),
    ],
)
def test_dates(question_id: str, text: str, expected: dt.date) -> None:
    assert parse(question_id, text) == expected


def test_day_month_at_the_turn_of_the_year_is_last_year() -> None:
    today = dt.date(2027, 1, 2)
    assert parse("index_date", "31/12", today) == dt.date(2026, 12, 31)
    assert parse("index_date", "02/01", today) == dt.date(2027, 1, 2)
    assert parse("index_date", "01/01", today) == dt.date(2027, 1, 1)
    # Last year's 03/01 is a year ago, not the turn of the year: refused, never guessed.
    assert rejects("index_date", "03/01", today).code == "day_month_tomorrow"


def test_a_day_month_still_to_come_is_refused_with_the_reason() -> None:
    """Issue 13: on 29/11/2026 `30/11` once became 30/11/2025 and excluded the patient."""
    today = dt.date(2026, 11, 29)
    tomorrow = rejects("admission_date", "30/11", today)
    assert tomorrow.code == "day_month_tomorrow"
    assert tomorrow.params["day_month"] == "30/11"
    later = rejects("admission_date", "11/12", today)
    assert later.code == "day_month_future"
    assert later.params["date"] == dt.date(2026, 12, 11)
    assert parse("admission_date", "29/11", today) == today
    assert parse("admission_date", "28/11", today) == dt.date(2026, 11, 28)


def test_day_month_last_year_only_within_31_days() -> None:
    today = dt.date(2027, 1, 5)
    assert parse("index_date", "28/12", today) == dt.date(2026, 12, 28)
    assert parse("index_date", "05/12", today) == dt.date(2026, 12, 5)  # 31 days ago
    assert rejects("index_date", "04/12", today).code == "day_month_future"  # 32 days
    today = dt.date(2027, 1, 31)
    assert parse("index_date", "31/12", today) == dt.date(2026, 12, 31)  # exactly 31 days
    assert rejects("index_date", "30/12", today).code == "day_month_future"


def test_leap_day_typed_without_a_year() -> None:
    assert parse("index_date", "29/02", dt.date(2028, 3, 5)) == dt.date(2028, 2, 29)
    error = rejects("index_date", "29/02", dt.date(2027, 3, 1))
    assert error.code == "day_month_not_this_year"
    assert error.params == {"day_month": "29/02", "year": 2027}
    # In January of the year after a leap year, 29/02 is neither this year's nor recent.
    assert rejects("index_date", "29/02", dt.date(2029, 1, 10)).code == "day_month_not_this_year"
    # A leap year's 29/02 seen from early March of that year.
    assert parse("index_date", "29/02", dt.date(2028, 2, 29)) == dt.date(2028, 2, 29)


@pytest.mark.parametrize("text", ["01/01/0026", "21/11/1899", "01/01/2101", "0026-01-01"])
def test_years_outside_1900_2100_are_refused(text: str) -> None:
    assert rejects("index_date", text).code == "year_out_of_range"


@pytest.mark.parametrize("text", ["21/11/26", "21/11/026", "21/11/20261"])
def test_years_are_typed_with_four_digits(text: str) -> None:
    assert rejects("index_date", text).code == "year_four_digits"


@pytest.mark.parametrize(
    ("question_id", "text"),
    [("age", "৪৪"), ("age", "٤٤"), ("weight_kg", "７２"), ("age", "4²"),
     ("index_date", "২১/১১/২০২৬"), ("max_bsa_percent", "১২")],
)  # fmt: skip
def test_non_ascii_digits_are_never_read_as_numbers(question_id: str, text: str) -> None:
    assert rejects(question_id, text).code == "non_ascii_digits"


@pytest.mark.parametrize(
    ("question_id", "text", "expected"),
    [("age", "54%", "years"), ("max_bsa_percent", "35 kg", "%"), ("weight_kg", "72 %", "kg"),
     ("age", "54 kg", "years"), ("weight_kg", "72 ans", "kg")],
)  # fmt: skip
def test_a_unit_that_does_not_fit_the_question_is_refused(
    question_id: str, text: str, expected: str
) -> None:
    error = rejects(question_id, text)
    assert error.code == "wrong_unit"
    assert error.params["expected"] == expected


@pytest.mark.parametrize(
    ("question_id", "text", "expected"),
    [("weight_kg", "72 kg", 72), ("max_bsa_percent", "25 %", 25), ("age", "54 ans", 54),
     ("age", "54 years", 54), ("weight_kg", "72,5kg", 72.5)],
)  # fmt: skip
def test_the_question_s_own_unit_is_accepted(question_id: str, text: str, expected: float) -> None:
    assert parse(question_id, text) == expected


@pytest.mark.parametrize(
    "text",
    ["31/02/2026", "31/02", "30/02", "32/01/2026", "00/11/2026", "21/13/2026", "2026-02-30",
     "2026-13-01", "29/02/2026", "31/04/2026", "abc", "21 novembre", "demain", "tomorrow",
     "21/11/2026/1", "2026/11/21/", "--"],
)  # fmt: skip
def test_impossible_or_unreadable_dates_are_rejected(text: str) -> None:
    assert rejects("index_date", text).code == "not_a_date"


@pytest.mark.parametrize("text", ["26/11/2026", "2026-11-26", "01/01/2027", "2030-01-01"])
@pytest.mark.parametrize("question_id", DATE_IDS)
def test_future_dates_are_rejected(question_id: str, text: str) -> None:
    assert rejects(question_id, text).code == "future_date"


def test_admission_before_index_is_rejected() -> None:
    answers = {"index_date": dt.date(2026, 11, 21)}
    error = rejects("admission_date", "20/11/2026", answers=answers)
    assert error.code == "before_index"
    assert parse("admission_date", "21/11/2026", answers=answers) == dt.date(2026, 11, 21)
    assert parse("admission_date", "22/11/2026", answers=answers) == dt.date(2026, 11, 22)


def test_index_date_after_an_admission_already_given_is_rejected() -> None:
    answers = {"admission_date": dt.date(2026, 11, 21)}
    rejects("index_date", "22/11/2026", answers=answers)
    assert parse("index_date", "21/11/2026", answers=answers) == dt.date(2026, 11, 21)


# --- numbers -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question_id", "text", "expected"),
    [
        ("weight_kg", "72,5", 72.5),
        ("weight_kg", "72.5", 72.5),
        ("weight_kg", "70", 70),
        ("weight_kg", "70 kg", 70),
        ("weight_kg", "70kg", 70),
        ("weight_kg", "70 KG", 70),
        ("weight_kg", "30", 30),
        ("weight_kg", "250", 250),
        ("weight_kg", " 81,5 ", 81.5),
        ("max_bsa_percent", "35 %", 35),
        ("max_bsa_percent", "35%", 35),
        ("max_bsa_percent", "9,9", 9.9),
        ("max_bsa_percent", "0", 0),
        ("max_bsa_percent", "100", 100),
        ("age", "58", 58),
        ("age", "18", 18),
        ("age", "0", 0),
        ("age", "120", 120),
    ],
)
def test_numbers(question_id: str, text: str, expected: float) -> None:
    value = parse(question_id, text)
    assert value == expected
    assert not isinstance(value, bool)


def test_age_is_a_whole_number() -> None:
    value = parse("age", "58")
    assert value == 58
    assert isinstance(value, int)


@pytest.mark.parametrize("question_id", ["age", "weight_kg", "max_bsa_percent"])
@pytest.mark.parametrize("text", ["1e9", "1E2", "NaN", "nan", "inf", "-inf", "Infinity", "abc",
                                  "soixante", "7O", "70,5,2", "0x40", "½"])  # fmt: skip
def test_not_a_number(question_id: str, text: str) -> None:
    assert rejects(question_id, text).code == "not_a_number"


@pytest.mark.parametrize(
    ("question_id", "text"),
    [
        ("weight_kg", "29"),
        ("weight_kg", "29,9"),
        ("weight_kg", "250,1"),
        ("weight_kg", "251"),
        ("weight_kg", "0"),
        ("weight_kg", "-70"),
        ("max_bsa_percent", "100,1"),
        ("max_bsa_percent", "101"),
        ("max_bsa_percent", "-1"),
        ("age", "121"),
        ("age", "-1"),
        ("age", "999"),
    ],
)
def test_out_of_range(question_id: str, text: str) -> None:
    assert rejects(question_id, text).code == "out_of_range"


@pytest.mark.parametrize("text", ["58,5", "58.5", "17,9"])
def test_age_with_a_fraction_is_rejected_as_not_integer(text: str) -> None:
    assert rejects("age", text).code == "not_integer"


@pytest.mark.parametrize("question_id", ALL_IDS)
@pytest.mark.parametrize("text", ["", "   "])
def test_empty_text_is_rejected(question_id: str, text: str) -> None:
    rejects(question_id, text)


# --- yes / no ----------------------------------------------------------------------------------


@pytest.mark.parametrize("question_id", BOOLEAN_IDS)
@pytest.mark.parametrize(
    ("text", "expected"),
    [("yes", True), ("Yes", True), ("YES", True), ("oui", True), ("Oui", True),
     ("no", False), ("No", False), ("non", False), ("NON", False)],
)  # fmt: skip
def test_yes_no(question_id: str, text: str, expected: bool) -> None:
    assert parse(question_id, text) is expected


@pytest.mark.parametrize("question_id", BOOLEAN_IDS)
@pytest.mark.parametrize("text", ["maybe", "peut-être", "pending", "?"])
def test_yes_no_rejects_anything_else(question_id: str, text: str) -> None:
    rejects(question_id, text)


@pytest.mark.parametrize("question_id", TRI_STATE_IDS)
@pytest.mark.parametrize(
    ("text", "expected"),
    [("yes", "yes"), ("oui", "yes"), ("Oui", "yes"), ("no", "no"), ("non", "no"),
     ("pending", "pending"), ("en attente", "pending"), ("En attente", "pending")],
)  # fmt: skip
def test_yes_no_pending(question_id: str, text: str, expected: str) -> None:
    assert parse(question_id, text) == expected


# --- choices -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question_id", "text", "expected"),
    [
        ("sex", "female", "female"),
        ("sex", "Female", "female"),
        ("sex", "femme", "female"),
        ("sex", "Femme", "female"),
        ("sex", "F", "female"),
        ("sex", "male", "male"),
        ("sex", "homme", "male"),
        ("sex", "Homme", "male"),
        ("sex", "H", "male"),
        ("sex", "M", "male"),
        ("ward", "dermatology", "dermatology"),
        ("ward", "dermatologie", "dermatology"),
        ("ward", "Dermatologie", "dermatology"),
        ("ward", "dermato", "dermatology"),
        ("ward", "icu", "icu"),
        ("ward", "ICU", "icu"),
        ("ward", "réanimation", "icu"),
        ("ward", "Réanimation", "icu"),
        ("ward", "reanimation", "icu"),
        ("ward", "réa", "icu"),
        ("ward", "intensive care", "icu"),
        ("ward", "other", "other"),
        ("ward", "autre", "other"),
        ("ward", "Autre", "other"),
        ("sars_cov2_positive", "not_tested", "not_tested"),
        ("sars_cov2_positive", "not tested", "not_tested"),
        ("sars_cov2_positive", "non testé", "not_tested"),
        ("sars_cov2_positive", "non", "no"),
        ("consent", "obtained", "obtained"),
        ("consent", "obtenu", "obtained"),
        ("consent", "Obtenu", "obtained"),
        ("consent", "pending", "pending"),
        ("consent", "en attente", "pending"),
        ("consent", "refused", "refused"),
        ("consent", "refusé", "refused"),
        ("consent_by", "patient", "patient"),
        ("consent_by", "support_person", "support_person"),
        ("consent_by", "support person", "support_person"),
        ("consent_by", "personne de confiance", "support_person"),
    ],
)
def test_choices_with_french_and_english_words(question_id: str, text: str, expected: str) -> None:
    assert parse(question_id, text) == expected


def test_decomposed_accents_are_accepted() -> None:
    # "réanimation" typed with a combining acute accent (NFD), as some keyboards send it.
    assert parse("ward", "re\u0301animation") == "icu"


@pytest.mark.parametrize(
    ("question_id", "text"),
    [("sex", "other"), ("sex", "x"), ("ward", "cardiology"), ("ward", "urgences"),
     ("consent", "yes"), ("consent", "maybe"), ("consent_by", "doctor"),
     ("sars_cov2_positive", "perhaps")],
)  # fmt: skip
def test_unknown_choices_are_rejected(question_id: str, text: str) -> None:
    rejects(question_id, text)


def test_unknown_question_id_is_an_answer_error() -> None:
    with pytest.raises(AnswerError):
        parse("shoe_size", "42")


# --- never anything but AnswerError ------------------------------------------------------------

_TYPED = st.one_of(
    st.text(),
    st.from_regex(
        r"[0-9]{0,5}[ ,./\-]?[0-9]{0,4}[ ,./\-]?[0-9]{0,5} ?(%|kg|ans|a|y)?", fullmatch=True
    ),
    st.sampled_from(["today", "hier", "aujourd'hui", "yesterday", "oui", "non", "en attente"]),
)


@settings(max_examples=60, deadline=None)
@given(
    question_id=st.sampled_from(ALL_IDS),
    text=_TYPED,
    today=st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2100, 12, 31)),
)
def test_parse_text_only_ever_raises_answer_error(
    question_id: str, text: str, today: dt.date
) -> None:
    try:
        value = parse_text(question_id, text, today)
    except AnswerError as error:
        assert error.field == question_id
        return
    # Whatever is accepted is a valid answer: dates not in the future, numbers in range and
    # finite, and it survives the stored form.
    if isinstance(value, dt.date):
        assert value <= today
    if isinstance(value, float):
        assert math.isfinite(value)
    if question_id == "age":
        assert isinstance(value, int) and 0 <= value <= 120
    if question_id == "weight_kg":
        assert 30 <= value <= 250
    if question_id == "max_bsa_percent":
        assert 0 <= value <= 100
    assert from_json(question_id, to_json(value)) == value


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_parse_text_on_arbitrary_text_for_every_question(data: st.DataObject) -> None:
    question_id = data.draw(st.sampled_from(ALL_IDS))
    text = data.draw(st.text(max_size=30))
    with contextlib.suppress(AnswerError):
        parse_text(question_id, text, TODAY, {"index_date": dt.date(2026, 11, 1)})


# --- stored form -------------------------------------------------------------------------------

_VALUES = {
    "age": st.integers(0, 120),
    "weight_kg": st.floats(30, 250, allow_nan=False),
    "max_bsa_percent": st.floats(0, 100, allow_nan=False),
    "index_date": st.dates(),
    "admission_date": st.dates(),
    "sex": st.sampled_from(["female", "male"]),
    "ward": st.sampled_from(["dermatology", "icu", "other"]),
    "consent": st.sampled_from(["obtained", "pending", "refused"]),
    "consent_by": st.sampled_from(["patient", "support_person"]),
    "sars_cov2_positive": st.sampled_from(["yes", "no", "not_tested", "pending"]),
    **{q: st.sampled_from(["yes", "no", "pending"]) for q in TRI_STATE_IDS[:3]},
    **{q: st.booleans() for q in BOOLEAN_IDS},
}


def test_every_question_has_a_value_strategy() -> None:
    assert set(_VALUES) == set(ALL_IDS)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(ALL_IDS).flatmap(lambda q: st.tuples(st.just(q), _VALUES[q])))
def test_to_json_from_json_round_trip(item: tuple[str, object]) -> None:
    question_id, value = item
    stored = to_json(value)
    assert isinstance(stored, str)
    restored = from_json(question_id, stored)
    assert restored == value
    assert type(restored) is type(value) or (
        isinstance(value, int) and not isinstance(value, bool) and isinstance(restored, float)
    )


@pytest.mark.parametrize(
    ("question_id", "value"),
    [("age", 58), ("weight_kg", 72.5), ("weight_kg", 70.3), ("index_date", dt.date(2026, 11, 21)),
     ("diagnosis_confirmed", True), ("social_security", False), ("ward", "icu"),
     ("consent_by", "support_person")],
)  # fmt: skip
def test_round_trip_examples(question_id: str, value: object) -> None:
    restored = from_json(question_id, to_json(value))
    assert restored == value
    assert type(restored) is type(value)


# --- one date/time parser in the core (/d0's time and the planned injection time) ----------


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("21/11/2026 09:15", (dt.date(2026, 11, 21), dt.time(9, 15))),
        ("21/11 9h15", (dt.date(2026, 11, 21), dt.time(9, 15))),
        ("2026-11-21 09:15", (dt.date(2026, 11, 21), dt.time(9, 15))),
        ("2026-11-21T09:15", (dt.date(2026, 11, 21), dt.time(9, 15))),
        ("14:30", (None, dt.time(14, 30))),
        ("14h30", (None, dt.time(14, 30))),
        ("  14 H 30 ", (None, dt.time(14, 30))),
    ],
)
def test_wall_clock_formats(typed: str, expected: tuple[dt.date | None, dt.time]) -> None:
    from conversations.answers import parse_wall_clock

    parsed = parse_wall_clock(typed, dt.date(2026, 11, 22))
    assert parsed is not None and (parsed.day, parsed.time) == expected


@pytest.mark.parametrize(
    "typed",
    ["tomorrow", "31/02/2026 10:00", "25:00", "14:60", "21/11/1800 10:00", "১৪:৩০", "21/11", ""],
)
def test_wall_clock_refuses_what_is_not_a_date_and_time(typed: str) -> None:
    from conversations.answers import parse_wall_clock

    assert parse_wall_clock(typed, dt.date(2026, 11, 22)) is None

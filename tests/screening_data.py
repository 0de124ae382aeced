"""Test data shared across the suites: the answers of an eligible patient, as a clinician
gives them through the bot (`ELIGIBLE_MALE`) and as the core's values (`eligible_answers` in
tests/conversations/support.py)."""

from __future__ import annotations

#: A whole eligible screening (male patient), as a clinician answers it: (a fragment of the
#: question the bot shows, "tap:<button label>" or "type:<text>").
ELIGIBLE_MALE: list[tuple[str, str]] = [
    ("Date of first symptoms", "type:19/11/2026"),
    ("Date of admission", "tap:Yesterday"),
    ("Confirmed SJS", "tap:Yes"),
    ("Age (years)", "type:54"),
    ("Ward", "tap:Intensive care"),
    ("body surface area", "type:35 %"),
    ("Sex", "tap:Male"),
    ("Malignancy", "tap:No"),
    ("HIV", "tap:No"),
    ("hepatitis", "tap:No"),
    ("SARS-CoV-2", "tap:No"),
    ("heart failure", "tap:No"),
    ("epilepsy", "tap:No"),
    ("bone-marrow", "tap:No"),
    ("interventional drug study", "tap:No"),
    ("Deprived of liberty", "tap:No"),
    ("hampering follow-up", "tap:No"),
    ("tutorship", "tap:No"),
    ("psychiatric care", "tap:No"),
    ("social security", "tap:Yes"),
    ("Written consent", "tap:Obtained"),
    ("Who signed", "tap:The patient"),
    ("Weight (kg)", "type:68"),
]


def eligible_script(**answers: str) -> list[tuple[str, str]]:
    """`ELIGIBLE_MALE` with some answers replaced, keyed by question fragment."""
    unknown = set(answers) - {label for label, _ in ELIGIBLE_MALE}
    assert not unknown, unknown
    return [(label, answers.get(label, how)) for label, how in ELIGIBLE_MALE]

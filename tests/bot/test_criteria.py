"""One vocabulary per criterion (bot/criteria.py + bot/texts/): every verdict sentence in
both languages, failing and pending, with the value and the rule; short names that read in
the direction of their question; the FR/EN catalogue parity, module by module over the whole of bot/texts/."""

from __future__ import annotations

import datetime as dt
import importlib
import pkgutil
import re
import string
from types import ModuleType

import pytest

import bot.texts
from bot.criteria import (
    criterion_question,
    criterion_short_name,
    short_names,
    verdict_sentence,
    verdict_sentences,
)
from bot.present import echo_text, error_text, number_text
from bot.texts import EN, FR, MODULES, assemble
from conversations.answers import AnswerError, parse_text
from conversations.eligibility import EXCLUDING_WHEN_TRUE, Verdict, evaluate
from conversations.protocol import D0_WINDOW, QUESTION_IDS, QUESTIONS, Kind
from tests.conftest import day
from tests.conversations.support import NOW, PARIS, eligible_answers

#: Each criterion failing: (answer overrides, now, French sentence, English sentence).
FAILING: dict[str, tuple[dict[str, object], dt.datetime, str, str]] = {
    "age": ({"age": 80}, NOW, "Âge 80 ans — le protocole inclut de 18 à 75 ans",
            "Age 80 years — the protocol includes 18 to 75 years"),
    "admission_date": (
        {"index_date": dt.date(2026, 11, 8), "admission_date": dt.date(2026, 11, 20)}, NOW,
        "Admission 12 jours après la date index (10 au plus)",
        "Admission 12 days after the index date (at most 10)"),
    D0_WINDOW: ({"index_date": dt.date(2026, 11, 22), "admission_date": dt.date(2026, 11, 24)},
                dt.datetime(2026, 11, 29, 10, tzinfo=PARIS),
                f"Fenêtre J0 close le {day(6)} à 23:59",
                f"D0 window closed on {day(6)} at 23:59"),
    "diagnosis_confirmed": ({"diagnosis_confirmed": False}, NOW, "Diagnostic non confirmé",
                            "Diagnosis not confirmed"),
    "ward": ({"ward": "other"}, NOW, "Service : autre (dermatologie ou réanimation requis)",
             "Ward: other (dermatology or intensive care required)"),
    "max_bsa_percent": (
        {"max_bsa_percent": 8.0}, dt.datetime(2026, 11, 30, 10, tzinfo=PARIS),
        "SC décollée maximale 8 % (&lt; 10 %) après la période d'observation",
        "Highest detached BSA 8 % (&lt; 10 %) after the observation period"),
    "pregnant_or_breastfeeding": ({"pregnant_or_breastfeeding": "yes"}, NOW,
                                  "Grossesse ou allaitement en cours",
                                  "Pregnant or breastfeeding"),
    "hiv_positive": ({"hiv_positive": "yes"}, NOW, "Sérologie VIH positive",
                     "Positive HIV serology"),
    "active_hepatitis_b_or_c": ({"active_hepatitis_b_or_c": "yes"}, NOW,
                                "Hépatite B ou C active", "Active hepatitis B or C"),
    "sars_cov2_positive": ({"sars_cov2_positive": "yes"}, NOW,
                           "ARN SARS-CoV-2 détecté à l'admission",
                           "SARS-CoV-2 RNA detected on admission"),
    "psychiatric_care_l1121_6": (
        {"psychiatric_care_l1121_6": True}, NOW,
        "Soins psychiatriques sans consentement (SDT, SDRE ; art. L1121-6 CSP)",
        "Under psychiatric care without consent (SDT, SDRE; art. L1121-6 CSP)"),
    "social_security": ({"social_security": False}, NOW,
                        "Non affilié à un régime de sécurité sociale",
                        "Not affiliated to a social security scheme"),
    "consent": ({"consent": "refused", "consent_by": None}, NOW, "Consentement refusé",
                "Consent refused"),
}  # fmt: skip

#: Each criterion that can be pending: (overrides, French, English).
PENDING: dict[str, tuple[dict[str, object], str, str]] = {
    "max_bsa_percent": ({"max_bsa_percent": 8.5},
                        f"SC décollée maximale 8,5 % (&lt; 10 %) : en observation jusqu'au {day(7)}",
                        f"Highest detached BSA 8.5 % (&lt; 10 %): observed until {day(7)}"),
    "pregnant_or_breastfeeding": ({"pregnant_or_breastfeeding": "pending"},
                                  "Test de grossesse : résultat attendu",
                                  "Pregnancy test: result awaited"),
    "hiv_positive": ({"hiv_positive": "pending"}, "Sérologie VIH : résultat attendu",
                     "HIV serology: result awaited"),
    "active_hepatitis_b_or_c": ({"active_hepatitis_b_or_c": "pending"},
                                "Sérologies hépatites B et C : résultat attendu",
                                "Hepatitis B and C serology: result awaited"),
    "sars_cov2_positive": ({"sars_cov2_positive": "pending"},
                           "RT-PCR SARS-CoV-2 : résultat attendu",
                           "SARS-CoV-2 RT-PCR: result awaited"),
    "consent": ({"consent": "pending", "consent_by": None}, "Consentement : en attente",
                "Consent: pending"),
}  # fmt: skip


@pytest.mark.parametrize("criterion", sorted(FAILING))
def test_every_failing_verdict_states_the_value_and_the_rule(criterion: str) -> None:
    overrides, now, french, english = FAILING[criterion]
    answers = eligible_answers(**overrides)
    assert criterion in evaluate(answers, now, PARIS).failed  # the case really fails
    assert verdict_sentence("fr", criterion, answers, now, PARIS) == french
    assert verdict_sentence("en", criterion, answers, now, PARIS) == english


@pytest.mark.parametrize("criterion", sorted(EXCLUDING_WHEN_TRUE))
def test_every_yes_excluding_criterion_has_its_sentence(criterion: str) -> None:
    answers = eligible_answers(**{criterion: True})
    for lang in ("fr", "en"):
        sentence = verdict_sentence(lang, criterion, answers, NOW, PARIS)
        assert sentence == (FR if lang == "fr" else EN)[f"v.{criterion}.failed"]


@pytest.mark.parametrize("criterion", sorted(PENDING))
def test_every_pending_verdict_says_what_is_awaited(criterion: str) -> None:
    overrides, french, english = PENDING[criterion]
    answers = eligible_answers(**overrides)
    assert criterion in evaluate(answers, NOW, PARIS).pending
    assert verdict_sentence("fr", criterion, answers, NOW, PARIS) == french
    assert verdict_sentence("en", criterion, answers, NOW, PARIS) == english


def test_every_criterion_has_a_question_and_a_short_name_in_both_languages() -> None:
    for criterion in (*QUESTION_IDS, D0_WINDOW):
        for lang in ("fr", "en"):
            assert criterion_short_name(lang, criterion) != criterion
            assert criterion_question(lang, criterion) != f"q.{criterion}"
            # A question never carries its option list: options are buttons.
            assert " / " not in criterion_question(lang, criterion), criterion


def _words(text: str) -> list[str]:
    """The words of a text that carry meaning (4 letters or more), lowercased, elisions split."""
    cleaned = re.sub(r"[^\w-]+", " ", text.lower().replace("'", " ").replace("’", " "))
    return [w for w in cleaned.split() if len(w) >= 4]


YES_NO = [q.id for q in QUESTIONS if q.kind is Kind.BOOLEAN or "yes" in q.choices]


@pytest.mark.parametrize("criterion", YES_NO)
def test_no_short_name_negates_its_question(criterion: str) -> None:
    """A short name reads in the direction of its question (issue 25): every word of it is a
    word of the question, so that "Non" after it answers the question — "Situation
    compromettant le suivi : Non", never "Faisabilité du suivi : Non"."""
    for lang in ("fr", "en"):
        name = criterion_short_name(lang, criterion)
        question = criterion_question(lang, criterion).lower()
        question_words = set(_words(question))
        for word in _words(name):
            assert word in question_words, (lang, criterion, name, word)


def test_short_names_read_as_the_question_the_coordinator_met() -> None:
    assert criterion_short_name("fr", "compliance_concern") == "Situation compromettant le suivi"
    assert criterion_short_name("fr", "active_hepatitis_b_or_c") == "Hépatite B ou C active"
    assert criterion_short_name("en", "compliance_concern") == "Situation hampering follow-up"
    assert criterion_short_name("en", "active_hepatitis_b_or_c") == "Active hepatitis B or C"


def test_lists_follow_the_question_order_not_the_alphabet() -> None:
    answers = eligible_answers(hiv_positive="pending", consent="pending", consent_by=None,
                               max_bsa_percent=5.0)  # fmt: skip
    pending = evaluate(answers, NOW, PARIS).pending
    assert pending == ("consent", "hiv_positive", "max_bsa_percent")  # `check`: alphabetical
    assert short_names("en", pending) == "Detached BSA; Positive HIV serology; Consent"
    text = verdict_sentences("en", pending, answers, NOW, PARIS)
    assert text.index("BSA") < text.index("HIV") < text.index("Consent")


def test_the_psychiatric_question_says_without_consent() -> None:
    assert "sans consentement (SDT, SDRE" in criterion_question("fr", "psychiatric_care_l1121_6")
    assert "without consent (SDT, SDRE" in criterion_question("en", "psychiatric_care_l1121_6")


def test_numbers_and_dates_as_people_read_them() -> None:
    assert number_text("fr", 62.2) == "62,2" and number_text("en", 62.2) == "62.2"
    assert echo_text("fr", "weight_kg", 72.5) == "72,5 kg"
    assert echo_text("fr", "max_bsa_percent", 25.0) == "25 %"
    assert echo_text("fr", "admission_date", dt.date(2025, 11, 30)) == "30/11/2025 (dimanche)"
    assert echo_text("en", "admission_date", dt.date(2025, 11, 30)) == "30/11/2025 (Sunday)"
    with pytest.raises(AnswerError) as caught:
        parse_text("admission_date", "2026-11-30", dt.date(2026, 11, 29))
    assert error_text("fr", caught.value) == (
        "la date ne peut pas être dans le futur (aujourd'hui : 29/11/2026)"
    )
    with pytest.raises(AnswerError) as caught:
        parse_text("admission_date", "30/11", dt.date(2026, 11, 29))
    assert error_text("fr", caught.value) == "30/11 est demain — tapez la date complète"
    assert error_text("en", caught.value) == "30/11 is tomorrow — type the full date"


def _placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_french_and_english_catalogues_have_the_same_keys_and_placeholders() -> None:
    assert set(FR) == set(EN), set(FR) ^ set(EN)
    different = {k for k in FR if _placeholders(FR[k]) != _placeholders(EN[k])}
    assert not different, different


def _text_modules() -> list[ModuleType]:
    """Every module of the bot/texts/ package, found on disk (not from its own list)."""
    return [
        importlib.import_module(f"bot.texts.{info.name}")
        for info in pkgutil.iter_modules(bot.texts.__path__)
    ]


@pytest.mark.parametrize("module", _text_modules(), ids=lambda module: module.__name__)
def test_each_texts_module_defines_the_same_keys_in_french_and_english(
    module: ModuleType,
) -> None:
    assert module.FR, module.__name__
    assert set(module.FR) == set(module.EN), set(module.FR) ^ set(module.EN)
    different = {k for k in module.FR if _placeholders(module.FR[k]) != _placeholders(module.EN[k])}
    assert not different, different


def test_every_texts_module_is_in_the_catalogue() -> None:
    # A module left out of MODULES would have its texts missing from t(): shown as raw keys.
    assert {m.__name__ for m in _text_modules()} == {m.__name__ for m in MODULES}
    assert len(FR) == sum(len(m.FR) for m in MODULES)


def test_a_key_defined_by_two_modules_stops_the_import() -> None:
    first = ModuleType("bot.texts.first")
    first.FR = {"x.shared": "un", "x.own": "deux"}  # type: ignore[attr-defined]
    second = ModuleType("bot.texts.second")
    second.FR = {"x.shared": "autre"}  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match=r"'x\.shared'.*bot\.texts\.first.*bot\.texts\.second"):
        assemble((first, second), "FR")
    assert assemble((first,), "FR") == {"x.shared": "un", "x.own": "deux"}


def test_every_verdict_template_has_both_languages() -> None:
    verdicts = [k for k in FR if k.startswith("v.") and k != "v.missing"]
    assert {k.split(".")[2] for k in verdicts} == {Verdict.FAILED.value, Verdict.PENDING.value}
    for key in verdicts:
        assert FR[key].strip() and EN[key].strip() and FR[key] != EN[key], key

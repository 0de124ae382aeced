"""Issue 22 through a real Bot API HTTP exchange (the fake server), on a French site, as a
coordinator types it: a corrected exclusion reopens the screening (never a dead end), the dose
given at D0 is a fact a weight correction never rewrites, /correct reads a unit like the question
does, knows a criterion by its French label and lists the valid names, /adduser takes a French
role, and /screen with a screening open asks before opening anything (DESIGN.md, "After day one
the record stays true"). Dates typed are computed from the bot's clock (`day(…, of=clock.now)`).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

from bot.flows import injection  # noqa: F401  (registers /d0 and its buttons)
from tests.conftest import ADMIN, TEAM_CHAT, FakeClock, day
from tests.e2e.conftest import CLINICIAN, COORDINATOR, Clinician, add_user, answer_all
from tests.e2e.fake_telegram import FakeTelegram

#: A second coordinator: told of what another coordinator's correction changed.
COORDINATOR_2 = 3004


class Francophone(Clinician):
    """A person whose Telegram speaks French, on a French site (LYSYME_LANGUAGE=fr)."""

    async def command(self, text: str, expect: str | None = None) -> dict[str, Any]:
        mark = self.tg.mark()
        self.tg.send_text(self.user_id, text, language_code="fr")
        call = await self.tg.wait_for_message(self.user_id, contains=expect, after_index=mark)
        await self.tg.wait_until_idle(quiet=0.05)
        return dict(call.result)

    async def type(self, text: str, expect: str | None = None) -> str:
        return str((await self.command(text, expect)).get("text", ""))


def eligible_fr(now: dt.datetime, **replaced: str) -> list[tuple[str, str]]:
    """A whole eligible screening (male patient) as a French clinician answers it on a bot whose
    clock reads `now`: first symptoms two days before, admission yesterday, 68 kg."""
    script = [
        ("Date des premiers symptômes", f"type:{day(-2, of=now)}"),
        ("Date d'admission", "tap:Hier"),
        ("Diagnostic confirmé", "tap:Oui"),
        ("Âge (ans)", "type:54"),
        ("Service", "tap:Réanimation"),
        ("Surface corporelle", "type:35 %"),
        ("Sexe", "tap:Homme"),
        ("Cancer", "tap:Non"),
        ("Sérologie VIH", "tap:Non"),
        ("Hépatite B ou C", "tap:Non"),
        ("SARS-CoV-2", "tap:Non"),
        ("Insuffisance cardiaque", "tap:Non"),
        ("Épilepsie", "tap:Non"),
        ("allogreffe", "tap:Non"),
        ("recherche interventionnelle", "tap:Non"),
        ("Privé de liberté", "tap:Non"),
        ("compromettant le suivi", "tap:Non"),
        ("tutelle", "tap:Non"),
        ("Soins psychiatriques", "tap:Non"),
        ("sécurité sociale", "tap:Oui"),
        ("Consentement écrit", "tap:Obtenu"),
        ("Qui a signé", "tap:Le patient"),
        ("Poids (kg)", "type:68"),
    ]
    unknown = set(replaced) - {label for label, _ in script}
    assert not unknown, unknown
    return [(label, replaced.get(label, how)) for label, how in script]


async def french_team(tg: FakeTelegram, start_bot: Any, *coordinators: int) -> Francophone:
    """A French site: the bot started, a clinician and the coordinators added by the admin."""
    await start_bot(LYSYME_LANGUAGE="fr")
    await add_user(tg, CLINICIAN, "clinicien")
    for coordinator in coordinators:
        await add_user(tg, coordinator, "coordinateur")
    return Francophone(tg, CLINICIAN)


async def screened_eligible(
    doc: Francophone,
    clock: FakeClock,
    replaced: dict[str, str] | None = None,
    scorten: tuple[str, ...] = (),
) -> None:
    """HMN-001 screened eligible (`eligible_fr`, some answers replaced); the SCORTEN values
    typed (in order), or the SCORTEN questions left with /cancel."""
    await doc.command("/screen", expect="HMN-001")
    await answer_all(doc, eligible_fr(clock.now, **(replaced or {})))
    await doc.tap("Confirmer", expect="tous les critères sont remplis")
    if not scorten:
        await doc.command("/cancel", expect="clos")
        return
    for value in scorten[:-1]:
        await doc.type(value, expect="HMN-001")
    await doc.type(scorten[-1], expect="SCORTEN")


def texts(tg: FakeTelegram, chat: int, after: int = 0) -> list[str]:
    """What a chat received (text as read, tags removed by the fake server), after a mark."""
    return [
        str(c.result.get("text", ""))
        for c in tg.calls("sendMessage")
        if c.index >= after and c.ok and c.result["chat"]["id"] == chat
    ]


async def csv_row(tg: FakeTelegram, coordinator: Francophone) -> dict[str, str]:
    """The one patient's row of the CSV export, as /export sends it."""
    await coordinator.command("/export", expect="format")
    mark = tg.mark()
    await coordinator.tap("CSV")
    sent = await tg.wait_for_call("sendDocument", after_index=mark, timeout=20)
    (row,) = csv.DictReader(io.StringIO(sent.files["document"][1].decode("utf-8")))
    return row


def recorded(record: str) -> str:
    """A /patient record up to its reminders: what is recorded about the patient (the reminders
    name their recipients, by name once the bot has seen them)."""
    return record.split("\nRappels")[0]


def buttons(message: dict[str, Any]) -> list[str]:
    return [
        b["text"] for row in message.get("reply_markup", {}).get("inline_keyboard", []) for b in row
    ]


# --- 1. a corrected exclusion is no dead end ---------------------------------------------------


async def test_a_corrected_hiv_exclusion_reopens_the_screening_and_it_can_be_finished(
    tg: FakeTelegram, start_bot: Any, clock: FakeClock
) -> None:
    doc = await french_team(tg, start_bot, COORDINATOR, COORDINATOR_2)
    await doc.command("/screen", expect="HMN-001")
    script = eligible_fr(clock.now, **{"Sérologie VIH": "tap:Oui"})
    upto = [label for label, _ in script].index("Sérologie VIH") + 1
    await answer_all(doc, script[:upto])
    assert "Cette réponse exclut le patient" in doc.prompt()["text"]
    await doc.tap("Confirmer l'exclusion", expect="non éligible")

    clock.advance(hours=2)
    coord = Francophone(tg, COORDINATOR)
    mark = tg.mark()
    reply = await coord.command(
        "/correct HMN-001 hiv_positive non erreur de saisie", expect="rouvert"
    )
    text = reply["text"]
    assert "Sérologie VIH positive : Oui → Non" in text
    assert "Résultat : non éligible → incomplet" in text
    assert "Le dépistage de HMN-001 est rouvert (en cours, résultat incomplet)" in text
    assert "/resume HMN-001" in text
    # The unasked questions are missing answers, never failed criteria.
    assert "Réponses manquantes : Hépatite B ou C active;" in text
    assert "non remplis" not in text

    # The screening clinician and every coordinator are told, privately; the team chat never
    # reads an answer value.
    for person in (CLINICIAN, COORDINATOR, COORDINATOR_2):
        notice = await tg.wait_for_message(person, contains="levé le critère", after_index=mark)
        assert "/resume HMN-001" in notice.result["text"]
    assert not any("VIH" in m for m in texts(tg, TEAM_CHAT, mark))

    # /status lists it among the open patients, at its first unanswered question.
    status = (await coord.command("/status", expect="Patients en cours"))["text"]
    assert "HMN-001" in status and "en dépistage 1" in status
    assert "non éligibles 0" in status
    assert "Question en cours : Hépatite B ou C active" in status
    row = await csv_row(tg, coord)  # the export agrees: open, incomplete, no failed criterion
    assert (row["status"], row["outcome"], row["failed"]) == ("in_screening", "incomplete", "")

    # /resume asks the remaining questions, in order, and the screening can be finished.
    clock.advance(minutes=30)
    await doc.command("/resume HMN-001", expect="Reprise du dépistage")
    prompt = (await doc.next_prompt())["text"]
    assert "HMN-001 · question 10/23" in prompt  # a man: no pregnancy question
    assert "Hépatite B ou C active" in prompt
    await answer_all(doc, script[upto:])
    summary = doc.prompt()["text"]
    assert "Sérologie VIH positive : Non" in summary
    await doc.tap("Confirmer", expect="tous les critères sont remplis")
    status = (await coord.command("/status", expect="Patients en cours"))["text"]
    assert "en dépistage 0" in status and "éligibles en attente de J0 1" in status
    record = (await coord.command("/patient HMN-001", expect="HMN-001"))["text"]
    assert "Résultat : éligible" in record
    assert "Oui → Non (correction" in record and "motif : erreur de saisie" in record


# --- 2. the dose given at D0 is a fact ---------------------------------------------------------


async def test_a_weight_correction_after_d0_never_rewrites_the_dose_given(
    tg: FakeTelegram, start_bot: Any, clock: FakeClock
) -> None:
    doc = await french_team(tg, start_bot, COORDINATOR, COORDINATOR_2)
    await screened_eligible(doc, clock, {"Poids (kg)": "type:72,5"})
    clock.advance(hours=1)
    await doc.command("/d0 HMN-001", expect="enregistrer l'injection")
    await doc.tap("L'investigateur confirme", expect="injection enregistrée")

    coord = Francophone(tg, COORDINATOR)
    clock.advance(hours=20)
    mark = tg.mark()
    text = (await coord.command("/correct HMN-001 weight_kg 75,5 balance recalibrée",
                                expect="correction enregistrée"))["text"]  # fmt: skip
    assert "Poids : 72,5 kg → 75,5 kg" in text
    assert "Écart de dose" not in text  # 145 given, 151 planned: 4 %, within 10 %
    record = (await coord.command("/patient HMN-001", expect="HMN-001"))["text"]
    assert "Dose injectée à J0 : 145 × 10⁶ cellules (poids retenu 72,5 kg)" in record
    assert f"éligibilité confirmée par {CLINICIAN}" in record
    assert "Dose prévue au poids actuel : 151 × 10⁶ cellules" in record
    assert "Écart de dose" not in record

    # 82 kg: 164 × 10⁶ expected, 145 × 10⁶ given — 11,6 % below: a dose deviation.
    text = (await coord.command("/correct HMN-001 poids 82 repesé", expect="correction"))["text"]
    assert "⚠️ Écart de dose : 145 × 10⁶ cellules injectées, 164 × 10⁶ attendues" in text
    assert "11,6 %" in text
    record = (await coord.command("/patient HMN-001", expect="HMN-001"))["text"]
    assert "Dose injectée à J0 : 145 × 10⁶ cellules (poids retenu 72,5 kg)" in record
    assert "⚠️ Écart de dose" in record
    notice = await tg.wait_for_message(COORDINATOR_2, contains="écart de dose", after_index=mark)
    assert "145 × 10⁶" in notice.result["text"] and "164 × 10⁶" in notice.result["text"]
    assert not any("Écart" in m or "écart" in m for m in texts(tg, TEAM_CHAT, mark))

    row = await csv_row(tg, coord)
    assert (row["dose_given_cells"], row["d0_weight_kg"]) == ("145000000", "72.5")
    assert row["dose_cells"] == "164000000"  # the planned dose, at the corrected weight
    assert (row["dose_deviation"], row["dose_deviation_pct"]) == ("true", "-11.6")


# --- 3. /correct reads a unit like the question ------------------------------------------------


async def test_correct_converts_glucose_in_g_per_l_and_keeps_the_reason(
    tg: FakeTelegram, start_bot: Any, clock: FakeClock
) -> None:
    doc = await french_team(tg, start_bot, COORDINATOR)
    # Age 54, BSA 35 %, heart rate 130, urea 12, bicarbonate 18, glucose 16 mmol/L: SCORTEN 6/7.
    await screened_eligible(doc, clock, scorten=("130", "12", "18", "16"))
    coord = Francophone(tg, COORDINATOR)
    before = recorded((await coord.command("/patient HMN-001", expect="HMN-001"))["text"])
    assert "SCORTEN : 6/7" in before

    # No unit, and 2,6 mmol/L is no plausible glucose: the unit is asked for, nothing written.
    reply = (await coord.command("/correct HMN-001 scorten:glucose 2,6 vérif",
                                 expect="rien n'est modifié"))["text"]  # fmt: skip
    assert "2,6 mmol/L n'est pas plausible pour la glycémie, 2,6 g/L l'est" in reply
    assert "/correct HMN-001 glucose 2,6 g/L motif" in reply
    assert recorded((await coord.command("/patient HMN-001", expect="HMN-001"))["text"]) == before

    text = (await coord.command("/correct HMN-001 scorten:glucose 2,6 g/L vérif",
                                expect="correction enregistrée"))["text"]  # fmt: skip
    assert "16 mmol/L → 14,43 mmol/L" in text
    record = (await coord.command("/patient HMN-001", expect="HMN-001"))["text"]
    assert "16 mmol/L → 14,43 mmol/L (correction" in record
    reasons = [line.strip() for line in record.splitlines() if "motif :" in line]
    assert reasons == ["motif : vérif"]  # the unit is not part of the reason
    assert "SCORTEN : 6/7" in record  # 14.43 > 14 mmol/L still scores (never 2.6 mmol/L: 5/7)
    # The French name of the measure works as well as its id.
    text = (await coord.command("/correct HMN-001 glycémie 15 mmol/L contrôle",
                                expect="correction enregistrée"))["text"]  # fmt: skip
    assert "Glycémie (mmol/L) : 14,43 mmol/L → 15 mmol/L" in text
    assert "SCORTEN : 6/7 — mortalité prédite 95,1 %" in text


# --- 4. /correct speaks the user's words -------------------------------------------------------


async def test_correct_by_the_french_label_lists_valid_names_and_adduser_takes_french_roles(
    tg: FakeTelegram, start_bot: Any, clock: FakeClock
) -> None:
    doc = await french_team(tg, start_bot, COORDINATOR)
    await screened_eligible(doc, clock)
    coord = Francophone(tg, COORDINATOR)
    text = (await coord.command("/correct HMN-001 poids 75 erreur", expect="correction"))["text"]
    assert "HMN-001 — Poids : 68 kg → 75 kg (correction enregistrée)" in text
    record = (await coord.command("/patient HMN-001", expect="HMN-001"))["text"]
    assert "150 × 10⁶ cellules" in record  # 2 × 10⁶/kg × 75 kg

    mark = tg.mark()
    text = (await coord.command("/correct HMN-001 taille 170 erreur", expect="Nom inconnu"))["text"]
    assert "Nom inconnu : taille. Noms valides (libellé ou identifiant) :" in text
    assert "Poids (weight_kg)" in text and "Âge (age)" in text
    after = (await coord.command("/patient HMN-001", expect="HMN-001"))["text"]
    assert recorded(after) == recorded(record)
    assert not texts(tg, TEAM_CHAT, mark)

    admin = Francophone(tg, ADMIN)
    newcomer = 12345
    reply = await admin.command(f"/adduser {newcomer} coordinateur", expect=str(newcomer))
    assert f"Utilisateur {newcomer} : coordinateur." in reply["text"]
    # The new coordinator can do what a coordinator does.
    listed = await Francophone(tg, newcomer).command("/status", expect="Patients en cours")
    assert "HMN-001" in listed["text"]


# --- 5. /screen asks first -------------------------------------------------------------------


async def test_screen_with_a_screening_open_asks_first_and_opens_nothing_until_a_tap(
    tg: FakeTelegram, start_bot: Any, clock: FakeClock
) -> None:
    doc = await french_team(tg, start_bot, COORDINATOR)
    coord = Francophone(tg, COORDINATOR)
    await doc.command("/screen", expect="HMN-001")
    await answer_all(doc, eligible_fr(clock.now)[:4])  # up to the age: HMN-001 in screening
    assert "Service" in doc.prompt()["text"]

    clock.advance(minutes=5)
    mark = tg.mark()
    ask = await doc.command("/screen", expect="dépistage en cours")
    assert "Vous avez un dépistage en cours : HMN-001" in ask["text"]
    assert "Rien n'est ouvert avant votre choix" in ask["text"]
    assert buttons(ask) == ["Continuer HMN-001", "Ouvrir un nouveau dépistage"]
    assert not any("HMN-002" in m for m in texts(tg, CLINICIAN, mark))
    status = (await coord.command("/status", expect="Patients en cours"))["text"]
    assert "en dépistage 1" in status and "HMN-002" not in status

    # "Continue HMN-001": the screening goes on where it was.
    await doc.tap("Continuer HMN-001", expect="Reprise du dépistage")
    assert "Service" in (await doc.next_prompt())["text"]
    await doc.tap("Réanimation", expect="Surface")
    assert "HMN-002" not in "\n".join(texts(tg, CLINICIAN, mark))

    # Asked again, "open a new one": HMN-002 opens, HMN-001 stays in screening.
    await doc.command("/screen", expect="dépistage en cours")
    await doc.tap("Ouvrir un nouveau dépistage", expect="HMN-002")
    assert "Date des premiers symptômes" in (await doc.next_prompt())["text"]
    status = (await coord.command("/status", expect="Patients en cours"))["text"]
    assert "en dépistage 2" in status and "HMN-001" in status and "HMN-002" in status

"""Every text the bot shows, in French and English — one dictionary per language.

Question labels keep the protocol's words (DESIGN.md table) so a clinician recognises each
criterion; a short hint may follow on its own line. Messages use HTML parse mode: variables are
escaped by `t()`, so nothing a user typed can inject markup.
"""

from __future__ import annotations

import html
from typing import Any

FR: dict[str, str] = {
    # questions (DESIGN.md labels)
    "q.age": "Âge (ans)",
    "q.sex": "Sexe",
    "q.index_date": "Date des premiers symptômes (date index)",
    "q.admission_date": "Date d'admission",
    "q.diagnosis_confirmed": "Diagnostic confirmé de SSJ, chevauchement SSJ/NET ou NET",
    "q.ward": "Service d'hospitalisation",
    "q.max_bsa_percent": "Surface corporelle décollée ou décollable maximale (%)",
    "q.pregnant_or_breastfeeding": "Grossesse ou allaitement",
    "q.malignancy_10y_or_metastasis": "Cancer dans les 10 dernières années ou métastases",
    "q.hiv_positive": "Sérologie VIH positive",
    "q.active_hepatitis_b_or_c": "Hépatite B ou C active",
    "q.sars_cov2_positive": "ARN SARS-CoV-2 détecté à l'admission (RT-PCR)",
    "q.decompensated_heart_failure": "Insuffisance cardiaque décompensée",
    "q.uncontrolled_epilepsy": "Épilepsie non contrôlée",
    "q.prior_allogeneic_bmt": "Antécédent d'allogreffe de moelle osseuse",
    "q.other_interventional_trial": (
        "Participation à une autre recherche interventionnelle sur un médicament"
    ),
    "q.deprived_of_liberty": (
        "Privé de liberté par décision judiciaire ou administrative, ou sous protection de justice"
    ),
    "q.compliance_concern": (
        "Situation psychologique, familiale, sociale ou géographique compromettant le suivi"
    ),
    "q.tutorship_or_curatorship": "Sous tutelle ou curatelle",
    "q.psychiatric_care_l1121_6": (
        "Soins psychiatriques sans consentement (SDT, SDRE ; art. L1121-6 CSP)"
    ),
    "q.social_security": "Affilié à un régime de sécurité sociale",
    "q.consent": "Consentement écrit (patient ou personne de confiance)",
    "q.consent_by": "Qui a signé le consentement ?",
    "q.weight_kg": "Poids (kg)",
    "q.d0_window": "Fenêtre J0 (injection au plus tard 3 jours après l'admission)",
    # hints
    "h.age": "Tapez un nombre entier, par ex. 54.",
    "h.index_date": "Tapez une date (21/11/2026, 21/11) ou touchez un bouton.",
    "h.admission_date": (
        "Admission dans le service (dermatologie ou réanimation) qui traite le SSJ/NET ; "
        "date du transfert si le patient vient d'ailleurs ; date des premiers symptômes si la "
        "réaction a débuté dans ce service."
    ),
    "h.psychiatric_care_l1121_6": (
        "Soins sans consentement : à la demande d'un tiers (SDT) ou sur décision du représentant "
        "de l'État (SDRE). Un suivi psychiatrique habituel, consenti, n'exclut pas : répondez Non."
    ),
    "h.max_bsa_percent": "Tapez un pourcentage, par ex. 35 ou 12,5.",
    "h.weight_kg": "Tapez le poids en kg, par ex. 72,5.",
    # choices
    "c.yes": "Oui",
    "c.no": "Non",
    "c.pending": "En attente",
    "c.female": "Femme",
    "c.male": "Homme",
    "c.dermatology": "Dermatologie",
    "c.icu": "Réanimation",
    "c.other": "Autre",
    "c.not_tested": "Non testé",
    "c.obtained": "Obtenu",
    "c.refused": "Refusé",
    "c.patient": "Le patient",
    "c.support_person": "La personne de confiance",
    "c.today": "Aujourd'hui",
    "c.yesterday": "Hier",
    "c.alive": "Vivant",
    "c.dead": "Décédé",
    "c.still_hospitalised": "Toujours hospitalisé",
    "c.not_available": "Non disponible",
    # statuses and outcomes
    "status.in_screening": "en cours de dépistage",
    "status.screened": "dépisté",
    "status.injected": "injecté",
    "status.withdrawn": "retiré",
    "status.window_missed": "fenêtre J0 dépassée",
    "status.abandoned": "abandonné",
    "outcome.eligible": "éligible",
    "outcome.pending": "en attente",
    "outcome.not_eligible": "non éligible",
    "outcome.incomplete": "incomplet",
    "class.sjs": "SSJ",
    "class.overlap": "chevauchement SSJ/NET",
    "class.ten": "NET",
    # access
    "access.unknown": (
        "Bonjour. Ce bot est réservé à l'équipe de l'étude LYSYME. "
        "Pour y accéder, donnez votre identifiant Telegram <code>{user_id}</code> "
        "à un administrateur de l'étude."
    ),
    "access.role": "Votre rôle ne permet pas la commande /{command}.",
    "access.private_only": (
        "Cette commande montre des données de patients : utilisez-la en conversation privée "
        "avec le bot."
    ),
    "access.admin_notice": (
        "Demande d'accès : l'utilisateur Telegram <code>{user_id}</code> a écrit au bot. "
        "Pour l'ajouter : /adduser {user_id} clinician"
    ),
    # help
    "help.intro": (
        "<b>LYSYME</b> — dépistage des patients SSJ/NET pour l'injection de cellules stromales "
        "(2 × 10⁶ cellules/kg, J0 au plus tard 3 jours après l'admission).\n"
        "Vos commandes :"
    ),
    "cmd.start": "présentation",
    "cmd.help": "aide et commandes",
    "cmd.language": "langue : /language fr ou /language en",
    "cmd.screen": "nouveau dépistage",
    "cmd.back": "question précédente",
    "cmd.cancel": "abandonner le dépistage en cours",
    "cmd.resume": "reprendre un dépistage : /resume HMN-001",
    "cmd.update": "compléter un critère en attente : /update HMN-001",
    "cmd.d0": "enregistrer l'injection : /d0 HMN-001 [jj/mm/aaaa hh:mm]",
    "cmd.withdraw": "retirer un patient : /withdraw HMN-001 motif",
    "cmd.status": "patients en cours",
    "cmd.patient": "dossier d'un patient : /patient HMN-001",
    "cmd.correct": "corriger : /correct HMN-001 id valeur motif",
    "cmd.export": "registre de dépistage (CSV + XLSX)",
    "cmd.stats": "graphique d'inclusion",
    "cmd.users": "utilisateurs",
    "cmd.adduser": "ajouter : /adduser ID rôle",
    "cmd.removeuser": "retirer : /removeuser ID",
    # screening flow
    "screen.opened": (
        "Dépistage <b>{number}</b> ouvert.\n"
        "Notez ce numéro dans la liste de correspondance du centre (tenue hors du bot). "
        "Ne saisissez ici ni nom ni date de naissance."
    ),
    "screen.rescreen_of": "Re-dépistage de {number}.",
    "screen.progress": "<b>{number}</b> · question {position}/{total}",
    "screen.current_answer": "Réponse actuelle : {value}",
    "screen.answered": "✓ {answer}",
    "screen.back": "◀ Retour",
    "screen.first_question": "C'est déjà la première question.",
    "screen.no_open": "Aucun dépistage en cours. Pour commencer : /screen",
    "screen.invalid": "⚠️ {problem}",
    "screen.exclusion": (
        "⚠️ <b>Cette réponse exclut le patient</b> :\n{reasons}\nConfirmez-la ou modifiez-la."
    ),
    "screen.confirm_exclusion": "Confirmer l'exclusion",
    "screen.change_answer": "Modifier la réponse",
    "screen.summary": "<b>{number}</b> — récapitulatif :\n{lines}\n\nTout est-il exact ?",
    "screen.confirm": "✅ Confirmer",
    "screen.edit": "✏️ Modifier une réponse",
    "screen.pick_question": "Quelle réponse modifier ?",
    "screen.cancelled": "Dépistage {number} abandonné (conservé, marqué abandonné).",
    "screen.stale": "Cette question n'est plus active.",
    "screen.closed": "Le dépistage {number} est clos ({status}).",
    "screen.resumed": "Reprise du dépistage <b>{number}</b>.",
    "screen.resumed_after_restart": "Le bot a redémarré : reprise du dépistage <b>{number}</b>.",
    "screen.not_found": "Numéro inconnu : {number}.",
    "screen.usage_resume": "Usage : /resume HMN-001",
    "screen.not_resumable": "{number} n'est pas en cours de dépistage ({status}).",
    "screen.idle": (
        "Le dépistage {number} attend une réponse depuis 2 h. Répondez à la question, "
        "ou /cancel pour l'abandonner (abandon automatique après 24 h)."
    ),
    "screen.abandoned_idle": "Dépistage {number} abandonné après 24 h sans réponse.",
    # results
    "result.eligible": (
        "✅ <b>{number} : tous les critères sont remplis.</b>\n"
        "Éligibilité <b>à confirmer</b> par l'investigateur avant J0, avec la commande "
        "/d0 {number}."
    ),
    "result.pending": "⏳ <b>{number} : en attente</b>\n{reasons}\nCompléter avec /update {number}",
    "result.not_eligible": "⛔ <b>{number} : non éligible</b>\n{reasons}",
    "result.dose": "Dose : <b>{millions} × 10⁶ cellules</b> (2 × 10⁶/kg × {weight} kg)",
    "result.deadline": "Date limite J0 : <b>{deadline}</b> (reste {left})",
    "result.deadline_past": "Date limite J0 : {deadline} (dépassée)",
    "result.class": "Classification : {classification}",
    # time left
    "left.days_hours": "{days} j {hours} h",
    "left.hours_minutes": "{hours} h {minutes} min",
    # SCORTEN
    "scorten.intro": (
        "Gravité à l'inclusion (SCORTEN) : valeurs mesurées dans les 24 premières heures. "
        "« Non disponible » si la valeur manque (ajout possible plus tard avec /correct)."
    ),
    "scorten.heart_rate": "Fréquence cardiaque (/min)",
    "scorten.urea": "Urée sérique ({unit})",
    "scorten.bicarbonate": "Bicarbonates sériques (mmol/L)",
    "scorten.glucose": "Glycémie ({unit})",
    "scorten.switch_unit": "Saisir en {unit}",
    "scorten.result": "SCORTEN : <b>{score}</b>/7 — mortalité prédite {mortality}",
    "scorten.partial": "SCORTEN partiel : {score} (valeurs manquantes : {missing})",
    # team
    "team.outcome": "{number} : {outcome}{pending}. Date limite J0 : {deadline} (reste {left}).",
    "team.pending_list": " — en attente : {names}",
    # generic
    "error.generic": "Désolé, une erreur est survenue. Rien n'a été enregistré ; réessayez.",
    "error.not_understood": "Je n'ai pas compris. /help liste les commandes.",
    "language.set": "Langue : français.",
    "language.usage": "Usage : /language fr ou /language en",
}

EN: dict[str, str] = {
    "q.age": "Age (years)",
    "q.sex": "Sex",
    "q.index_date": "Date of first symptoms (index date)",
    "q.admission_date": "Date of admission",
    "q.diagnosis_confirmed": "Confirmed SJS, SJS/TEN overlap or TEN diagnosis",
    "q.ward": "Ward (hospitalised in)",
    "q.max_bsa_percent": "Highest detached or detachable body surface area (%)",
    "q.pregnant_or_breastfeeding": "Pregnant or breastfeeding",
    "q.malignancy_10y_or_metastasis": "Malignancy within the past 10 years, or metastasis",
    "q.hiv_positive": "Positive HIV serology",
    "q.active_hepatitis_b_or_c": "Active hepatitis B or C",
    "q.sars_cov2_positive": "SARS-CoV-2 RNA detected on admission (RT-PCR)",
    "q.decompensated_heart_failure": "Decompensated heart failure",
    "q.uncontrolled_epilepsy": "Uncontrolled epilepsy",
    "q.prior_allogeneic_bmt": "Previous allogeneic bone-marrow transplant",
    "q.other_interventional_trial": "Taking part in another interventional drug study",
    "q.deprived_of_liberty": (
        "Deprived of liberty by a judicial or administrative decision, "
        "or under protection of justice"
    ),
    "q.compliance_concern": (
        "Psychological, family, social or geographical situation hampering follow-up"
    ),
    "q.tutorship_or_curatorship": "Under tutorship or curatorship",
    "q.psychiatric_care_l1121_6": (
        "Under psychiatric care without consent (SDT, SDRE; art. L1121-6 CSP)"
    ),
    "q.social_security": "Affiliated to a social security scheme",
    "q.consent": "Written consent (patient or support person)",
    "q.consent_by": "Who signed the consent?",
    "q.weight_kg": "Weight (kg)",
    "q.d0_window": "D0 window (injection at most 3 days after admission)",
    "h.age": "Type a whole number, e.g. 54.",
    "h.index_date": "Type a date (21/11/2026, 21/11) or tap a button.",
    "h.admission_date": (
        "Admission to the dermatology or intensive-care department treating the SJS/TEN; "
        "the transfer date if the patient came from elsewhere; the date of the first symptoms "
        "if the reaction began in that department."
    ),
    "h.psychiatric_care_l1121_6": (
        "Care without consent: at a third party's request (SDT) or by decision of the State's "
        "representative (SDRE). Ordinary, consented psychiatric follow-up does not exclude: "
        "answer No."
    ),
    "h.max_bsa_percent": "Type a percentage, e.g. 35 or 12.5.",
    "h.weight_kg": "Type the weight in kg, e.g. 72.5.",
    "c.yes": "Yes",
    "c.no": "No",
    "c.pending": "Pending",
    "c.female": "Female",
    "c.male": "Male",
    "c.dermatology": "Dermatology",
    "c.icu": "Intensive care",
    "c.other": "Other",
    "c.not_tested": "Not tested",
    "c.obtained": "Obtained",
    "c.refused": "Refused",
    "c.patient": "The patient",
    "c.support_person": "The support person",
    "c.today": "Today",
    "c.yesterday": "Yesterday",
    "c.alive": "Alive",
    "c.dead": "Dead",
    "c.still_hospitalised": "Still in hospital",
    "c.not_available": "Not available",
    "status.in_screening": "in screening",
    "status.screened": "screened",
    "status.injected": "injected",
    "status.withdrawn": "withdrawn",
    "status.window_missed": "D0 window missed",
    "status.abandoned": "abandoned",
    "outcome.eligible": "eligible",
    "outcome.pending": "pending",
    "outcome.not_eligible": "not eligible",
    "outcome.incomplete": "incomplete",
    "class.sjs": "SJS",
    "class.overlap": "SJS/TEN overlap",
    "class.ten": "TEN",
    "access.unknown": (
        "Hello. This bot is for the LYSYME study team only. To get access, give your "
        "Telegram id <code>{user_id}</code> to a study administrator."
    ),
    "access.role": "Your role does not allow /{command}.",
    "access.private_only": (
        "This command shows patient data: use it in a private chat with the bot."
    ),
    "access.admin_notice": (
        "Access request: Telegram user <code>{user_id}</code> wrote to the bot. "
        "To add them: /adduser {user_id} clinician"
    ),
    "help.intro": (
        "<b>LYSYME</b> — screening SJS/TEN patients for the stromal-cell injection "
        "(2 × 10⁶ cells/kg, D0 at most 3 days after admission).\nYour commands:"
    ),
    "cmd.start": "introduction",
    "cmd.help": "help and commands",
    "cmd.language": "language: /language fr or /language en",
    "cmd.screen": "new screening",
    "cmd.back": "previous question",
    "cmd.cancel": "abandon the open screening",
    "cmd.resume": "continue a screening: /resume HMN-001",
    "cmd.update": "answer a pending criterion: /update HMN-001",
    "cmd.d0": "record the injection: /d0 HMN-001 [dd/mm/yyyy hh:mm]",
    "cmd.withdraw": "withdraw a patient: /withdraw HMN-001 reason",
    "cmd.status": "open patients",
    "cmd.patient": "a patient's record: /patient HMN-001",
    "cmd.correct": "correct: /correct HMN-001 id value reason",
    "cmd.export": "screening log (CSV + XLSX)",
    "cmd.stats": "inclusion chart",
    "cmd.users": "users",
    "cmd.adduser": "add: /adduser ID role",
    "cmd.removeuser": "remove: /removeuser ID",
    "screen.opened": (
        "Screening <b>{number}</b> opened.\n"
        "Write this number in the site's correspondence list (kept outside the bot). "
        "Never type a name or a date of birth here."
    ),
    "screen.rescreen_of": "Re-screen of {number}.",
    "screen.progress": "<b>{number}</b> · question {position}/{total}",
    "screen.current_answer": "Current answer: {value}",
    "screen.answered": "✓ {answer}",
    "screen.back": "◀ Back",
    "screen.first_question": "This is already the first question.",
    "screen.no_open": "No screening in progress. To start one: /screen",
    "screen.invalid": "⚠️ {problem}",
    "screen.exclusion": (
        "⚠️ <b>This answer excludes the patient</b>:\n{reasons}\nConfirm it or change it."
    ),
    "screen.confirm_exclusion": "Confirm exclusion",
    "screen.change_answer": "Change the answer",
    "screen.summary": "<b>{number}</b> — summary:\n{lines}\n\nIs everything right?",
    "screen.confirm": "✅ Confirm",
    "screen.edit": "✏️ Change an answer",
    "screen.pick_question": "Which answer do you want to change?",
    "screen.cancelled": "Screening {number} abandoned (kept, marked abandoned).",
    "screen.stale": "This question is no longer active.",
    "screen.closed": "Screening {number} is closed ({status}).",
    "screen.resumed": "Resuming screening <b>{number}</b>.",
    "screen.resumed_after_restart": "The bot restarted: resuming screening <b>{number}</b>.",
    "screen.not_found": "Unknown number: {number}.",
    "screen.usage_resume": "Usage: /resume HMN-001",
    "screen.not_resumable": "{number} is not in screening ({status}).",
    "screen.idle": (
        "Screening {number} has been waiting for an answer for 2 h. Answer the question, "
        "or /cancel to abandon it (abandoned automatically after 24 h)."
    ),
    "screen.abandoned_idle": "Screening {number} abandoned after 24 h without an answer.",
    "result.eligible": (
        "✅ <b>{number}: all criteria are met.</b>\n"
        "Eligibility <b>to be confirmed</b> by the investigator before D0, with the command "
        "/d0 {number}."
    ),
    "result.pending": "⏳ <b>{number}: pending</b>\n{reasons}\nComplete with /update {number}",
    "result.not_eligible": "⛔ <b>{number}: not eligible</b>\n{reasons}",
    "result.dose": "Dose: <b>{millions} × 10⁶ cells</b> (2 × 10⁶/kg × {weight} kg)",
    "result.deadline": "D0 deadline: <b>{deadline}</b> ({left} left)",
    "result.deadline_past": "D0 deadline: {deadline} (passed)",
    "result.class": "Classification: {classification}",
    "left.days_hours": "{days} d {hours} h",
    "left.hours_minutes": "{hours} h {minutes} min",
    "scorten.intro": (
        "Severity at inclusion (SCORTEN): values measured in the first 24 h. "
        "Tap “Not available” if missing (you can add it later with /correct)."
    ),
    "scorten.heart_rate": "Heart rate (/min)",
    "scorten.urea": "Serum urea ({unit})",
    "scorten.bicarbonate": "Serum bicarbonate (mmol/L)",
    "scorten.glucose": "Serum glucose ({unit})",
    "scorten.switch_unit": "Enter in {unit}",
    "scorten.result": "SCORTEN: <b>{score}</b>/7 — predicted mortality {mortality}",
    "scorten.partial": "Partial SCORTEN: {score} (missing: {missing})",
    "team.outcome": "{number}: {outcome}{pending}. D0 deadline: {deadline} ({left} left).",
    "team.pending_list": " — pending: {names}",
    "error.generic": "Sorry, something went wrong. Nothing was saved; please try again.",
    "error.not_understood": "I did not understand. /help lists the commands.",
    "language.set": "Language: English.",
    "language.usage": "Usage: /language fr or /language en",
}

# Error messages for answers (conversations.answers.AnswerError codes).
FR.update(
    {
        "err.empty": "une réponse est nécessaire",
        "err.not_a_number": "j'attends un nombre (par ex. 72 ou 72,5)",
        "err.not_integer": "j'attends un nombre entier",
        "err.out_of_range": "j'attends une valeur entre {minimum} et {maximum}",
        "err.not_a_date": "j'attends une date (21/11/2026, 21/11, 2026-11-21, aujourd'hui, hier)",
        "err.future_date": "la date ne peut pas être dans le futur (aujourd'hui : {today})",
        "err.before_index": "l'admission ne peut pas précéder la date index ({index_date})",
        "err.after_admission": "la date index ne peut pas suivre l'admission ({admission_date})",
        "err.not_a_choice": "touchez un des boutons",
        "err.not_a_boolean": "répondez oui ou non",
        "err.wrong_type": "valeur non reconnue",
        "err.unknown_field": "identifiant de question inconnu",
    }
)
EN.update(
    {
        "err.empty": "an answer is needed",
        "err.not_a_number": "I expect a number (e.g. 72 or 72.5)",
        "err.not_integer": "I expect a whole number",
        "err.out_of_range": "I expect a value between {minimum} and {maximum}",
        "err.not_a_date": "I expect a date (21/11/2026, 21/11, 2026-11-21, today, yesterday)",
        "err.future_date": "the date cannot be in the future (today: {today})",
        "err.before_index": "admission cannot be before the index date ({index_date})",
        "err.after_admission": "the index date cannot be after admission ({admission_date})",
        "err.not_a_choice": "tap one of the buttons",
        "err.not_a_boolean": "answer yes or no",
        "err.wrong_type": "value not recognised",
        "err.unknown_field": "unknown question id",
    }
)

LANGUAGES: dict[str, dict[str, str]] = {"fr": FR, "en": EN}


def t(lang: str, key: str, **params: Any) -> str:
    """The text `key` in `lang` (French if missing), with `params` HTML-escaped."""
    table = LANGUAGES.get(lang, FR)
    template = table.get(key) or FR.get(key) or key
    if not params:
        return template
    safe = {k: v if isinstance(v, Raw) else html.escape(str(v)) for k, v in params.items()}
    try:
        return template.format(**safe)
    except (KeyError, IndexError, ValueError):
        return template


class Raw(str):
    """A parameter already in HTML (built from other `t()` results): not escaped again."""

    __slots__ = ()


def label(lang: str, key: str) -> str:
    """A plain label (no parameters)."""
    return t(lang, key)


FR.update(
    {
        "users.title": "{count} utilisateur(s) :",
        "users.usage_add": "Usage : /adduser ID rôle [rôle…] — rôles : {roles}",
        "users.usage_remove": "Usage : /removeuser ID",
        "users.added": "Utilisateur {user_id} : {roles}.",
        "users.removed": "Utilisateur {user_id} retiré : son accès cesse immédiatement.",
        "users.unknown": "Utilisateur {user_id} inconnu.",
        "users.not_self": "Vous ne pouvez pas vous retirer vous-même.",
    }
)
EN.update(
    {
        "users.title": "{count} user(s):",
        "users.usage_add": "Usage: /adduser ID role [role…] — roles: {roles}",
        "users.usage_remove": "Usage: /removeuser ID",
        "users.added": "User {user_id}: {roles}.",
        "users.removed": "User {user_id} removed: their access ends now.",
        "users.unknown": "Unknown user {user_id}.",
        "users.not_self": "You cannot remove yourself.",
    }
)

FR["audit.broken"] = (
    "⚠️ Piste d'audit : la vérification a échoué — {problem}. Lancez lysyme-bot verify-audit."
)
EN["audit.broken"] = "⚠️ Audit trail: verification failed — {problem}. Run lysyme-bot verify-audit."

# Reminders (bot/jobs.py), injection, withdrawal, update and follow-ups (bot/flows/injection.py).
# Team messages carry the number, status, names of pending criteria and the deadline only.
FR.update(
    {
        "rem.step.outcome": "résultat du dépistage",
        "rem.step.day_1": "fenêtre J0 — jour 1",
        "rem.step.day_2": "fenêtre J0 — jour 2",
        "rem.step.last_day_morning": "fenêtre J0 — <b>dernier jour</b>",
        "rem.step.last_day_afternoon": "fenêtre J0 — <b>dernier jour</b> (après-midi)",
        "rem.step.last_day_evening": "fenêtre J0 — <b>dernier jour</b> : fin à minuit",
        "rem.d0_window": "⏰ <b>{number}</b> · {step}\n{status} — {outcome}{pending}",
        "rem.deadline": "Date limite J0 : <b>{deadline}</b> (reste {left})",
        "rem.inject": "Enregistrer l'injection : /d0 {number}",
        "rem.update": "Compléter : /update {number}",
        "rem.late": "<i>(rappel envoyé en retard : le bot était indisponible)</i>",
        "rem.window_closed": (
            "⛔ <b>{number}</b> : fenêtre J0 fermée (date limite {deadline}), "
            "aucune injection enregistrée. Statut : {status}."
        ),
        "rem.outcome_change": "🔔 <b>{number}</b> est maintenant <b>{outcome}</b>{pending}.",
        "rem.reasons": "Motif : {reasons}",
        "rem.pending_daily": (
            "⏳ <b>{number}</b> est toujours en attente : {names}.\n"
            "Dès que le résultat est connu : /update {number}"
        ),
        "rem.consent_patient": (
            "✍️ <b>{number}</b> : le consentement a été signé par la personne de confiance. "
            "Recueillez le consentement du patient lui-même dès qu'il en est capable."
        ),
        "rem.idle_resume": "Reprendre : /resume {number}",
        "rem.notice.injected": (
            "💉 <b>{number}</b> : injection (J0) enregistrée le {at}. "
            "Les rappels de la fenêtre J0 s'arrêtent."
        ),
        "rem.notice.withdrawn": "<b>{number}</b> : patient retiré. Les rappels s'arrêtent.",
        "rem.admin.unreachable": (
            "⚠️ Rappels non délivrés : le chat <code>{chat_id}</code> est injoignable ({why}). "
            "Vérifiez que le bot est membre du groupe de l'équipe (LYSYME_TEAM_CHAT_ID) "
            "et que personne ne l'a bloqué."
        ),
        "rem.why.chat_not_found": "chat introuvable",
        "rem.why.blocked": "bot bloqué ou exclu",
        "rem.why.bad_request": "message refusé par Telegram",
        "rem.admin.migrated": (
            "ℹ️ Le groupe de l'équipe est devenu un supergroupe : nouvel identifiant "
            "<code>{new}</code> (ancien <code>{old}</code>). Les rappels le suivent ; "
            "mettez à jour LYSYME_TEAM_CHAT_ID."
        ),
        "rem.fu_alert": (
            "🚨 <b>{number}</b> : effet indésirable signalé à J0 + 10.\n{rule}\nDossier : /patient {number}"
        ),
        "fu.sae_rule": (
            "Règle du promoteur : s'il est grave (EIG), déclarez-le à la vigilance de l'AP-HP "
            "dans les 24 h."
        ),
        "fu.header": "📋 <b>{number}</b> · suivi J0 + {days} (J0 : {d0})",
        "fu.q.reepithelialisation_d7": "Ré-épithélialisation complète ou presque complète ?",
        "fu.q.adverse_events_d10": "Un effet indésirable depuis J0 ?",
        "fu.q.vital_status_d30": "Statut vital à J30 ?",
        "fu.q.discharge_date": "Date de sortie de l'hôpital (durée de séjour) ?",
        "fu.repeat": "<i>Rappel chaque matin jusqu'à la réponse.</i>",
        "fu.type_date": "Saisir la date de sortie",
        "fu.ask_date": (
            "<b>{number}</b> · tapez la date de sortie (21/11/2026, 21/11, aujourd'hui, hier)."
        ),
        "fu.recorded": "✓ <b>{number}</b> · {question} {answer}",
        "fu.already": "Déjà enregistré : {answer}. Une correction passe par /correct.",
        "fu.still_hospitalised": "Noté : toujours hospitalisé. Nouveau rappel dans 7 jours.",
        "fu.stale": "Ce suivi n'est plus actif.",
        "fu.before_d0": "la date de sortie ne peut pas précéder J0 ({d0})",
        "fu.invalid": "⚠️ {problem}",
        "d0.usage": "Usage : /d0 HMN-001 [jj/mm/aaaa hh:mm] (par défaut : maintenant)",
        "d0.bad_time": "Date ou heure non reconnue : {text}. Format : jj/mm/aaaa hh:mm",
        "d0.future": "L'heure d'injection ne peut pas être dans le futur.",
        "d0.before_admission": "L'injection ne peut pas précéder l'admission ({admission}).",
        "d0.not_eligible": (
            "{number} : injection refusée — le patient n'est pas éligible (résultat : {outcome})."
        ),
        "d0.pending": "{number} est en attente : /update {number} d'abord.",
        "d0.wrong_status": "{number} : injection impossible (statut : {status}).",
        "d0.already": "{number} : injection déjà enregistrée le {at}.",
        "d0.late": (
            "⚠️ <b>{number}</b> : une injection le {at} est <b>après la date limite J0</b> "
            "({deadline}) : c'est une déviation au protocole.\n"
            "Tapez le motif de la dérogation (court, sans nom ni détail identifiant), "
            "ou touchez Annuler."
        ),
        "d0.confirm": (
            "<b>{number}</b> — enregistrer l'injection (J0) le <b>{at}</b> ?\n"
            "En confirmant, l'investigateur confirme l'éligibilité du patient "
            "(tous les critères sont remplis)."
        ),
        "d0.dose": "Dose : {millions} × 10⁶ cellules",
        "d0.override_line": "Déviation au protocole — motif : {reason}",
        "d0.yes": "✅ L'investigateur confirme",
        "d0.no": "Annuler",
        "d0.done": (
            "💉 <b>{number}</b> : injection enregistrée le {at}. "
            "Les rappels de la fenêtre J0 s'arrêtent.\nSuivi (rappel à 8 h) :\n{lines}"
        ),
        "d0.fu_line": "• {date} (J0 + {days}) : {question}",
        "d0.cancelled": "Injection non enregistrée.",
        "d0.reason_empty": "Un motif est nécessaire (court, sans détail identifiant).",
        "d0.reason_too_long": "Motif trop long ({limit} caractères au plus).",
        "d0.stale": "Cette confirmation n'est plus valable : relancez /d0.",
        "wd.usage": "Usage : /withdraw HMN-001 motif (court, sans nom ni détail identifiant)",
        "wd.done": "<b>{number}</b> retiré. Tous les rappels sont arrêtés.",
        "wd.wrong_status": "{number} ne peut pas être retiré (statut : {status}).",
        "upd.usage": "Usage : /update HMN-001",
        "upd.nothing": "{number} : aucun critère en attente (résultat : {outcome}).",
        "upd.wrong_status": "{number} : mise à jour impossible (statut : {status}).",
        "upd.intro": "<b>{number}</b> : critères en attente — {names}.",
        "upd.ask": "<b>{number}</b> · mise à jour\n{question}",
        "upd.current": "Réponse actuelle : {value}",
        "upd.skip": "Inchangé",
        "upd.bsa_closed": (
            "La période d'observation de la surface décollée est terminée (le {end}) : "
            "la valeur ne peut plus être mise à jour."
        ),
        "upd.bsa_lower": "La valeur la plus élevée ({kept} %) est conservée.",
        "upd.unchanged": "Inchangé : {question}.",
        "upd.recorded": "✓ {question} : {value}",
        "upd.stale": "Cette mise à jour n'est plus active : relancez /update.",
    }
)
EN.update(
    {
        "rem.step.outcome": "screening result",
        "rem.step.day_1": "D0 window — day 1",
        "rem.step.day_2": "D0 window — day 2",
        "rem.step.last_day_morning": "D0 window — <b>last day</b>",
        "rem.step.last_day_afternoon": "D0 window — <b>last day</b> (afternoon)",
        "rem.step.last_day_evening": "D0 window — <b>last day</b>: closes at midnight",
        "rem.d0_window": "⏰ <b>{number}</b> · {step}\n{status} — {outcome}{pending}",
        "rem.deadline": "D0 deadline: <b>{deadline}</b> ({left} left)",
        "rem.inject": "Record the injection: /d0 {number}",
        "rem.update": "Complete: /update {number}",
        "rem.late": "<i>(reminder sent late: the bot was unavailable)</i>",
        "rem.window_closed": (
            "⛔ <b>{number}</b>: D0 window closed (deadline {deadline}), "
            "no injection recorded. Status: {status}."
        ),
        "rem.outcome_change": "🔔 <b>{number}</b> is now <b>{outcome}</b>{pending}.",
        "rem.reasons": "Reason: {reasons}",
        "rem.pending_daily": (
            "⏳ <b>{number}</b> is still pending: {names}.\n"
            "As soon as the result is known: /update {number}"
        ),
        "rem.consent_patient": (
            "✍️ <b>{number}</b>: consent was signed by the support person. "
            "Seek the patient's own consent as soon as they are able."
        ),
        "rem.idle_resume": "Continue: /resume {number}",
        "rem.notice.injected": (
            "💉 <b>{number}</b>: injection (D0) recorded on {at}. D0 window reminders stop."
        ),
        "rem.notice.withdrawn": "<b>{number}</b>: patient withdrawn. Reminders stop.",
        "rem.admin.unreachable": (
            "⚠️ Reminders not delivered: chat <code>{chat_id}</code> cannot be reached ({why}). "
            "Check that the bot is a member of the team group (LYSYME_TEAM_CHAT_ID) "
            "and that nobody blocked it."
        ),
        "rem.why.chat_not_found": "chat not found",
        "rem.why.blocked": "bot blocked or removed",
        "rem.why.bad_request": "message refused by Telegram",
        "rem.admin.migrated": (
            "ℹ️ The team group became a supergroup: new id <code>{new}</code> "
            "(was <code>{old}</code>). Reminders follow it; update LYSYME_TEAM_CHAT_ID."
        ),
        "rem.fu_alert": (
            "🚨 <b>{number}</b>: adverse effect reported at D0 + 10.\n{rule}\nRecord: /patient {number}"
        ),
        "fu.sae_rule": (
            "Sponsor's rule: if it is serious (SAE), notify the AP-HP safety desk within 24 h."
        ),
        "fu.header": "📋 <b>{number}</b> · follow-up D0 + {days} (D0: {d0})",
        "fu.q.reepithelialisation_d7": "Re-epithelialisation complete or almost complete?",
        "fu.q.adverse_events_d10": "Any adverse effect since D0?",
        "fu.q.vital_status_d30": "Vital status at D30?",
        "fu.q.discharge_date": "Date of discharge from hospital (length of stay)?",
        "fu.repeat": "<i>Reminded every morning until answered.</i>",
        "fu.type_date": "Type the discharge date",
        "fu.ask_date": "<b>{number}</b> · type the discharge date (21/11/2026, 21/11, today, yesterday).",
        "fu.recorded": "✓ <b>{number}</b> · {question} {answer}",
        "fu.already": "Already recorded: {answer}. Corrections go through /correct.",
        "fu.still_hospitalised": "Noted: still in hospital. Next reminder in 7 days.",
        "fu.stale": "This follow-up is no longer active.",
        "fu.before_d0": "the discharge date cannot be before D0 ({d0})",
        "fu.invalid": "⚠️ {problem}",
        "d0.usage": "Usage: /d0 HMN-001 [dd/mm/yyyy hh:mm] (default: now)",
        "d0.bad_time": "Date or time not recognised: {text}. Format: dd/mm/yyyy hh:mm",
        "d0.future": "The injection time cannot be in the future.",
        "d0.before_admission": "The injection cannot be before admission ({admission}).",
        "d0.not_eligible": (
            "{number}: injection refused — the patient is not eligible (outcome: {outcome})."
        ),
        "d0.pending": "{number} is pending: /update {number} first.",
        "d0.wrong_status": "{number}: injection not possible (status: {status}).",
        "d0.already": "{number}: injection already recorded on {at}.",
        "d0.late": (
            "⚠️ <b>{number}</b>: an injection on {at} is <b>after the D0 deadline</b> "
            "({deadline}): this is a protocol deviation.\n"
            "Type the reason for the override (short, no name or identifying detail), "
            "or tap Cancel."
        ),
        "d0.confirm": (
            "<b>{number}</b> — record the injection (D0) on <b>{at}</b>?\n"
            "By confirming, the investigator confirms the patient's eligibility "
            "(all criteria are met)."
        ),
        "d0.dose": "Dose: {millions} × 10⁶ cells",
        "d0.override_line": "Protocol deviation — reason: {reason}",
        "d0.yes": "✅ The investigator confirms",
        "d0.no": "Cancel",
        "d0.done": (
            "💉 <b>{number}</b>: injection recorded on {at}. D0 window reminders stop.\n"
            "Follow-up (reminded at 08:00):\n{lines}"
        ),
        "d0.fu_line": "• {date} (D0 + {days}): {question}",
        "d0.cancelled": "Injection not recorded.",
        "d0.reason_empty": "A reason is needed (short, no identifying detail).",
        "d0.reason_too_long": "Reason too long (at most {limit} characters).",
        "d0.stale": "This confirmation is no longer valid: run /d0 again.",
        "wd.usage": "Usage: /withdraw HMN-001 reason (short, no name or identifying detail)",
        "wd.done": "<b>{number}</b> withdrawn. All reminders stopped.",
        "wd.wrong_status": "{number} cannot be withdrawn (status: {status}).",
        "upd.usage": "Usage: /update HMN-001",
        "upd.nothing": "{number}: nothing pending (outcome: {outcome}).",
        "upd.wrong_status": "{number}: no update possible (status: {status}).",
        "upd.intro": "<b>{number}</b>: pending criteria — {names}.",
        "upd.ask": "<b>{number}</b> · update\n{question}",
        "upd.current": "Current answer: {value}",
        "upd.skip": "Unchanged",
        "upd.bsa_closed": (
            "The detached-BSA observation period ended on {end}: the value can no longer be "
            "updated."
        ),
        "upd.bsa_lower": "The highest value ({kept} %) is kept.",
        "upd.unchanged": "Unchanged: {question}.",
        "upd.recorded": "✓ {question}: {value}",
        "upd.stale": "This update is no longer active: run /update again.",
    }
)

# --- coordinator views: /status, /patient, /correct, /export, /stats (bot/flows/coordinator.py)
FR.update(
    {
        "st.title": "<b>Patients en cours</b> ({count})",
        "st.none": "Aucun patient en cours.",
        "st.summary": (
            "Dépistés {screened} · en dépistage {in_screening} · en attente {pending} · "
            "éligibles en attente de J0 {eligible} · injectés {injected} · "
            "non éligibles {not_eligible} · retirés {withdrawn} "
            "(+ fenêtre J0 dépassée {window_missed}, abandonnés {abandoned})"
        ),
        "st.deadline": "J0 avant le {deadline} (reste {left})",
        "st.deadline_past": "J0 : date limite {deadline} dépassée",
        "st.no_deadline": "J0 : date d'admission pas encore saisie",
        "st.pending": "En attente : {names}",
        "st.awaiting_d0": "À faire : l'injection (/d0 {number})",
        "st.at_question": "Question en cours : {question} (activité {when})",
        "st.at_summary": "Récapitulatif à confirmer (activité {when})",
        "st.at_exclusion": "Exclusion à confirmer (activité {when})",
        "pt.usage": "Usage : /patient HMN-001",
        "pt.opened": "Ouvert le {when} par <code>{by}</code>",
        "pt.closed": "Clos le {when}",
        "pt.rescreened_as": "Re-dépisté sous : {numbers}",
        "pt.outcome": "Résultat : <b>{outcome}</b>",
        "pt.failed": "Critères non remplis : {names}",
        "pt.pending": "En attente : {names}",
        "pt.missing": "Réponses manquantes : {names}",
        "pt.admission": "Admission : {date}",
        "pt.deadline": "Date limite J0 : {deadline}",
        "pt.injected": "Injection (J0) : <b>{when}</b> par <code>{by}</code>",
        "pt.override": "Injection après la date limite (déviation) — motif : {reason}",
        "pt.withdrawn": "Retiré — motif : {reason}",
        "pt.follow_ups": "<b>Suivi après J0</b>",
        "pt.fu.reepithelialisation_d7": "J7 ré-épidermisation complète ou presque",
        "pt.fu.adverse_events_d10": "J10 effets indésirables depuis J0",
        "pt.fu.vital_status_d30": "J30 statut vital",
        "pt.fu.discharge_date": "Date de sortie",
        "pt.fu.line": "• {label} — le {due} : {answer}",
        "pt.fu.awaited": "réponse attendue",
        "pt.answers": "<b>Réponses</b>",
        "pt.answer": "• {label} : <b>{value}</b> — <code>{by}</code>, {when}",
        "pt.change": "  ↳ {old} → <b>{new}</b> ({source}, <code>{by}</code>, {when})",
        "pt.reason": "    motif : {reason}",
        "pt.src.screening": "modifiée au dépistage",
        "pt.src.correction": "correction",
        "pt.src.update": "mise à jour",
        "pt.src.not_applicable": "ne s'applique plus",
        "pt.src.scorten": "SCORTEN",
        "pt.corrections": "<b>Autres corrections</b>",
        "pt.audit_line": "• {field} : {old} → {new} (<code>{by}</code>, {when})",
        "pt.reminders": "<b>Rappels</b>",
        "pt.reminder": "• {kind} → {recipient} : {state} {when}",
        "pt.no_reminders": "• aucun",
        "pt.reminders_hidden": "• et : {counts}",
        "pt.late": "(en retard)",
        "pt.rstate.sent": "envoyé",
        "pt.rstate.failed": "échec",
        "pt.rstate.scheduled": "prévu",
        "pt.rstate.claimed": "en cours d'envoi",
        "pt.rstate.cancelled": "annulé",
        "pt.rstate.skipped": "sauté",
        "cor.usage": (
            "Usage : /correct HMN-001 id valeur motif\n"
            "• id : un critère (age, weight_kg, consent…), valeur comme au dépistage "
            "(dates : 21/11/2026, hier…)\n"
            "• scorten:heart_rate|urea|bicarbonate|glucose : en mmol/L (ou /min), "
            "ou « na » si non disponible\n"
            "• injected_at : jj/mm/aaaa hh:mm\n"
            "• withdrawal cancel : annule un retrait enregistré par erreur\n"
            "Le motif est obligatoire (sans donnée identifiante)."
        ),
        "cor.unknown_id": "Identifiant inconnu : {field}.",
        "cor.no_reason": "Le motif de la correction est obligatoire (sans donnée identifiante).",
        "cor.reason_too_long": "Motif trop long ({length} caractères, {limit} au plus).",
        "cor.in_screening": (
            "{number} est encore en cours de dépistage : terminez-le (/resume {number})."
        ),
        "cor.abandoned": "{number} a été abandonné : dépistez à nouveau avec /screen {number}.",
        "cor.not_applicable": "« {label} » ne s'applique pas à ce patient.",
        "cor.same": "« {label} » vaut déjà {value} : rien n'est modifié.",
        "cor.not_injected": "{number} : aucune injection enregistrée (voir /d0).",
        "cor.not_withdrawn": "{number} n'est pas retiré ({status}).",
        "cor.withdrawal_value": (
            "withdrawal : seule la valeur « cancel » est possible (pour retirer : /withdraw)."
        ),
        "cor.bad_moment": "j'attends une date et une heure : 22/11/2026 10:30",
        "cor.future_moment": "l'injection ne peut pas être dans le futur",
        "cor.before_admission": "l'injection ne peut pas précéder l'admission ({admission})",
        "cor.done": "✏️ <b>{number}</b> — {label} : {old} → <b>{new}</b> (correction enregistrée).",
        "cor.outcome_changed": "Résultat : {old} → <b>{new}</b>",
        "cor.outcome_same": "Résultat inchangé : {outcome}",
        "cor.deviation": (
            "⚠️ Injection après la date limite J0 ({deadline}) : déviation au protocole, "
            "enregistrée avec ce motif."
        ),
        "cor.withdrawal_cancelled": "↩️ <b>{number}</b> : retrait annulé, statut {status}.",
        "cor.follow_ups_moved": "Suivis recalés sur la nouvelle date de J0 : {count}.",
        "cor.told": "L'équipe et le clinicien sont prévenus du changement de résultat.",
        "exp.sheet.screenings": "Dépistages",
        "exp.sheet.answers": "Réponses",
        "exp.sheet.counts": "Effectifs",
        "exp.caption_csv": "Registre de dépistage, {count} dépistage(s) — CSV (pour les machines)",
        "exp.caption_xlsx": "Registre de dépistage, {count} dépistage(s) — XLSX (pour lecture)",
        "exp.col.number": "N° de dépistage",
        "exp.col.site": "Centre",
        "exp.col.rescreen_of": "Re-dépistage de",
        "exp.col.clinician_id": "Clinicien (id Telegram)",
        "exp.col.created_at": "Ouvert le",
        "exp.col.closed_at": "Clos le",
        "exp.col.status": "Statut",
        "exp.col.outcome": "Résultat",
        "exp.col.failed": "Critères non remplis",
        "exp.col.pending": "Critères en attente",
        "exp.col.classification": "Classification",
        "exp.col.dose_cells": "Dose (cellules)",
        "exp.col.d0_deadline": "Date limite J0",
        "exp.col.injected_at": "Injection (J0)",
        "exp.col.injected_by": "Injecté par (id Telegram)",
        "exp.col.d0_override_reason": "Motif d'injection hors fenêtre",
        "exp.col.withdrawn_reason": "Motif de retrait",
        "exp.col.scorten_heart_rate": "SCORTEN fréquence cardiaque (/min)",
        "exp.col.scorten_urea": "SCORTEN urée (mmol/L)",
        "exp.col.scorten_bicarbonate": "SCORTEN bicarbonates (mmol/L)",
        "exp.col.scorten_glucose": "SCORTEN glycémie (mmol/L)",
        "exp.col.scorten_score": "SCORTEN score",
        "exp.col.scorten_missing": "SCORTEN valeurs manquantes",
        "exp.col.scorten_predicted_mortality": "SCORTEN mortalité prédite",
        "exp.col.question_id": "Question (id)",
        "exp.col.question": "Question",
        "exp.col.value": "Valeur",
        "exp.col.answered_by": "Par (id Telegram)",
        "exp.col.answered_at": "Le",
        "exp.col.source": "Origine",
        "exp.col.reason": "Motif",
        "exp.col.group": "Groupe",
        "exp.col.item": "Élément",
        "exp.col.label": "Libellé",
        "exp.col.count": "Nombre",
        "exp.group.summary": "situation",
        "exp.group.funnel": "entonnoir",
        "exp.group.reason": "motif de non-inclusion",
        "exp.group.target": "objectif",
        "exp.cat.screened": "patients dépistés",
        "exp.cat.in_screening": "dépistages en cours",
        "exp.cat.pending": "en attente",
        "exp.cat.eligible": "éligibles en attente de J0",
        "exp.cat.injected": "injectés",
        "exp.cat.not_eligible": "non éligibles",
        "exp.cat.withdrawn": "retirés",
        "exp.cat.window_missed": "fenêtre J0 dépassée",
        "exp.cat.abandoned": "abandonnés",
        "exp.funnel.eligible": "éligibles ou en attente au dépistage",
        "exp.target": "objectif d'inclusion",
        "stats.title": "LYSYME — entonnoir d'inclusion",
        "stats.screened": "Dépistés",
        "stats.eligible": "Éligibles ou en attente",
        "stats.injected": "Injectés",
        "stats.reasons_title": "Motifs de non-inclusion",
        "stats.reason_unknown": "Motif non précisé",
        "stats.caption": (
            "Dépistés {screened} · éligibles ou en attente {eligible} · injectés {injected} "
            "· objectif {target}"
        ),
        "stats.mortality": (
            "J30 : {observed} décès observé(s) pour {expected} attendu(s) selon SCORTEN "
            "({n} patient(s) suivis, SCORTEN complet pour {complete})"
        ),
        "stats.observed": "Décès observés à J30",
        "stats.expected": "Décès attendus (SCORTEN)",
    }
)
EN.update(
    {
        "st.title": "<b>Open patients</b> ({count})",
        "st.none": "No open patient.",
        "st.summary": (
            "Screened {screened} · in screening {in_screening} · pending {pending} · "
            "eligible awaiting D0 {eligible} · injected {injected} · "
            "not eligible {not_eligible} · withdrawn {withdrawn} "
            "(+ D0 window missed {window_missed}, abandoned {abandoned})"
        ),
        "st.deadline": "D0 by {deadline} ({left} left)",
        "st.deadline_past": "D0: deadline {deadline} passed",
        "st.no_deadline": "D0: admission date not entered yet",
        "st.pending": "Pending: {names}",
        "st.awaiting_d0": "To do: the injection (/d0 {number})",
        "st.at_question": "Current question: {question} (activity {when})",
        "st.at_summary": "Summary awaiting confirmation (activity {when})",
        "st.at_exclusion": "Exclusion awaiting confirmation (activity {when})",
        "pt.usage": "Usage: /patient HMN-001",
        "pt.opened": "Opened {when} by <code>{by}</code>",
        "pt.closed": "Closed {when}",
        "pt.rescreened_as": "Re-screened as: {numbers}",
        "pt.outcome": "Outcome: <b>{outcome}</b>",
        "pt.failed": "Criteria not met: {names}",
        "pt.pending": "Pending: {names}",
        "pt.missing": "Missing answers: {names}",
        "pt.admission": "Admission: {date}",
        "pt.deadline": "D0 deadline: {deadline}",
        "pt.injected": "Injection (D0): <b>{when}</b> by <code>{by}</code>",
        "pt.override": "Injected after the deadline (deviation) — reason: {reason}",
        "pt.withdrawn": "Withdrawn — reason: {reason}",
        "pt.follow_ups": "<b>Follow-up after D0</b>",
        "pt.fu.reepithelialisation_d7": "D7 complete or almost complete re-epithelialisation",
        "pt.fu.adverse_events_d10": "D10 adverse effects since D0",
        "pt.fu.vital_status_d30": "D30 vital status",
        "pt.fu.discharge_date": "Discharge date",
        "pt.fu.line": "• {label} — on {due}: {answer}",
        "pt.fu.awaited": "answer awaited",
        "pt.answers": "<b>Answers</b>",
        "pt.answer": "• {label}: <b>{value}</b> — <code>{by}</code>, {when}",
        "pt.change": "  ↳ {old} → <b>{new}</b> ({source}, <code>{by}</code>, {when})",
        "pt.reason": "    reason: {reason}",
        "pt.src.screening": "changed during screening",
        "pt.src.correction": "correction",
        "pt.src.update": "update",
        "pt.src.not_applicable": "no longer applies",
        "pt.src.scorten": "SCORTEN",
        "pt.corrections": "<b>Other corrections</b>",
        "pt.audit_line": "• {field}: {old} → {new} (<code>{by}</code>, {when})",
        "pt.reminders": "<b>Reminders</b>",
        "pt.reminder": "• {kind} → {recipient}: {state} {when}",
        "pt.no_reminders": "• none",
        "pt.reminders_hidden": "• also: {counts}",
        "pt.late": "(late)",
        "pt.rstate.sent": "sent",
        "pt.rstate.failed": "failed",
        "pt.rstate.scheduled": "scheduled",
        "pt.rstate.claimed": "being sent",
        "pt.rstate.cancelled": "cancelled",
        "pt.rstate.skipped": "skipped",
        "cor.usage": (
            "Usage: /correct HMN-001 id value reason\n"
            "• id: a criterion (age, weight_kg, consent…), value as in the screening "
            "(dates: 21/11/2026, yesterday…)\n"
            "• scorten:heart_rate|urea|bicarbonate|glucose: in mmol/L (or /min), "
            "or “na” if not available\n"
            "• injected_at: dd/mm/yyyy hh:mm\n"
            "• withdrawal cancel: undoes a withdrawal recorded by mistake\n"
            "The reason is required (no identifying details)."
        ),
        "cor.unknown_id": "Unknown id: {field}.",
        "cor.no_reason": "The reason for the correction is required (no identifying details).",
        "cor.reason_too_long": "Reason too long ({length} characters, at most {limit}).",
        "cor.in_screening": "{number} is still in screening: finish it first (/resume {number}).",
        "cor.abandoned": "{number} was abandoned: screen again with /screen {number}.",
        "cor.not_applicable": "“{label}” does not apply to this patient.",
        "cor.same": "“{label}” is already {value}: nothing changed.",
        "cor.not_injected": "{number}: no injection recorded (see /d0).",
        "cor.not_withdrawn": "{number} is not withdrawn ({status}).",
        "cor.withdrawal_value": (
            "withdrawal: the only value is “cancel” (to withdraw a patient: /withdraw)."
        ),
        "cor.bad_moment": "I expect a date and a time: 22/11/2026 10:30",
        "cor.future_moment": "the injection cannot be in the future",
        "cor.before_admission": "the injection cannot be before admission ({admission})",
        "cor.done": "✏️ <b>{number}</b> — {label}: {old} → <b>{new}</b> (correction recorded).",
        "cor.outcome_changed": "Outcome: {old} → <b>{new}</b>",
        "cor.outcome_same": "Outcome unchanged: {outcome}",
        "cor.deviation": (
            "⚠️ Injection after the D0 deadline ({deadline}): protocol deviation, recorded "
            "with this reason."
        ),
        "cor.withdrawal_cancelled": "↩️ <b>{number}</b>: withdrawal cancelled, status {status}.",
        "cor.follow_ups_moved": "Follow-ups moved to the new D0 date: {count}.",
        "cor.told": "The team and the clinician are told of the new outcome.",
        "exp.sheet.screenings": "Screenings",
        "exp.sheet.answers": "Answers",
        "exp.sheet.counts": "Counts",
        "exp.caption_csv": "Screening log, {count} screening(s) — CSV (for machines)",
        "exp.caption_xlsx": "Screening log, {count} screening(s) — XLSX (for reading)",
        "exp.col.number": "Screening number",
        "exp.col.site": "Site",
        "exp.col.rescreen_of": "Re-screen of",
        "exp.col.clinician_id": "Clinician (Telegram id)",
        "exp.col.created_at": "Opened",
        "exp.col.closed_at": "Closed",
        "exp.col.status": "Status",
        "exp.col.outcome": "Outcome",
        "exp.col.failed": "Criteria not met",
        "exp.col.pending": "Pending criteria",
        "exp.col.classification": "Classification",
        "exp.col.dose_cells": "Dose (cells)",
        "exp.col.d0_deadline": "D0 deadline",
        "exp.col.injected_at": "Injection (D0)",
        "exp.col.injected_by": "Injected by (Telegram id)",
        "exp.col.d0_override_reason": "Reason for injecting after the deadline",
        "exp.col.withdrawn_reason": "Withdrawal reason",
        "exp.col.scorten_heart_rate": "SCORTEN heart rate (/min)",
        "exp.col.scorten_urea": "SCORTEN urea (mmol/L)",
        "exp.col.scorten_bicarbonate": "SCORTEN bicarbonate (mmol/L)",
        "exp.col.scorten_glucose": "SCORTEN glucose (mmol/L)",
        "exp.col.scorten_score": "SCORTEN score",
        "exp.col.scorten_missing": "SCORTEN missing values",
        "exp.col.scorten_predicted_mortality": "SCORTEN predicted mortality",
        "exp.col.question_id": "Question (id)",
        "exp.col.question": "Question",
        "exp.col.value": "Value",
        "exp.col.answered_by": "By (Telegram id)",
        "exp.col.answered_at": "At",
        "exp.col.source": "Source",
        "exp.col.reason": "Reason",
        "exp.col.group": "Group",
        "exp.col.item": "Item",
        "exp.col.label": "Label",
        "exp.col.count": "Count",
        "exp.group.summary": "situation",
        "exp.group.funnel": "funnel",
        "exp.group.reason": "reason for non-inclusion",
        "exp.group.target": "target",
        "exp.cat.screened": "patients screened",
        "exp.cat.in_screening": "screenings in progress",
        "exp.cat.pending": "pending",
        "exp.cat.eligible": "eligible awaiting D0",
        "exp.cat.injected": "injected",
        "exp.cat.not_eligible": "not eligible",
        "exp.cat.withdrawn": "withdrawn",
        "exp.cat.window_missed": "D0 window missed",
        "exp.cat.abandoned": "abandoned",
        "exp.funnel.eligible": "eligible or pending at screening",
        "exp.target": "enrolment target",
        "stats.title": "LYSYME — inclusion funnel",
        "stats.screened": "Screened",
        "stats.eligible": "Eligible or pending",
        "stats.injected": "Injected",
        "stats.reasons_title": "Reasons for non-inclusion",
        "stats.reason_unknown": "Reason not given",
        "stats.caption": (
            "Screened {screened} · eligible or pending {eligible} · injected {injected} "
            "· target {target}"
        ),
        "stats.mortality": (
            "D30: {observed} death(s) observed vs {expected} expected from SCORTEN "
            "({n} patient(s) followed, complete SCORTEN for {complete})"
        ),
        "stats.observed": "Observed D30 deaths",
        "stats.expected": "Expected (SCORTEN)",
    }
)

FR.update(
    {
        "bk.failed": (
            "⚠️ Sauvegarde automatique de la base : échec — {problem}. Vérifiez "
            "LYSYME_BACKUP_DIR (dossier, droits, place). Vous ne serez pas prévenu à nouveau "
            "avant qu'une sauvegarde réussisse."
        ),
        "bk.recovered": "✅ Sauvegarde automatique rétablie : {file}.",
    }
)
EN.update(
    {
        "bk.failed": (
            "⚠️ Automatic database backup failed — {problem}. Check LYSYME_BACKUP_DIR "
            "(folder, permissions, space). You will not be told again until a backup works."
        ),
        "bk.recovered": "✅ Automatic backup works again: {file}.",
    }
)

FR.update(
    {
        "screen.previous_recorded": (
            "✓ <b>{number}</b> : votre réponse précédente a bien été enregistrée — "
            "{question} : <b>{answer}</b>.\nLa question suivante ne vous avait pas été "
            "affichée ; votre dernier message n'a pas été pris comme réponse. La voici :"
        ),
        "screen.not_shown": (
            "<b>{number}</b> : cette question ne vous avait pas été affichée ; votre dernier "
            "message n'a pas été pris comme réponse. La voici :"
        ),
        "error.temporary": (
            "Problème temporaire (base de données occupée ou indisponible) : rien n'a été "
            "enregistré. Réessayez dans un instant."
        ),
        "users.bad_id": (
            "{value} n'est pas un identifiant d'utilisateur Telegram : un nombre entier positif "
            "en chiffres 0-9 (les groupes, négatifs, ne peuvent pas être des utilisateurs)."
        ),
        "rem.admin.clock_jump": (
            "⚠️ L'horloge a avancé de {gap} depuis le dernier passage des rappels "
            "({last} → {now}). Envoi des rappels suspendu : aucun rappel, aucune fenêtre "
            "J0 close tant que l'heure n'est pas confirmée. Si l'heure est juste (le bot était "
            "arrêté), confirmez ; sinon corrigez l'horloge du serveur (l'envoi reprend seul)."
        ),
        "rem.admin.clock_confirm": "L'heure est juste : reprendre",
        "rem.admin.clock_confirmed": "Heure confirmée : les rappels reprennent (rattrapage).",
        "rem.admin.clock_nothing": "Les rappels ne sont pas suspendus.",
    }
)
# --- issue 13: one vocabulary per criterion (bot/criteria.py), dates and numbers people read,
# echoes, typed-input refusals, /withdraw confirmation, SCORTEN units ------------------------
# n.<id>: the short name of a criterion in lists (/status, team chat, chart, exports); it never
# reads as a result ("Sérologie VIH", not "Sérologie VIH positive").
# v.<id>.failed / v.<id>.pending: the verdict, with the value and the rule (HTML, like every
# template here: "&lt;" for "<").
FR.update(
    {
        "n.age": "Âge",
        "n.sex": "Sexe",
        "n.index_date": "Date index",
        "n.admission_date": "Date d'admission",
        "n.d0_window": "Fenêtre J0",
        "n.diagnosis_confirmed": "Diagnostic",
        "n.ward": "Service",
        "n.max_bsa_percent": "Surface décollée",
        "n.pregnant_or_breastfeeding": "Grossesse / allaitement (statut)",
        "n.malignancy_10y_or_metastasis": "Antécédent de cancer",
        "n.hiv_positive": "Sérologie VIH",
        "n.active_hepatitis_b_or_c": "Sérologies hépatites B et C",
        "n.sars_cov2_positive": "RT-PCR SARS-CoV-2",
        "n.decompensated_heart_failure": "Insuffisance cardiaque",
        "n.uncontrolled_epilepsy": "Épilepsie",
        "n.prior_allogeneic_bmt": "Allogreffe de moelle",
        "n.other_interventional_trial": "Autre recherche interventionnelle",
        "n.deprived_of_liberty": "Privation de liberté",
        "n.compliance_concern": "Faisabilité du suivi",
        "n.tutorship_or_curatorship": "Tutelle ou curatelle",
        "n.psychiatric_care_l1121_6": "Soins psychiatriques sans consentement",
        "n.social_security": "Sécurité sociale",
        "n.consent": "Consentement",
        "n.consent_by": "Signataire du consentement",
        "n.weight_kg": "Poids",
        "v.age.failed": "Âge {value} ans — le protocole inclut de {minimum} à {maximum} ans",
        "v.admission_date.failed": (
            "Admission {delay_days} jours après la date index ({maximum} au plus)"
        ),
        "v.d0_window.failed": "Fenêtre J0 close le {deadline_date} à {deadline_time}",
        "v.diagnosis_confirmed.failed": "Diagnostic non confirmé",
        "v.ward.failed": "Service : autre (dermatologie ou réanimation requis)",
        "v.max_bsa_percent.failed": (
            "SC décollée maximale {value} % (&lt; {threshold} %) après la période d'observation"
        ),
        "v.max_bsa_percent.pending": (
            "SC décollée maximale {value} % (&lt; {threshold} %) : en observation jusqu'au "
            "{observation_end}"
        ),
        "v.pregnant_or_breastfeeding.failed": "Grossesse ou allaitement en cours",
        "v.pregnant_or_breastfeeding.pending": "Test de grossesse : résultat attendu",
        "v.malignancy_10y_or_metastasis.failed": (
            "Cancer dans les 10 dernières années ou métastases"
        ),
        "v.hiv_positive.failed": "Sérologie VIH positive",
        "v.hiv_positive.pending": "Sérologie VIH : résultat attendu",
        "v.active_hepatitis_b_or_c.failed": "Hépatite B ou C active",
        "v.active_hepatitis_b_or_c.pending": "Sérologies hépatites B et C : résultat attendu",
        "v.sars_cov2_positive.failed": "ARN SARS-CoV-2 détecté à l'admission",
        "v.sars_cov2_positive.pending": "RT-PCR SARS-CoV-2 : résultat attendu",
        "v.decompensated_heart_failure.failed": "Insuffisance cardiaque décompensée",
        "v.uncontrolled_epilepsy.failed": "Épilepsie non contrôlée",
        "v.prior_allogeneic_bmt.failed": "Antécédent d'allogreffe de moelle osseuse",
        "v.other_interventional_trial.failed": (
            "Participe à une autre recherche interventionnelle sur un médicament"
        ),
        "v.deprived_of_liberty.failed": (
            "Privé de liberté par décision judiciaire ou administrative, "
            "ou sous protection de justice"
        ),
        "v.compliance_concern.failed": (
            "Situation psychologique, familiale, sociale ou géographique compromettant le suivi"
        ),
        "v.tutorship_or_curatorship.failed": "Sous tutelle ou curatelle",
        "v.psychiatric_care_l1121_6.failed": (
            "Soins psychiatriques sans consentement (SDT, SDRE ; art. L1121-6 CSP)"
        ),
        "v.social_security.failed": "Non affilié à un régime de sécurité sociale",
        "v.consent.failed": "Consentement refusé",
        "v.consent.pending": "Consentement : en attente",
        "v.missing": "{name} : réponse manquante",
        "result.incomplete": "❔ <b>{number} : incomplet</b>\n{reasons}\nReprendre : /resume {number}",
        "day.0": "lundi",
        "day.1": "mardi",
        "day.2": "mercredi",
        "day.3": "jeudi",
        "day.4": "vendredi",
        "day.5": "samedi",
        "day.6": "dimanche",
        "unit.years": "ans",
        "unit.%": "%",
        "unit.kg": "kg",
        "expect.years": "un âge en années (par ex. 54)",
        "expect.%": "un pourcentage (par ex. 35 ou 12,5)",
        "expect.kg": "un poids en kg (par ex. 72,5)",
        "expect./min": "une fréquence en /min (par ex. 120)",
        "expect.mmol/L": "une valeur en mmol/L",
        "expect.g/L": "une valeur en g/L",
        "c.today_on": "Aujourd'hui {date}",
        "c.yesterday_on": "Hier {date}",
        "screen.echo": "✓ {name} : <b>{value}</b>",
        "screen.keep": "Garder ✓ {value}",
        "screen.use_buttons_exclusion": (
            "Cette réponse exclut le patient : touchez « Confirmer l'exclusion » ou "
            "« Modifier la réponse » (ou /back)."
        ),
        "screen.use_buttons_summary": (
            "Touchez « Confirmer » pour obtenir le résultat, ou « Modifier une réponse »."
        ),
        "err.non_ascii_digits": "tapez les chiffres 0 à 9 (clavier latin)",
        "err.wrong_unit": "« {typed} » ne convient pas ici : tapez {expected}",
        "err.year_four_digits": "tapez l'année en 4 chiffres (par ex. 21/11/2026)",
        "err.year_out_of_range": "l'année doit être entre {minimum} et {maximum}",
        "err.day_month_tomorrow": "{day_month} est demain — tapez la date complète",
        "err.day_month_future": ("{day_month} est dans le futur ({date}) — tapez la date complète"),
        "err.day_month_not_this_year": (
            "le {day_month} n'existe pas en {year} — tapez la date complète"
        ),
        "wd.confirm": (
            "Retirer <b>{number}</b> ?\nStatut : {status} · résultat : {outcome}\n{deadline}\n"
            "Motif : {reason}\nTous les rappels de ce patient s'arrêteront."
        ),
        "wd.deadline": "Date limite J0 : {deadline}",
        "wd.no_deadline": "Date limite J0 : —",
        "wd.yes": "✅ Confirmer le retrait",
        "wd.no": "Annuler",
        "wd.cancelled": "Retrait annulé : {number} n'a pas changé, les rappels continuent.",
        "wd.stale": "Cette confirmation n'est plus valable : relancez /withdraw.",
        "scorten.which_unit": (
            "{typed} {unit} n'est pas une valeur plausible de {name}. Quelle unité vouliez-vous "
            "dire ?"
        ),
        "scorten.unit_button": "{number} {unit}",
        "scorten.recorded": "✓ {name} : <b>{value}</b>",
        "scorten.converted": "{typed} = {value}",
        "scorten.short.heart_rate": "Fréquence cardiaque",
        "scorten.short.urea": "Urée",
        "scorten.short.bicarbonate": "Bicarbonates",
        "scorten.short.glucose": "Glycémie",
    }
)
# --- protocol versions, REDCap / ODM exports, CONSORT log, charts (issue 15) -------------------
FR.update(
    {
        "pv.patient": "Protocole : {version}",
        "co.extraction": "{version} · centre {site} · extrait le {when}",
        "co.flow_title": "LYSYME — flux des patients dépistés (CONSORT)",
        "co.flow_footer": (
            "Chaque patient compte une fois (re-dépistages regroupés) et figure dans une seule "
            "case finale ; un patient peut ne pas remplir plusieurs critères."
        ),
        "co.curve_title": "LYSYME — recrutement cumulé",
        "co.curve_caption": "Recrutement cumulé et objectif ({target}) — extrait le {when}",
        "co.no_patient": "Aucun patient dépisté",
        "co.patients": "Patients",
        "co.group.stage": "étape",
        "co.group.box": "devenir final",
        "co.group.criterion": "critère non rempli",
        "co.group.in_progress": "en cours",
        "co.group.withdrawn_after": "retiré alors que",
        "co.stage.screened": "Patients dépistés",
        "co.stage.eligible": "Éligibles (hors consentement)",
        "co.stage.consent_discussed": "Consentement proposé",
        "co.stage.consented": "Consentement obtenu",
        "co.stage.injected": "Injectés (J0)",
        "co.box.injected": "Injectés",
        "co.box.criteria_not_met": "Critères non remplis",
        "co.box.consent_refused": "Consentement refusé",
        "co.box.window_missed": "Fenêtre J0 dépassée",
        "co.box.withdrawn": "Retirés",
        "co.box.abandoned": "Dépistage abandonné",
        "co.box.in_progress": "En cours",
        "co.progress.in_screening": "dépistage en cours",
        "co.progress.pending": "critères en attente",
        "co.progress.awaiting_d0": "éligibles en attente de J0",
        "exp.col.protocol_version": "Version du protocole",
        "exp.choose": "Quel format ? (un fichier par format, avec son usage)",
        "exp.bad_format": "Format inconnu : {format}. Formats : {formats}.",
        "exp.button.xlsx": "XLSX (lecture)",
        "exp.button.csv": "CSV",
        "exp.button.redcap": "REDCap",
        "exp.button.odm": "CDISC ODM",
        "exp.what.xlsx": (
            "Registre de dépistage, {count} dépistage(s) — XLSX pour lecture : valeurs en clair, "
            "feuille CONSORT"
        ),
        "exp.what.csv": (
            "Registre de dépistage, {count} dépistage(s) — CSV pour les machines (codes, "
            "virgule, point décimal)"
        ),
        "exp.what.redcap_dictionary": (
            "REDCap — dictionnaire de données : à charger dans le projet (Designer → Data "
            "Dictionary)"
        ),
        "exp.what.redcap_records": (
            "REDCap — {count} dépistage(s) à importer (Data Import Tool, codes bruts)"
        ),
        "exp.what.odm": (
            "CDISC ODM 1.3.2 — {count} dépistage(s), métadonnées et piste d'audit (EDC, entrepôt)"
        ),
        "rc.scorten_partial": "SCORTEN partiel (valeurs manquantes : le score est un minimum)",
        "rc.form.screening": "Dépistage : critères d'éligibilité",
        "rc.form.eligibility": "Résultat du dépistage",
        "rc.form.injection": "Injection (J0) et retrait",
        "rc.form.severity": "Sévérité à l'inclusion (SCORTEN)",
        "rc.form.follow_up": "Suivi après J0",
        "pv.status": "Règles en vigueur : {version} (depuis le {since})",
        "db.paused": (
            "⏸ Le bot est en pause : sa base de données a été supprimée ou remplacée. Rien "
            "n'a été enregistré. Les administrateurs sont prévenus ; réessayez plus tard."
        ),
        "db.gone": (
            "🛑 <b>Base de données supprimée ou remplacée</b> : {problem}. Le bot n'enregistre "
            "plus rien et répond aux utilisateurs qu'il est en pause. Remettez le bon fichier "
            "en place puis redémarrez le bot (voir le README, « Le bot refuse de démarrer »)."
        ),
    }
)
# --- issue 14: ownership, escalation, /reminders, unreachable users, the morning board ------
FR.update(
    {
        "cmd.reminders": "rappels et leur état : /reminders [HMN-001]",
        "own.btn.take": "✋ Je m'en occupe",
        "own.btn.plan": "🗓 Injection prévue…",
        "own.btn.not_injecting": "🚫 Pas d'injection",
        "own.line.owner": "✋ Pris en charge par <b>{name}</b> ({at})",
        "own.line.nobody": "Personne ne s'en occupe encore.",
        "own.line.planned": "🗓 Injection prévue : <b>{at}</b>",
        "own.line.link": "Ouvrir dans le chat privé : {url}",
        "own.stale": "Ce rappel n'est plus actif.",
        "own.role": "Réservé aux cliniciens.",
        "own.closed": "{number} : {status}, plus rien à faire ici.",
        "own.taken": "Vous vous occupez de {number}. Les rappels vous sont envoyés en privé.",
        "own.see_private": "Je vous écris en privé.",
        "own.plan.ask": (
            "<b>{number}</b> : à quelle heure l'injection est-elle prévue ? Tapez l'heure locale "
            "(<code>14:30</code>) ou la date et l'heure (<code>23/11 09:00</code>), au plus "
            "tard {deadline}."
        ),
        "own.plan.err.not_a_time": (
            "« {text} » n'est pas une heure. Tapez par exemple <code>14:30</code> ou "
            "<code>23/11 09:00</code>."
        ),
        "own.plan.err.past": "Cette heure est déjà passée. Tapez une heure à venir.",
        "own.plan.err.after_deadline": (
            "Cette heure est après la date limite J0 ({deadline}). Tapez une heure avant."
        ),
        "own.plan.done": (
            "🗓 <b>{number}</b> : injection prévue le <b>{at}</b>. Je vous le rappelle à {remind}."
        ),
        "own.wd.ask": (
            "<b>{number}</b> ne sera pas injecté : tapez le motif en quelques mots (sans nom ni "
            "détail identifiant). Ou directement : /withdraw {number} motif"
        ),
        "own.reachable_again": "✅ Je peux de nouveau vous écrire ici : vos rappels arriveront dans ce chat.",
        "own.open_private": (
            "⚠️ Je ne peux pas vous écrire en privé. Ouvrez le chat privé avec moi et tapez "
            "/start : {link}"
        ),
        "esc.unacknowledged": (
            "⚠️ <b>{number}</b> · fenêtre J0 jour {day} : le rappel de 8 h n'a pas eu de "
            "réponse à 10 h. Date limite J0 : {deadline} (reste {left})."
        ),
        "esc.no_plan_last_day": (
            "🚨 <b>URGENT — {number}</b> : dernier jour de la fenêtre J0 et aucune injection "
            "prévue à 14 h. Date limite : <b>{deadline}</b> (reste {left})."
        ),
        "esc.before_planned": "⏰ <b>{number}</b> : injection prévue à <b>{planned}</b>, dans une heure.",
        "esc.planned_passed": (
            "⚠️ <b>{number}</b> : l'injection prévue à {planned} n'est pas enregistrée. "
            "Date limite J0 : {deadline} (reste {left})."
        ),
        "rl.title": "Rappels — {count} ligne(s)",
        "rl.patient": "<b>{number}</b> · {status}",
        "rl.none": "Aucun rappel pour {number}.",
        "rl.no_open": "Aucun patient en cours.",
        "rl.usage": "Usage : /reminders ou /reminders HMN-001",
        "rl.not_found": "{number} : numéro inconnu.",
        "rl.state.scheduled": "prévu {at}",
        "rl.state.claimed": "en cours d'envoi (prévu {at})",
        "rl.state.sent": "envoyé {at}",
        "rl.state.sent_late": "envoyé {at}, en retard (prévu {due})",
        "rl.state.acknowledged": "pris en compte par {who} {at}",
        "rl.state.skipped": "pas envoyé : {why}",
        "rl.state.failed": "échec : {why}",
        "rl.state.cancelled": "annulé : {why}",
        "rl.state.unknown": "sort inconnu (délai dépassé après l'envoi) {at} — non renvoyé",
        "rl.rerouted": "réacheminé (destinataire injoignable : {who})",
        "rl.cancel.injection": "injection enregistrée",
        "rl.cancel.withdrawal": "patient retiré",
        "rl.cancel.other": "réévaluation",
        "rl.kind.d0_window": "fenêtre J0",
        "rl.kind.escalation": "escalade",
        "rl.kind.outcome_change": "changement de résultat",
        "rl.kind.pending": "critères en attente",
        "rl.kind.bsa_expiry": "fin d'observation SCD",
        "rl.kind.consent_patient": "consentement du patient",
        "rl.kind.follow_up": "suivi",
        "rl.kind.idle": "dépistage inachevé",
        "rl.kind.notice": "avis à l'équipe",
        "rl.kind.alert": "alerte",
        "rl.to.team": "équipe",
        "rl.to.owner": "responsable",
        "rl.to.last_actor": "dernier intervenant",
        "rl.to.system": "système",
        "users.unreachable": "⚠️ injoignable en privé ({why})",
        "board.title": "☀️ <b>Patients en cours — {date}</b> (mis à jour {at})",
        "board.empty": "Aucun patient en cours.",
        "board.line": "<b>{number}</b> · {status} · J0 avant {deadline} (reste {left}) · {owner}{pending}",
        "board.nobody": "personne",
        "board.planned": " · prévu {at}",
        "start.patient": "{record}",
    }
)
EN.update(
    {
        "screen.previous_recorded": (
            "✓ <b>{number}</b>: your previous answer was recorded — {question}: "
            "<b>{answer}</b>.\nThe next question had not reached you, so your last message "
            "was not taken as its answer. Here it is:"
        ),
        "screen.not_shown": (
            "<b>{number}</b>: this question had not reached you, so your last message was not "
            "taken as its answer. Here it is:"
        ),
        "error.temporary": (
            "A temporary problem (the database is busy or unavailable): nothing was saved. "
            "Please try again in a moment."
        ),
        "users.bad_id": (
            "{value} is not a Telegram user id: a positive whole number in digits 0-9 (groups, "
            "whose ids are negative, cannot be users)."
        ),
        "rem.admin.clock_jump": (
            "⚠️ The clock moved forward by {gap} since the reminders last ran ({last} → {now}). "
            "Reminders are paused: none is sent and no D0 window is closed until the time is "
            "confirmed. If the time is right (the bot was down), confirm; otherwise fix the "
            "server's clock (sending resumes by itself)."
        ),
        "rem.admin.clock_confirm": "The time is right: resume",
        "rem.admin.clock_confirmed": "Time confirmed: reminders resume (catching up).",
        "rem.admin.clock_nothing": "Reminders are not paused.",
        "n.age": "Age",
        "n.sex": "Sex",
        "n.index_date": "Index date",
        "n.admission_date": "Admission date",
        "n.d0_window": "D0 window",
        "n.diagnosis_confirmed": "Diagnosis",
        "n.ward": "Ward",
        "n.max_bsa_percent": "Detached BSA",
        "n.pregnant_or_breastfeeding": "Pregnancy / breastfeeding status",
        "n.malignancy_10y_or_metastasis": "Malignancy history",
        "n.hiv_positive": "HIV serology",
        "n.active_hepatitis_b_or_c": "Hepatitis B and C serology",
        "n.sars_cov2_positive": "SARS-CoV-2 RT-PCR",
        "n.decompensated_heart_failure": "Heart failure",
        "n.uncontrolled_epilepsy": "Epilepsy",
        "n.prior_allogeneic_bmt": "Allogeneic bone-marrow transplant",
        "n.other_interventional_trial": "Other interventional study",
        "n.deprived_of_liberty": "Deprivation of liberty",
        "n.compliance_concern": "Follow-up feasibility",
        "n.tutorship_or_curatorship": "Tutorship or curatorship",
        "n.psychiatric_care_l1121_6": "Psychiatric care without consent",
        "n.social_security": "Social security",
        "n.consent": "Consent",
        "n.consent_by": "Consent signed by",
        "n.weight_kg": "Weight",
        "v.age.failed": "Age {value} years — the protocol includes {minimum} to {maximum} years",
        "v.admission_date.failed": (
            "Admission {delay_days} days after the index date (at most {maximum})"
        ),
        "v.d0_window.failed": "D0 window closed on {deadline_date} at {deadline_time}",
        "v.diagnosis_confirmed.failed": "Diagnosis not confirmed",
        "v.ward.failed": "Ward: other (dermatology or intensive care required)",
        "v.max_bsa_percent.failed": (
            "Highest detached BSA {value} % (&lt; {threshold} %) after the observation period"
        ),
        "v.max_bsa_percent.pending": (
            "Highest detached BSA {value} % (&lt; {threshold} %): observed until {observation_end}"
        ),
        "v.pregnant_or_breastfeeding.failed": "Pregnant or breastfeeding",
        "v.pregnant_or_breastfeeding.pending": "Pregnancy test: result awaited",
        "v.malignancy_10y_or_metastasis.failed": (
            "Malignancy within the past 10 years, or metastasis"
        ),
        "v.hiv_positive.failed": "Positive HIV serology",
        "v.hiv_positive.pending": "HIV serology: result awaited",
        "v.active_hepatitis_b_or_c.failed": "Active hepatitis B or C",
        "v.active_hepatitis_b_or_c.pending": "Hepatitis B and C serology: result awaited",
        "v.sars_cov2_positive.failed": "SARS-CoV-2 RNA detected on admission",
        "v.sars_cov2_positive.pending": "SARS-CoV-2 RT-PCR: result awaited",
        "v.decompensated_heart_failure.failed": "Decompensated heart failure",
        "v.uncontrolled_epilepsy.failed": "Uncontrolled epilepsy",
        "v.prior_allogeneic_bmt.failed": "Previous allogeneic bone-marrow transplant",
        "v.other_interventional_trial.failed": "Taking part in another interventional drug study",
        "v.deprived_of_liberty.failed": (
            "Deprived of liberty by a judicial or administrative decision, "
            "or under protection of justice"
        ),
        "v.compliance_concern.failed": (
            "Psychological, family, social or geographical situation hampering follow-up"
        ),
        "v.tutorship_or_curatorship.failed": "Under tutorship or curatorship",
        "v.psychiatric_care_l1121_6.failed": (
            "Under psychiatric care without consent (SDT, SDRE; art. L1121-6 CSP)"
        ),
        "v.social_security.failed": "Not affiliated to a social security scheme",
        "v.consent.failed": "Consent refused",
        "v.consent.pending": "Consent: pending",
        "v.missing": "{name}: answer missing",
        "result.incomplete": "❔ <b>{number}: incomplete</b>\n{reasons}\nContinue: /resume {number}",
        "day.0": "Monday",
        "day.1": "Tuesday",
        "day.2": "Wednesday",
        "day.3": "Thursday",
        "day.4": "Friday",
        "day.5": "Saturday",
        "day.6": "Sunday",
        "unit.years": "years",
        "unit.%": "%",
        "unit.kg": "kg",
        "expect.years": "an age in years (e.g. 54)",
        "expect.%": "a percentage (e.g. 35 or 12.5)",
        "expect.kg": "a weight in kg (e.g. 72.5)",
        "expect./min": "a rate per minute (e.g. 120)",
        "expect.mmol/L": "a value in mmol/L",
        "expect.g/L": "a value in g/L",
        "c.today_on": "Today {date}",
        "c.yesterday_on": "Yesterday {date}",
        "screen.echo": "✓ {name}: <b>{value}</b>",
        "screen.keep": "Keep ✓ {value}",
        "screen.use_buttons_exclusion": (
            "This answer excludes the patient: tap “Confirm exclusion” or “Change the answer” "
            "(or /back)."
        ),
        "screen.use_buttons_summary": ("Tap “Confirm” to get the result, or “Change an answer”."),
        "err.non_ascii_digits": "type the digits 0 to 9 (Latin keyboard)",
        "err.wrong_unit": "“{typed}” does not fit here: type {expected}",
        "err.year_four_digits": "type the year with 4 digits (e.g. 21/11/2026)",
        "err.year_out_of_range": "the year must be between {minimum} and {maximum}",
        "err.day_month_tomorrow": "{day_month} is tomorrow — type the full date",
        "err.day_month_future": "{day_month} is in the future ({date}) — type the full date",
        "err.day_month_not_this_year": "{day_month} does not exist in {year} — type the full date",
        "wd.confirm": (
            "Withdraw <b>{number}</b>?\nStatus: {status} · outcome: {outcome}\n{deadline}\n"
            "Reason: {reason}\nAll of this patient's reminders will stop."
        ),
        "wd.deadline": "D0 deadline: {deadline}",
        "wd.no_deadline": "D0 deadline: —",
        "wd.yes": "✅ Confirm withdrawal",
        "wd.no": "Cancel",
        "wd.cancelled": "Withdrawal cancelled: {number} is unchanged, reminders continue.",
        "wd.stale": "This confirmation is no longer valid: run /withdraw again.",
        "scorten.which_unit": (
            "{typed} {unit} is not a plausible {name}. Which unit did you mean?"
        ),
        "scorten.unit_button": "{number} {unit}",
        "scorten.recorded": "✓ {name}: <b>{value}</b>",
        "scorten.converted": "{typed} = {value}",
        "scorten.short.heart_rate": "Heart rate",
        "scorten.short.urea": "Urea",
        "scorten.short.bicarbonate": "Bicarbonate",
        "scorten.short.glucose": "Glucose",
        "pv.patient": "Protocol: {version}",
        "co.extraction": "{version} · site {site} · extracted {when}",
        "co.flow_title": "LYSYME — flow of screened patients (CONSORT)",
        "co.flow_footer": (
            "Each patient counts once (re-screens grouped) and ends in one final box; a "
            "patient may fail several criteria."
        ),
        "co.curve_title": "LYSYME — cumulative recruitment",
        "co.curve_caption": "Cumulative recruitment and target ({target}) — extracted {when}",
        "co.no_patient": "No patient screened",
        "co.patients": "Patients",
        "co.group.stage": "stage",
        "co.group.box": "final box",
        "co.group.criterion": "criterion not met",
        "co.group.in_progress": "in progress",
        "co.group.withdrawn_after": "withdrawn while",
        "co.stage.screened": "Patients screened",
        "co.stage.eligible": "Eligible (consent aside)",
        "co.stage.consent_discussed": "Consent discussed",
        "co.stage.consented": "Consented",
        "co.stage.injected": "Injected (D0)",
        "co.box.injected": "Injected",
        "co.box.criteria_not_met": "Criteria not met",
        "co.box.consent_refused": "Consent refused",
        "co.box.window_missed": "D0 window missed",
        "co.box.withdrawn": "Withdrawn",
        "co.box.abandoned": "Screening abandoned",
        "co.box.in_progress": "Still in progress",
        "co.progress.in_screening": "screening in progress",
        "co.progress.pending": "criteria pending",
        "co.progress.awaiting_d0": "eligible awaiting D0",
        "exp.col.protocol_version": "Protocol version",
        "exp.choose": "Which format? (one file per format, with what it is for)",
        "exp.bad_format": "Unknown format: {format}. Formats: {formats}.",
        "exp.button.xlsx": "XLSX (for people)",
        "exp.button.csv": "CSV",
        "exp.button.redcap": "REDCap",
        "exp.button.odm": "CDISC ODM",
        "exp.what.xlsx": (
            "Screening log, {count} screening(s) — XLSX for people: values in words, CONSORT sheet"
        ),
        "exp.what.csv": (
            "Screening log, {count} screening(s) — CSV for machines (codes, comma, decimal point)"
        ),
        "exp.what.redcap_dictionary": (
            "REDCap — data dictionary: load it into the project (Designer → Data Dictionary)"
        ),
        "exp.what.redcap_records": (
            "REDCap — {count} screening(s) to import (Data Import Tool, raw codes)"
        ),
        "exp.what.odm": (
            "CDISC ODM 1.3.2 — {count} screening(s), metadata and audit trail (EDC, data warehouse)"
        ),
        "rc.scorten_partial": "SCORTEN partial (values missing: the score is a minimum)",
        "rc.form.screening": "Screening: eligibility criteria",
        "rc.form.eligibility": "Screening result",
        "rc.form.injection": "Injection (D0) and withdrawal",
        "rc.form.severity": "Severity at inclusion (SCORTEN)",
        "rc.form.follow_up": "Follow-up after D0",
        "pv.status": "Rules in force: {version} (since {since})",
        "db.paused": (
            "⏸ The bot is paused: its database was deleted or replaced. Nothing was saved. "
            "The admins have been told; please try again later."
        ),
        "db.gone": (
            "🛑 <b>Database deleted or replaced</b>: {problem}. The bot saves nothing more and "
            "tells users it is paused. Put the right file back, then restart the bot (see the "
            'README, "When the bot refuses to start").'
        ),
        "cmd.reminders": "reminders and their state: /reminders [HMN-001]",
        "own.btn.take": "✋ I'm on it",
        "own.btn.plan": "🗓 Injection planned…",
        "own.btn.not_injecting": "🚫 Not injecting",
        "own.line.owner": "✋ Taken by <b>{name}</b> ({at})",
        "own.line.nobody": "Nobody has taken this patient yet.",
        "own.line.planned": "🗓 Injection planned: <b>{at}</b>",
        "own.line.link": "Open in the private chat: {url}",
        "own.stale": "This reminder is no longer active.",
        "own.role": "For clinicians only.",
        "own.closed": "{number}: {status}, nothing left to do here.",
        "own.taken": "You are on {number}. Its reminders now come to you privately.",
        "own.see_private": "I am writing to you privately.",
        "own.plan.ask": (
            "<b>{number}</b>: when is the injection planned? Type the local time "
            "(<code>14:30</code>) or the date and time (<code>23/11 09:00</code>), no later "
            "than {deadline}."
        ),
        "own.plan.err.not_a_time": (
            "“{text}” is not a time. Type for example <code>14:30</code> or "
            "<code>23/11 09:00</code>."
        ),
        "own.plan.err.past": "That time has passed. Type a time to come.",
        "own.plan.err.after_deadline": (
            "That time is after the D0 deadline ({deadline}). Type an earlier time."
        ),
        "own.plan.done": (
            "🗓 <b>{number}</b>: injection planned for <b>{at}</b>. I will remind you at {remind}."
        ),
        "own.wd.ask": (
            "<b>{number}</b> will not be injected: type the reason in a few words (no name or "
            "identifying detail). Or directly: /withdraw {number} reason"
        ),
        "own.reachable_again": "✅ I can write to you here again: your reminders will come to this chat.",
        "own.open_private": (
            "⚠️ I cannot write to you privately. Open the private chat with me and send "
            "/start: {link}"
        ),
        "esc.unacknowledged": (
            "⚠️ <b>{number}</b> · D0 window day {day}: the 08:00 reminder had no answer by "
            "10:00. D0 deadline: {deadline} ({left} left)."
        ),
        "esc.no_plan_last_day": (
            "🚨 <b>URGENT — {number}</b>: last day of the D0 window and no injection planned "
            "at 14:00. Deadline: <b>{deadline}</b> ({left} left)."
        ),
        "esc.before_planned": "⏰ <b>{number}</b>: injection planned at <b>{planned}</b>, in one hour.",
        "esc.planned_passed": (
            "⚠️ <b>{number}</b>: the injection planned at {planned} is not recorded. "
            "D0 deadline: {deadline} ({left} left)."
        ),
        "rl.title": "Reminders — {count} row(s)",
        "rl.patient": "<b>{number}</b> · {status}",
        "rl.none": "No reminder for {number}.",
        "rl.no_open": "No open patient.",
        "rl.usage": "Usage: /reminders or /reminders HMN-001",
        "rl.not_found": "{number}: unknown number.",
        "rl.state.scheduled": "scheduled {at}",
        "rl.state.claimed": "being sent (due {at})",
        "rl.state.sent": "sent {at}",
        "rl.state.sent_late": "sent {at}, late (due {due})",
        "rl.state.acknowledged": "acknowledged by {who} {at}",
        "rl.state.skipped": "skipped: {why}",
        "rl.state.failed": "failed: {why}",
        "rl.state.cancelled": "cancelled: {why}",
        "rl.state.unknown": "fate unknown (timed out after sending) {at} — not resent",
        "rl.rerouted": "rerouted (recipient unreachable: {who})",
        "rl.cancel.injection": "injection recorded",
        "rl.cancel.withdrawal": "patient withdrawn",
        "rl.cancel.other": "re-evaluation",
        "rl.kind.d0_window": "D0 window",
        "rl.kind.escalation": "escalation",
        "rl.kind.outcome_change": "outcome change",
        "rl.kind.pending": "pending criteria",
        "rl.kind.bsa_expiry": "end of BSA observation",
        "rl.kind.consent_patient": "patient's consent",
        "rl.kind.follow_up": "follow-up",
        "rl.kind.idle": "unfinished screening",
        "rl.kind.notice": "team notice",
        "rl.kind.alert": "alert",
        "rl.to.team": "team",
        "rl.to.owner": "owner",
        "rl.to.last_actor": "last actor",
        "rl.to.system": "system",
        "users.unreachable": "⚠️ unreachable privately ({why})",
        "board.title": "☀️ <b>Open patients — {date}</b> (updated {at})",
        "board.empty": "No open patient.",
        "board.line": "<b>{number}</b> · {status} · D0 by {deadline} ({left} left) · {owner}{pending}",
        "board.nobody": "nobody",
        "board.planned": " · planned {at}",
        "start.patient": "{record}",
    }
)

# Issue 14, second pass: the morning board's buttons, the log's board rows, rerouted reminders.
FR.update(
    {
        "board.btn.take": "✋ {number}",
        "board.btn.plan": "🗓 {number}",
        "board.btn.not_injecting": "🚫 {number}",
        "board.legend": "✋ Je m'en occupe · 🗓 Injection prévue… · 🚫 Pas d'injection",
        "board.more": "… et {count} autre(s) : /reminders",
        "rl.kind.board": "tableau du matin",
        "rl.board": "<b>Tableau du matin</b> (équipe)",
        "rl.why.on_board": "sur le tableau du matin",
        "rl.why.no_open": "aucun patient en cours",
        "own.for_unreachable": "👤 Pour le Dr {name}, injoignable en privé :",
        "own.for_unreachable_id": "👤 Pour l'utilisateur {user_id}, injoignable en privé :",
    }
)
EN.update(
    {
        "board.btn.take": "✋ {number}",
        "board.btn.plan": "🗓 {number}",
        "board.btn.not_injecting": "🚫 {number}",
        "board.legend": "✋ I'm on it · 🗓 Injection planned… · 🚫 Not injecting",
        "board.more": "… and {count} more: /reminders",
        "rl.kind.board": "morning board",
        "rl.board": "<b>Morning board</b> (team)",
        "rl.why.on_board": "on the morning board",
        "rl.why.no_open": "no open patient",
        "own.for_unreachable": "👤 For Dr {name}, who cannot be reached privately:",
        "own.for_unreachable_id": "👤 For user {user_id}, who cannot be reached privately:",
    }
)

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
    "q.ward": "Service : dermatologie / réanimation / autre",
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
    "q.psychiatric_care_l1121_6": "Soins psychiatriques (art. L1121-6 CSP)",
    "q.social_security": "Affilié à un régime de sécurité sociale",
    "q.consent": (
        "Consentement écrit (patient ou personne de confiance) : obtenu / en attente / refusé"
    ),
    "q.consent_by": "Qui a signé le consentement ?",
    "q.weight_kg": "Poids (kg)",
    "q.d0_window": "Fenêtre J0 (injection au plus tard 3 jours après l'admission)",
    # hints
    "h.age": "Tapez un nombre entier, par ex. 54.",
    "h.index_date": "Tapez une date (21/11/2026, 21/11) ou touchez un bouton.",
    "h.admission_date": (
        "Admission dans le service (dermatologie ou réanimation) qui traite le SSJ/NET ; "
        "date du transfert si le patient vient d'ailleurs."
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
        "⚠️ <b>Cette réponse exclut le patient</b> : {reasons}.\nConfirmez-la ou modifiez-la."
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
        "L'investigateur confirme l'éligibilité avant J0 (/d0 {number})."
    ),
    "result.pending": "⏳ <b>{number} : en attente</b> — {reasons}.\nCompléter avec /update {number}",
    "result.not_eligible": "⛔ <b>{number} : non éligible</b> — {reasons}.",
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
    "q.ward": "Ward: dermatology / intensive care / other",
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
    "q.psychiatric_care_l1121_6": "Under psychiatric care (art. L1121-6 CSP)",
    "q.social_security": "Affiliated to a social security scheme",
    "q.consent": "Written consent (patient or support person): obtained / pending / refused",
    "q.consent_by": "Who signed the consent?",
    "q.weight_kg": "Weight (kg)",
    "q.d0_window": "D0 window (injection at most 3 days after admission)",
    "h.age": "Type a whole number, e.g. 54.",
    "h.index_date": "Type a date (21/11/2026, 21/11) or tap a button.",
    "h.admission_date": (
        "Admission to the dermatology or intensive-care department treating the SJS/TEN; "
        "the transfer date if the patient came from elsewhere."
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
        "⚠️ <b>This answer excludes the patient</b>: {reasons}.\nConfirm it or change it."
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
        "The investigator confirms eligibility before D0 (/d0 {number})."
    ),
    "result.pending": "⏳ <b>{number}: pending</b> — {reasons}.\nComplete with /update {number}",
    "result.not_eligible": "⛔ <b>{number}: not eligible</b> — {reasons}.",
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

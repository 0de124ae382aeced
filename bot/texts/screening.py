"""/screen /back /cancel /resume (bot/flows/screening.py): the questions' frame, the summary, the
result and the team's message (bot/reminders/closing.py), the SCORTEN values; the words of a
screening's status, outcome and classification, shown everywhere."""

from __future__ import annotations

FR: dict[str, str] = {
    # the screening flow
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
    "screen.ask_first": (
        "Vous avez un dépistage en cours : <b>{number}</b>. Le continuer, ou ouvrir un "
        "nouveau numéro ? (Rien n'est ouvert avant votre choix.)"
    ),
    "screen.continue": "Continuer {number}",
    "screen.open_new": "Ouvrir un nouveau dépistage",
    "screen.idle": (
        "Le dépistage {number} attend une réponse depuis 2 h. Répondez à la question, "
        "ou /cancel pour l'abandonner (abandon automatique après 24 h)."
    ),
    "screen.abandoned_idle": "Dépistage {number} abandonné après 24 h sans réponse.",
    "screen.previous_recorded": (
        "✓ <b>{number}</b> : votre réponse précédente a bien été enregistrée — "
        "{question} : <b>{answer}</b>.\nLa question suivante ne vous avait pas été "
        "affichée ; votre dernier message n'a pas été pris comme réponse. La voici :"
    ),
    "screen.not_shown": (
        "<b>{number}</b> : cette question ne vous avait pas été affichée ; votre dernier "
        "message n'a pas été pris comme réponse. La voici :"
    ),
    "screen.echo": "✓ {name} : <b>{value}</b>",
    "screen.keep": "Garder ✓ {value}",
    "screen.use_buttons_exclusion": (
        "Cette réponse exclut le patient : touchez « Confirmer l'exclusion » ou "
        "« Modifier la réponse » (ou /back)."
    ),
    "screen.use_buttons_summary": (
        "Touchez « Confirmer » pour obtenir le résultat, ou « Modifier une réponse »."
    ),
    # the result of a screening
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
    "result.incomplete": "❔ <b>{number} : incomplet</b>\n{reasons}\nReprendre : /resume {number}",
    # the team's message after a result
    "team.outcome": "{number} : {outcome}{pending}. Date limite J0 : {deadline} (reste {left}).",
    "team.pending_list": " — en attente : {names}",
    # SCORTEN (severity at inclusion)
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
    "scorten.which_unit": (
        "{typed} {unit} n'est pas une valeur plausible de {name}. Quelle unité vouliez-vous dire ?"
    ),
    "scorten.unit_button": "{number} {unit}",
    "scorten.recorded": "✓ {name} : <b>{value}</b>",
    "scorten.converted": "{typed} = {value}",
    "scorten.short.heart_rate": "Fréquence cardiaque",
    "scorten.short.urea": "Urée",
    "scorten.short.bicarbonate": "Bicarbonates",
    "scorten.short.glucose": "Glycémie",
    # a screening's status, outcome and classification
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
}

EN: dict[str, str] = {
    # the screening flow
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
    "screen.ask_first": (
        "You have a screening open: <b>{number}</b>. Continue it, or open a new number? "
        "(Nothing is opened until you choose.)"
    ),
    "screen.continue": "Continue {number}",
    "screen.open_new": "Open a new screening",
    "screen.idle": (
        "Screening {number} has been waiting for an answer for 2 h. Answer the question, "
        "or /cancel to abandon it (abandoned automatically after 24 h)."
    ),
    "screen.abandoned_idle": "Screening {number} abandoned after 24 h without an answer.",
    "screen.previous_recorded": (
        "✓ <b>{number}</b>: your previous answer was recorded — {question}: "
        "<b>{answer}</b>.\nThe next question had not reached you, so your last message "
        "was not taken as its answer. Here it is:"
    ),
    "screen.not_shown": (
        "<b>{number}</b>: this question had not reached you, so your last message was not "
        "taken as its answer. Here it is:"
    ),
    "screen.echo": "✓ {name}: <b>{value}</b>",
    "screen.keep": "Keep ✓ {value}",
    "screen.use_buttons_exclusion": (
        "This answer excludes the patient: tap “Confirm exclusion” or “Change the answer” "
        "(or /back)."
    ),
    "screen.use_buttons_summary": ("Tap “Confirm” to get the result, or “Change an answer”."),
    # the result of a screening
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
    "result.incomplete": "❔ <b>{number}: incomplete</b>\n{reasons}\nContinue: /resume {number}",
    # the team's message after a result
    "team.outcome": "{number}: {outcome}{pending}. D0 deadline: {deadline} ({left} left).",
    "team.pending_list": " — pending: {names}",
    # SCORTEN (severity at inclusion)
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
    "scorten.which_unit": ("{typed} {unit} is not a plausible {name}. Which unit did you mean?"),
    "scorten.unit_button": "{number} {unit}",
    "scorten.recorded": "✓ {name}: <b>{value}</b>",
    "scorten.converted": "{typed} = {value}",
    "scorten.short.heart_rate": "Heart rate",
    "scorten.short.urea": "Urea",
    "scorten.short.bicarbonate": "Bicarbonate",
    "scorten.short.glucose": "Glucose",
    # a screening's status, outcome and classification
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
}

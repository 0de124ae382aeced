"""What the reminder sender writes (bot/reminders/sender.py): the D0 window's steps, notices, admin alerts,
the escalations (bot/reminders/d0_loop.py) and the team's morning board (bot/reminders/board.py)."""

from __future__ import annotations

FR: dict[str, str] = {
    # the reminders (bot/reminders/sender.py); team messages carry the number, status, names of pending
    # criteria and the deadline only
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
    "rem.notice.dose_deviation": "⚠️ <b>{number}</b> : écart de dose après correction.",
    "rem.notice.reopened": (
        "↩️ <b>{number}</b> : une correction a levé le critère qui arrêtait le dépistage ; "
        "des questions n'ont jamais été posées. Le dépistage est rouvert (en cours, "
        "résultat incomplet). Pour poser les questions restantes : /resume {number}"
    ),
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
    "rem.admin.clock_jump": (
        "⚠️ L'horloge a avancé de {gap} depuis le dernier passage des rappels "
        "({last} → {now}). Envoi des rappels suspendu : aucun rappel, aucune fenêtre "
        "J0 close tant que l'heure n'est pas confirmée. Si l'heure est juste (le bot était "
        "arrêté), confirmez ; sinon corrigez l'horloge du serveur (l'envoi reprend seul)."
    ),
    "rem.admin.clock_confirm": "L'heure est juste : reprendre",
    "rem.admin.clock_confirmed": "Heure confirmée : les rappels reprennent (rattrapage).",
    "rem.admin.clock_nothing": "Les rappels ne sont pas suspendus.",
    # escalations (bot/reminders/d0_loop.py)
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
    # the team's morning board (bot/reminders/board.py)
    "board.title": "☀️ <b>Patients en cours — {date}</b> (mis à jour {at})",
    "board.empty": "Aucun patient en cours.",
    "board.line": "<b>{number}</b> · {status} · J0 avant {deadline} (reste {left}) · {owner}{pending}",
    "board.nobody": "personne",
    "board.planned": " · prévu {at}",
    "board.owner": "{name} (depuis {at})",
    "board.btn.take": "✋ {number}",
    "board.btn.plan": "🗓 {number}",
    "board.btn.not_injecting": "🚫 {number}",
    "board.legend": "✋ Je m'en occupe · 🗓 Injection prévue… · 🚫 Pas d'injection",
    "board.more": "… et {count} autre(s) : /reminders",
}

EN: dict[str, str] = {
    # the reminders (bot/reminders/sender.py); team messages carry the number, status, names of pending
    # criteria and the deadline only
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
    "rem.notice.dose_deviation": "⚠️ <b>{number}</b>: dose deviation after a correction.",
    "rem.notice.reopened": (
        "↩️ <b>{number}</b>: a correction lifted the criterion that stopped the screening; "
        "some questions were never asked. The screening is open again (in screening, "
        "outcome incomplete). To ask the remaining questions: /resume {number}"
    ),
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
    "rem.admin.clock_jump": (
        "⚠️ The clock moved forward by {gap} since the reminders last ran ({last} → {now}). "
        "Reminders are paused: none is sent and no D0 window is closed until the time is "
        "confirmed. If the time is right (the bot was down), confirm; otherwise fix the "
        "server's clock (sending resumes by itself)."
    ),
    "rem.admin.clock_confirm": "The time is right: resume",
    "rem.admin.clock_confirmed": "Time confirmed: reminders resume (catching up).",
    "rem.admin.clock_nothing": "Reminders are not paused.",
    # escalations (bot/reminders/d0_loop.py)
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
    # the team's morning board (bot/reminders/board.py)
    "board.title": "☀️ <b>Open patients — {date}</b> (updated {at})",
    "board.empty": "No open patient.",
    "board.line": "<b>{number}</b> · {status} · D0 by {deadline} ({left} left) · {owner}{pending}",
    "board.nobody": "nobody",
    "board.planned": " · planned {at}",
    "board.owner": "{name} (since {at})",
    "board.btn.take": "✋ {number}",
    "board.btn.plan": "🗓 {number}",
    "board.btn.not_injecting": "🚫 {number}",
    "board.legend": "✋ I'm on it · 🗓 Injection planned… · 🚫 Not injecting",
    "board.more": "… and {count} more: /reminders",
}

"""/d0 /withdraw /update and the follow-ups after D0 (bot/flows/injection.py, bot/reminders/follow_ups.py)."""

from __future__ import annotations

FR: dict[str, str] = {
    # /d0: the injection
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
    "d0.already_recorded": "✅ {number} : l'injection est enregistrée ({at}). Rien à refaire.",
    # /withdraw
    "wd.usage": "Usage : /withdraw HMN-001 motif (court, sans nom ni détail identifiant)",
    "wd.done": "<b>{number}</b> retiré. Tous les rappels sont arrêtés.",
    "wd.wrong_status": "{number} ne peut pas être retiré (statut : {status}).",
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
    # /update: a pending criterion
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
    # follow-ups after D0 (bot/reminders/follow_ups.py)
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
    "fu.answered": "✅ Répondu : <b>{answer}</b> — {who}, {at}",
    "fu.who_id": "utilisateur {id}",
    "fu.already": "Déjà enregistré : {answer}. Une correction passe par /correct.",
    "fu.still_hospitalised": "Noté : toujours hospitalisé. Nouveau rappel dans 7 jours.",
    "fu.stale": "Ce suivi n'est plus actif.",
    "fu.before_d0": "la date de sortie ne peut pas précéder J0 ({d0})",
    "fu.invalid": "⚠️ {problem}",
}

EN: dict[str, str] = {
    # /d0: the injection
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
    "d0.already_recorded": "✅ {number}: the injection is recorded ({at}). Nothing to redo.",
    # /withdraw
    "wd.usage": "Usage: /withdraw HMN-001 reason (short, no name or identifying detail)",
    "wd.done": "<b>{number}</b> withdrawn. All reminders stopped.",
    "wd.wrong_status": "{number} cannot be withdrawn (status: {status}).",
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
    # /update: a pending criterion
    "upd.usage": "Usage: /update HMN-001",
    "upd.nothing": "{number}: nothing pending (outcome: {outcome}).",
    "upd.wrong_status": "{number}: no update possible (status: {status}).",
    "upd.intro": "<b>{number}</b>: pending criteria — {names}.",
    "upd.ask": "<b>{number}</b> · update\n{question}",
    "upd.current": "Current answer: {value}",
    "upd.skip": "Unchanged",
    "upd.bsa_closed": (
        "The detached-BSA observation period ended on {end}: the value can no longer be updated."
    ),
    "upd.bsa_lower": "The highest value ({kept} %) is kept.",
    "upd.unchanged": "Unchanged: {question}.",
    "upd.recorded": "✓ {question}: {value}",
    "upd.stale": "This update is no longer active: run /update again.",
    # follow-ups after D0 (bot/reminders/follow_ups.py)
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
    "fu.answered": "✅ Answered: <b>{answer}</b> — {who}, {at}",
    "fu.who_id": "user {id}",
    "fu.already": "Already recorded: {answer}. Corrections go through /correct.",
    "fu.still_hospitalised": "Noted: still in hospital. Next reminder in 7 days.",
    "fu.stale": "This follow-up is no longer active.",
    "fu.before_d0": "the discharge date cannot be before D0 ({d0})",
    "fu.invalid": "⚠️ {problem}",
}

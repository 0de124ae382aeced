"""/correct (bot/flows/correct.py): a correction with its reason, and what it changed."""

from __future__ import annotations

FR: dict[str, str] = {
    "cor.usage": (
        "Usage : /correct HMN-001 id valeur motif\n"
        "• id : un critère, par son libellé ou son identifiant (poids ou weight_kg, âge, "
        "consentement…), valeur comme au dépistage (75,5 kg ; dates : 21/11/2026, hier…)\n"
        "• SCORTEN : heart_rate|urea|bicarbonate|glucose (ou glycémie, urée…), avec "
        "son unité (2,6 g/L, 14 mmol/L, 120 /min), ou « na » si non disponible\n"
        "• injected_at : jj/mm/aaaa hh:mm\n"
        "• withdrawal cancel : annule un retrait enregistré par erreur\n"
        "Le motif est obligatoire (sans donnée identifiante)."
    ),
    "cor.unknown_id": "Nom inconnu : {field}. Noms valides (libellé ou identifiant) : {names}.",
    "cor.name.withdrawal": "Retrait",
    "cor.which_unit": (
        "{typed} {unit} n'est pas plausible pour la {name}, {typed} {other} l'est : "
        "rien n'est modifié. Retapez la valeur avec son unité, par exemple "
        "/correct {number} {measure} {typed} {other} motif"
    ),
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
    "cor.reopened": (
        "↩️ Le dépistage de {number} est rouvert (en cours, résultat incomplet) : "
        "{count} question(s) n'ont jamais été posées. Le clinicien du dépistage et les "
        "coordinateurs sont prévenus. Pour les poser : /resume {number}"
    ),
}

EN: dict[str, str] = {
    "cor.usage": (
        "Usage: /correct HMN-001 id value reason\n"
        "• id: a criterion, by its label or its id (weight or weight_kg, age, consent…), "
        "value as in the screening (75.5 kg; dates: 21/11/2026, yesterday…)\n"
        "• SCORTEN: heart_rate|urea|bicarbonate|glucose, with its unit "
        "(2.6 g/L, 14 mmol/L, 120 /min), or “na” if not available\n"
        "• injected_at: dd/mm/yyyy hh:mm\n"
        "• withdrawal cancel: undoes a withdrawal recorded by mistake\n"
        "The reason is required (no identifying details)."
    ),
    "cor.unknown_id": "Unknown name: {field}. Valid names (label or id): {names}.",
    "cor.name.withdrawal": "Withdrawal",
    "cor.which_unit": (
        "{typed} {unit} is not plausible for {name}, {typed} {other} is: nothing changed. "
        "Type the value again with its unit, e.g. /correct {number} {measure} {typed} {other} reason"
    ),
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
    "cor.reopened": (
        "↩️ The screening of {number} is open again (in screening, outcome incomplete): "
        "{count} question(s) were never asked. The screening clinician and the coordinators "
        "are told. To ask them: /resume {number}"
    ),
}

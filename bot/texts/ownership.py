""" "I'm on it" / "Injection planned…" / "Not injecting" (bot/flows/ownership.py), and reaching a
clinician who cannot be written to privately."""

from __future__ import annotations

FR: dict[str, str] = {
    "own.btn.take": "✋ Je m'en occupe",
    "own.btn.plan": "🗓 Injection prévue…",
    "own.btn.not_injecting": "🚫 Pas d'injection",
    "own.line.owner": "✋ Pris en charge par <b>{name}</b> ({at})",
    "own.line.nobody": "Personne ne s'en occupe encore.",
    "own.line.planned": "🗓 Injection prévue : <b>{at}</b>",
    "own.line.injected": "💉 Injecté : <b>{at}</b>",
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
    "own.for_unreachable": "👤 Pour le Dr {name}, injoignable en privé :",
    "own.for_unreachable_id": "👤 Pour l'utilisateur {user_id}, injoignable en privé :",
}

EN: dict[str, str] = {
    "own.btn.take": "✋ I'm on it",
    "own.btn.plan": "🗓 Injection planned…",
    "own.btn.not_injecting": "🚫 Not injecting",
    "own.line.owner": "✋ Taken by <b>{name}</b> ({at})",
    "own.line.nobody": "Nobody has taken this patient yet.",
    "own.line.planned": "🗓 Injection planned: <b>{at}</b>",
    "own.line.injected": "💉 Injected: <b>{at}</b>",
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
        "“{text}” is not a time. Type for example <code>14:30</code> or <code>23/11 09:00</code>."
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
        "⚠️ I cannot write to you privately. Open the private chat with me and send /start: {link}"
    ),
    "own.for_unreachable": "👤 For Dr {name}, who cannot be reached privately:",
    "own.for_unreachable_id": "👤 For user {user_id}, who cannot be reached privately:",
}

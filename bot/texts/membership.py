"""Team membership (issue 24): /invite and its links, /adduser's contact picker and end dates,
/users, the admins' reminders before an access ends, the lapse, the delegation log
(bot/flows/membership.py, bot/reminders/membership.py, bot/views/export.py)."""

from __future__ import annotations

FR: dict[str, str] = {
    "cmd.invite": "lien d'invitation : /invite rôle [until jj/mm/aaaa]",
    "role.clinician": "clinicien",
    "role.coordinator": "coordinateur",
    "role.admin": "administrateur",
    # /invite
    "mb.invite_usage": (
        "Usage : /invite rôle [until jj/mm/aaaa] — un lien à usage unique, valable 7 jours. "
        "Rôles : {roles}"
    ),
    "mb.invite_made": (
        "Invitation ({roles}), valable jusqu'au {expires}, pour une seule personne. "
        "Transmettez-lui ce lien (il ne sera plus affiché) :\n{link}"
    ),
    "mb.no_username": (
        "Le nom du bot sur Telegram n'est pas encore connu : réessayez quand le bot tourne."
    ),
    "mb.no_pending": "Aucune invitation en attente.",
    "mb.pending_title": "{count} invitation(s) en attente :",
    "mb.pending_line": "n° {number} — {roles} — faite par {by} — valable jusqu'au {expires}",
    "mb.revoke_button": "Révoquer l'invitation n° {number}",
    "mb.revoked": "Invitation n° {number} révoquée : son lien ne fonctionne plus.",
    "mb.revoke_nothing": "Cette invitation n'est plus en attente.",
    # the link opened
    "mb.link_refused": (
        "Ce lien d'invitation n'est pas valable (expiré, déjà utilisé ou incomplet) : "
        "demandez-en un nouveau à un administrateur."
    ),
    "mb.link_in_group": (
        "Ouvrez ce lien d'invitation en conversation privée avec le bot, pas dans un groupe."
    ),
    "mb.too_many": "Trop de tentatives : réessayez dans une heure.",
    "mb.already_listed": (
        "Vous avez déjà accès au bot ({roles}) : ce lien reste valable pour la personne "
        "à qui il est destiné."
    ),
    "mb.welcome": "Bienvenue dans l'équipe LYSYME : vous êtes {roles}.",
    "mb.until_line": "Accès jusqu'au {day} inclus.",
    "mb.joined": "{who} a rejoint l'équipe comme {roles}, par l'invitation de {inviter}.",
    # /adduser without an id
    "mb.pick_intro": (
        "Choisissez la personne dans vos contacts avec le bouton ci-dessous "
        "(ou : /adduser ID rôle [until jj/mm/aaaa])."
    ),
    "mb.pick.clinician": "Choisir un clinicien",
    "mb.pick.coordinator": "Choisir un coordinateur",
    "mb.pick.admin": "Choisir un administrateur",
    "mb.pick_one": "Choisir la personne ({roles})",
    "mb.pick_stale": "Ce choix n'est plus valable : recommencez avec /adduser.",
    # roles and dates typed
    "mb.unknown_role": "Le rôle « {word} » n'existe pas. Rôles : {roles}",
    "mb.no_date": "Après « until », indiquez la date de fin : until jj/mm/aaaa.",
    "mb.bad_date": "{value} n'est pas une date qui existe : écrivez jj/mm/aaaa.",
    "mb.past_date": "{value} est passé : la date de fin doit être aujourd'hui ou plus tard.",
    "mb.extra": "Je n'ai pas compris « {value} » après la date : until jj/mm/aaaa, rien d'autre.",
    # end dates
    "mb.ends_soon": (
        "L'accès de {who} ({roles}) prend fin le {day} au soir. Prolonger de 6 mois ?"
    ),
    "mb.extend_button": "Prolonger de 6 mois",
    "mb.extended": "Accès de {who} prolongé jusqu'au {day} inclus.",
    "mb.extend_done": "Prolongé.",
    "mb.extend_stale": "Cette date de fin a déjà changé : voyez /users.",
    "mb.lapsed_you": (
        "Votre accès au bot LYSYME a pris fin (date de fin : {day}). Pour le prolonger, "
        "adressez-vous à un administrateur de l'étude."
    ),
    "mb.handover": ("L'accès de {who} a pris fin. Ses patients en cours sont à reprendre :"),
    "mb.handover_line": "• {number} ({status}) : {command}",
    # /users
    "mb.since": "depuis le {day} (par {by})",
    "mb.no_end": "sans date de fin",
    "mb.by_settings": "configuration LYSYME_ADMIN_IDS",
    "mb.users_pending": "{count} invitation(s) en attente : /invite pour les voir.",
    # the delegation log (export)
    "dl.sheet": "Délégation",
    "dl.person_id": "Identifiant Telegram",
    "dl.name": "Nom",
    "dl.role": "Rôle",
    "dl.from": "Du",
    "dl.until": "Date de fin prévue",
    "dl.to": "Au",
    "dl.granted_by": "Accordé par",
    "dl.removed_by": "Retiré par",
    "dl.invitation": "Invitation n°",
    "dl.acts": "Actes",
    "dl.acts_by_kind": "Actes par type",
    "dl.lapsed": "fin de l'accès (date de fin atteinte)",
    "dl.settings": "configuration",
    "dl.orphans": "Actes hors de toute période d'accès",
    # the kinds of acts (the audit trail's actions), as the log lists them
    "dl.act.screening_opened": "dépistage ouvert",
    "dl.act.answer": "réponse",
    "dl.act.answer_withdrawn": "réponse retirée",
    "dl.act.back": "retour à une question",
    "dl.act.change": "réponse modifiée",
    "dl.act.resume": "dépistage repris",
    "dl.act.status": "statut",
    "dl.act.outcome": "résultat",
    "dl.act.scorten": "SCORTEN",
    "dl.act.correction": "correction",
    "dl.act.reopened": "dépistage rouvert",
    "dl.act.withdrawal": "retrait",
    "dl.act.injection": "injection enregistrée",
    "dl.act.d0_fact": "donnée du J0",
    "dl.act.protocol_deviation": "déviation au protocole",
    "dl.act.follow_up": "réponse de suivi",
    "dl.act.acknowledged": "rappel pris en compte",
    "dl.act.ownership": "patient pris en charge",
    "dl.act.export": "export",
    "dl.act.backup": "sauvegarde",
    "dl.act.language": "langue",
    "dl.act.user_added": "utilisateur ajouté",
    "dl.act.user_removed": "utilisateur retiré",
    "dl.act.user_joined": "arrivée par invitation",
    "dl.act.access_until": "date de fin d’accès",
    "dl.act.invitation_created": "invitation créée",
    "dl.act.invitation_revoked": "invitation révoquée",
    "dl.act.invitation_refused": "invitation refusée",
    "dl.act.database_adopted": "base adoptée",
    "dl.act.team_chat_migrated": "groupe de l’équipe migré",
    "exp.what.delegation": (
        "Registre de délégation (CSV) : qui a eu quel rôle, du … au …, accordé et retiré "
        "par qui, et ses actes, tiré du journal d'audit."
    ),
    "exp.button.delegation": "Registre de délégation",
}

EN: dict[str, str] = {
    "cmd.invite": "invitation link: /invite role [until dd/mm/yyyy]",
    "role.clinician": "clinician",
    "role.coordinator": "coordinator",
    "role.admin": "admin",
    # /invite
    "mb.invite_usage": (
        "Usage: /invite role [until dd/mm/yyyy] — a single-use link, valid 7 days. Roles: {roles}"
    ),
    "mb.invite_made": (
        "Invitation ({roles}), valid until {expires}, for one person. "
        "Send them this link (it will not be shown again):\n{link}"
    ),
    "mb.no_username": "The bot's Telegram name is not known yet: try again once the bot runs.",
    "mb.no_pending": "No pending invitation.",
    "mb.pending_title": "{count} pending invitation(s):",
    "mb.pending_line": "no. {number} — {roles} — made by {by} — valid until {expires}",
    "mb.revoke_button": "Revoke invitation no. {number}",
    "mb.revoked": "Invitation no. {number} revoked: its link no longer works.",
    "mb.revoke_nothing": "This invitation is no longer pending.",
    # the link opened
    "mb.link_refused": (
        "This invitation link is not valid (expired, already used or incomplete): "
        "ask an admin for a new one."
    ),
    "mb.link_in_group": "Open this invitation link in a private chat with the bot, not in a group.",
    "mb.too_many": "Too many attempts: try again in an hour.",
    "mb.already_listed": (
        "You already have access to the bot ({roles}): this link stays valid for the "
        "person it is meant for."
    ),
    "mb.welcome": "Welcome to the LYSYME team: you are {roles}.",
    "mb.until_line": "Access until {day} included.",
    "mb.joined": "{who} joined the team as {roles}, through {inviter}'s invitation.",
    # /adduser without an id
    "mb.pick_intro": (
        "Choose the person from your contacts with the button below "
        "(or: /adduser ID role [until dd/mm/yyyy])."
    ),
    "mb.pick.clinician": "Choose a clinician",
    "mb.pick.coordinator": "Choose a coordinator",
    "mb.pick.admin": "Choose an admin",
    "mb.pick_one": "Choose the person ({roles})",
    "mb.pick_stale": "This choice is no longer valid: start again with /adduser.",
    # roles and dates typed
    "mb.unknown_role": "There is no role “{word}”. Roles: {roles}",
    "mb.no_date": "After “until”, give the last day: until dd/mm/yyyy.",
    "mb.bad_date": "{value} is not a date that exists: write dd/mm/yyyy.",
    "mb.past_date": "{value} is in the past: the last day must be today or later.",
    "mb.extra": "I did not understand “{value}” after the date: until dd/mm/yyyy, nothing else.",
    # end dates
    "mb.ends_soon": "The access of {who} ({roles}) ends on {day} at midnight. Extend it by 6 months?",
    "mb.extend_button": "Extend by 6 months",
    "mb.extended": "Access of {who} extended until {day} included.",
    "mb.extend_done": "Extended.",
    "mb.extend_stale": "This end date has changed already: see /users.",
    "mb.lapsed_you": (
        "Your access to the LYSYME bot has ended (last day: {day}). To extend it, ask a "
        "study admin."
    ),
    "mb.handover": "The access of {who} has ended. Their open patients need someone to take over:",
    "mb.handover_line": "• {number} ({status}): {command}",
    # /users
    "mb.since": "since {day} (by {by})",
    "mb.no_end": "no end date",
    "mb.by_settings": "LYSYME_ADMIN_IDS setting",
    "mb.users_pending": "{count} pending invitation(s): /invite to see them.",
    # the delegation log (export)
    "dl.sheet": "Delegation",
    "dl.person_id": "Telegram id",
    "dl.name": "Name",
    "dl.role": "Role",
    "dl.from": "From",
    "dl.until": "Planned last day",
    "dl.to": "To",
    "dl.granted_by": "Granted by",
    "dl.removed_by": "Removed by",
    "dl.invitation": "Invitation no.",
    "dl.acts": "Acts",
    "dl.acts_by_kind": "Acts by kind",
    "dl.lapsed": "end of access (end date reached)",
    "dl.settings": "settings",
    "dl.orphans": "Acts outside any access period",
    # the kinds of acts (the audit trail's actions), as the log lists them
    "dl.act.screening_opened": "screening opened",
    "dl.act.answer": "answer",
    "dl.act.answer_withdrawn": "answer withdrawn",
    "dl.act.back": "back to a question",
    "dl.act.change": "answer changed",
    "dl.act.resume": "screening resumed",
    "dl.act.status": "status",
    "dl.act.outcome": "outcome",
    "dl.act.scorten": "SCORTEN",
    "dl.act.correction": "correction",
    "dl.act.reopened": "screening reopened",
    "dl.act.withdrawal": "withdrawal",
    "dl.act.injection": "injection recorded",
    "dl.act.d0_fact": "D0 fact",
    "dl.act.protocol_deviation": "protocol deviation",
    "dl.act.follow_up": "follow-up answer",
    "dl.act.acknowledged": "reminder acknowledged",
    "dl.act.ownership": "patient taken",
    "dl.act.export": "export",
    "dl.act.backup": "backup",
    "dl.act.language": "language",
    "dl.act.user_added": "user added",
    "dl.act.user_removed": "user removed",
    "dl.act.user_joined": "joined by invitation",
    "dl.act.access_until": "access end date",
    "dl.act.invitation_created": "invitation created",
    "dl.act.invitation_revoked": "invitation revoked",
    "dl.act.invitation_refused": "invitation refused",
    "dl.act.database_adopted": "database adopted",
    "dl.act.team_chat_migrated": "team chat migrated",
    "exp.what.delegation": (
        "Delegation log (CSV): who held which role, from when to when, granted and removed "
        "by whom, and their acts, derived from the audit trail."
    ),
    "exp.button.delegation": "Delegation log",
}

"""The gate and the basic commands: access refusals, /help, /language, /adduser, /removeuser,
/users, and the errors any flow may show (bot/telegram/handlers.py, bot/common.py, bot/flows/basic.py)."""

from __future__ import annotations

FR: dict[str, str] = {
    # access gate (bot/common.py, bot/telegram/handlers.py)
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
    # /help: the introduction and one line per command
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
    "cmd.adduser": "ajouter : /adduser ID rôle [until jj/mm/aaaa], sans ID : choisir un contact",
    "cmd.removeuser": "retirer : /removeuser ID",
    "cmd.reminders": "rappels et leur état : /reminders [HMN-001]",
    # /language
    "language.set": "Langue : français.",
    "language.usage": "Usage : /language fr ou /language en",
    # errors any flow may show
    "error.generic": "Désolé, une erreur est survenue. Rien n'a été enregistré ; réessayez.",
    "error.not_understood": "Je n'ai pas compris. /help liste les commandes.",
    "error.temporary": (
        "Problème temporaire (base de données occupée ou indisponible) : rien n'a été "
        "enregistré. Réessayez dans un instant."
    ),
    # /adduser /removeuser /users
    "users.title": "{count} utilisateur(s) :",
    "users.usage_add": (
        "Usage : /adduser ID rôle [rôle…] [until jj/mm/aaaa], ou /adduser rôle pour choisir "
        "la personne dans vos contacts — rôles : {roles}"
    ),
    "users.usage_remove": "Usage : /removeuser ID",
    "users.added": "Utilisateur {user_id} : {roles}.",
    "users.removed": "Utilisateur {user_id} retiré : son accès cesse immédiatement.",
    "users.unknown": "Utilisateur {user_id} inconnu.",
    "users.not_self": "Vous ne pouvez pas vous retirer vous-même.",
    "users.bad_id": (
        "{value} n'est pas un identifiant d'utilisateur Telegram : un nombre entier positif "
        "en chiffres 0-9 (les groupes, négatifs, ne peuvent pas être des utilisateurs)."
    ),
    "users.unreachable": "⚠️ injoignable en privé ({why})",
}

EN: dict[str, str] = {
    # access gate (bot/common.py, bot/telegram/handlers.py)
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
    # /help: the introduction and one line per command
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
    "cmd.adduser": "add: /adduser ID role [until dd/mm/yyyy], without ID: pick a contact",
    "cmd.removeuser": "remove: /removeuser ID",
    "cmd.reminders": "reminders and their state: /reminders [HMN-001]",
    # /language
    "language.set": "Language: English.",
    "language.usage": "Usage: /language fr or /language en",
    # errors any flow may show
    "error.generic": "Sorry, something went wrong. Nothing was saved; please try again.",
    "error.not_understood": "I did not understand. /help lists the commands.",
    "error.temporary": (
        "A temporary problem (the database is busy or unavailable): nothing was saved. "
        "Please try again in a moment."
    ),
    # /adduser /removeuser /users
    "users.title": "{count} user(s):",
    "users.usage_add": (
        "Usage: /adduser ID role [role…] [until dd/mm/yyyy], or /adduser role to pick the "
        "person from your contacts — roles: {roles}"
    ),
    "users.usage_remove": "Usage: /removeuser ID",
    "users.added": "User {user_id}: {roles}.",
    "users.removed": "User {user_id} removed: their access ends now.",
    "users.unknown": "Unknown user {user_id}.",
    "users.not_self": "You cannot remove yourself.",
    "users.bad_id": (
        "{value} is not a Telegram user id: a positive whole number in digits 0-9 (groups, "
        "whose ids are negative, cannot be users)."
    ),
    "users.unreachable": "⚠️ unreachable privately ({why})",
}

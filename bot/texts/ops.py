"""Alerts about the bot itself, to the admins: the audit trail's check, automatic backups, a
database file deleted or replaced (bot/app.py, bot/backups.py, bot/telegram/handlers.py)."""

from __future__ import annotations

FR: dict[str, str] = {
    # the audit trail's check at start-up (bot/app.py)
    "audit.broken": (
        "⚠️ Piste d'audit : la vérification a échoué — {problem}. Lancez lysyme-bot verify-audit."
    ),
    # automatic backups (bot/backups.py)
    "bk.failed": (
        "⚠️ Sauvegarde automatique de la base : échec — {problem}. Vérifiez "
        "LYSYME_BACKUP_DIR (dossier, droits, place). Vous ne serez pas prévenu à nouveau "
        "avant qu'une sauvegarde réussisse."
    ),
    "bk.recovered": "✅ Sauvegarde automatique rétablie : {file}.",
    # the database file deleted or replaced (bot/telegram/handlers.py, bot/app.py)
    "db.paused": (
        "⏸ Le bot est en pause : sa base de données a été supprimée ou remplacée. Rien "
        "n'a été enregistré. Les administrateurs sont prévenus ; réessayez plus tard."
    ),
    "db.fault": (
        "⚠️ <b>Base de données</b> : {problem}. Les réponses sont enregistrées, mais "
        "réparez ceci (droits du fichier, place sur le disque) : voir le README."
    ),
    "db.gone": (
        "🛑 <b>Base de données supprimée ou remplacée</b> : {problem}. Le bot n'enregistre "
        "plus rien et répond aux utilisateurs qu'il est en pause. Remettez le bon fichier "
        "en place puis redémarrez le bot (voir le README, « Le bot refuse de démarrer »)."
    ),
}

EN: dict[str, str] = {
    # the audit trail's check at start-up (bot/app.py)
    "audit.broken": "⚠️ Audit trail: verification failed — {problem}. Run lysyme-bot verify-audit.",
    # automatic backups (bot/backups.py)
    "bk.failed": (
        "⚠️ Automatic database backup failed — {problem}. Check LYSYME_BACKUP_DIR "
        "(folder, permissions, space). You will not be told again until a backup works."
    ),
    "bk.recovered": "✅ Automatic backup works again: {file}.",
    # the database file deleted or replaced (bot/telegram/handlers.py, bot/app.py)
    "db.paused": (
        "⏸ The bot is paused: its database was deleted or replaced. Nothing was saved. "
        "The admins have been told; please try again later."
    ),
    "db.fault": (
        "⚠️ <b>Database</b>: {problem}. Answers are saved, but fix this (the file's "
        "permissions, disk space): see the README."
    ),
    "db.gone": (
        "🛑 <b>Database deleted or replaced</b>: {problem}. The bot saves nothing more and "
        "tells users it is paused. Put the right file back, then restart the bot (see the "
        'README, "When the bot refuses to start").'
    ),
}

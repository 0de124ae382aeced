"""/export (bot/views/export.py, bot/exports/): CSV, XLSX, REDCap and CDISC ODM files, their
captions and column names."""

from __future__ import annotations

FR: dict[str, str] = {
    # /export: files, captions, columns
    "exp.sheet.screenings": "Dépistages",
    "exp.sheet.answers": "Réponses",
    "exp.sheet.counts": "Effectifs",
    "con.welcome": (
        "Console LYSYME — /screen pour commencer ; /1, /2… touche un bouton (un nombre seul "
        "est une réponse) ; /help ; Ctrl-D pour quitter."
    ),
    "con.written": "Fichier écrit : {path}",
    "con.cannot_write": "Impossible d'écrire {path} : {problem}",
    "exp.sheet.about": "À propos",
    "exp.about.key": "Élément",
    "exp.about.value": "Valeur",
    "exp.about.database_id": "Identifiant de la base",
    "exp.about.audit_rows": "Lignes de la piste d'audit",
    "exp.about.audit_head": "Empreinte de la dernière ligne d'audit",
    "exp.about.exported_at": "Exporté le",
    "exp.src.screening": "dépistage",
    "exp.src.correction": "correction",
    "exp.src.update": "mise à jour",
    "exp.src.not_applicable": "ne s'applique plus",
    "exp.src.scorten": "SCORTEN",
    "exp.src.follow_up": "suivi",
    "exp.src.other": "autre",
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
    "exp.col.d0_weight_kg": "Poids retenu à J0 (kg)",
    "exp.col.dose_given_cells": "Dose injectée (cellules)",
    "exp.col.d0_confirmed_by": "Éligibilité confirmée par (id Telegram)",
    "exp.col.dose_deviation_pct": "Écart de dose au poids actuel (%)",
    "exp.col.dose_deviation": "Écart de dose (> 10 %)",
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
    "exp.cat.screened": "patients au dépistage terminé",
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
        "REDCap — dictionnaire de données : à charger dans le projet (Designer → Data Dictionary)"
    ),
    "exp.what.redcap_records": (
        "REDCap — {count} dépistage(s) à importer (Data Import Tool, codes bruts)"
    ),
    "exp.what.odm": (
        "CDISC ODM 1.3.2 (transactionnel) — {count} dépistage(s) : chaque valeur saisie puis "
        "corrigée, avec sa piste d'audit (EDC, entrepôt)"
    ),
    "exp.what.odm_snapshot": (
        "CDISC ODM 1.3.2 (instantané) — {count} dépistage(s) : valeurs actuelles et piste d'audit"
    ),
    "exp.button.odm-snapshot": "ODM (instantané)",
    # REDCap and CDISC ODM forms (bot/exports/)
    "rc.scorten_partial": "SCORTEN partiel (valeurs manquantes : le score est un minimum)",
    "rc.form.screening": "Dépistage : critères d'éligibilité",
    "rc.form.eligibility": "Résultat du dépistage",
    "rc.form.injection": "Injection (J0) et retrait",
    "rc.form.severity": "Sévérité à l'inclusion (SCORTEN)",
    "rc.form.follow_up": "Suivi après J0",
}

EN: dict[str, str] = {
    # /export: files, captions, columns
    "exp.sheet.screenings": "Screenings",
    "exp.sheet.answers": "Answers",
    "exp.sheet.counts": "Counts",
    "con.welcome": (
        "LYSYME console — /screen to start; /1, /2… taps a button (a plain number is an "
        "answer); /help; Ctrl-D to quit."
    ),
    "con.written": "File written: {path}",
    "con.cannot_write": "Cannot write {path}: {problem}",
    "exp.sheet.about": "about",
    "exp.about.key": "Item",
    "exp.about.value": "Value",
    "exp.about.database_id": "Database id",
    "exp.about.audit_rows": "Audit trail rows",
    "exp.about.audit_head": "Hash of the last audit row",
    "exp.about.exported_at": "Exported at",
    "exp.src.screening": "screening",
    "exp.src.correction": "correction",
    "exp.src.update": "update",
    "exp.src.not_applicable": "no longer applies",
    "exp.src.scorten": "SCORTEN",
    "exp.src.follow_up": "follow-up",
    "exp.src.other": "other",
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
    "exp.col.d0_weight_kg": "Weight used at D0 (kg)",
    "exp.col.dose_given_cells": "Dose given (cells)",
    "exp.col.d0_confirmed_by": "Eligibility confirmed by (Telegram id)",
    "exp.col.dose_deviation_pct": "Dose gap at the current weight (%)",
    "exp.col.dose_deviation": "Dose deviation (> 10 %)",
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
    "exp.cat.screened": "patients with a completed screening",
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
        "CDISC ODM 1.3.2 (transactional) — {count} screening(s): every value entered then "
        "corrected, with its audit trail (EDC, data warehouse)"
    ),
    "exp.what.odm_snapshot": (
        "CDISC ODM 1.3.2 (snapshot) — {count} screening(s): current values and audit trail"
    ),
    "exp.button.odm-snapshot": "ODM (snapshot)",
    # REDCap and CDISC ODM forms (bot/exports/)
    "rc.scorten_partial": "SCORTEN partial (values missing: the score is a minimum)",
    "rc.form.screening": "Screening: eligibility criteria",
    "rc.form.eligibility": "Screening result",
    "rc.form.injection": "Injection (D0) and withdrawal",
    "rc.form.severity": "Severity at inclusion (SCORTEN)",
    "rc.form.follow_up": "Follow-up after D0",
}

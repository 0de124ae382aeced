"""/status (bot/views/status.py) and the protocol version a screening follows."""

from __future__ import annotations

FR: dict[str, str] = {
    # /status
    "st.title": "<b>Patients en cours</b> ({count})",
    "st.none": "Aucun patient en cours.",
    "st.summary": (
        "Dépistés {screened} · en dépistage {in_screening} · en attente {pending} · "
        "éligibles en attente de J0 {eligible} · injectés {injected} · "
        "non éligibles {not_eligible} · retirés {withdrawn} "
        "(+ fenêtre J0 dépassée {window_missed}, abandonnés {abandoned})"
    ),
    "st.deadline": "J0 avant le {deadline} (reste {left})",
    "st.deadline_past": "J0 : date limite {deadline} dépassée",
    "st.no_deadline": "J0 : date d'admission pas encore saisie",
    "st.pending": "En attente : {names}",
    "st.awaiting_d0": "À faire : l'injection (/d0 {number})",
    "st.at_question": "Question en cours : {question} (activité {when})",
    "st.at_summary": "Récapitulatif à confirmer (activité {when})",
    "st.at_exclusion": "Exclusion à confirmer (activité {when})",
    # protocol versions
    "pv.patient": "Protocole : {version}",
    "pv.status": "Règles en vigueur : {version} (depuis le {since})",
}

EN: dict[str, str] = {
    # /status
    "st.title": "<b>Open patients</b> ({count})",
    "st.none": "No open patient.",
    "st.summary": (
        "Screened {screened} · in screening {in_screening} · pending {pending} · "
        "eligible awaiting D0 {eligible} · injected {injected} · "
        "not eligible {not_eligible} · withdrawn {withdrawn} "
        "(+ D0 window missed {window_missed}, abandoned {abandoned})"
    ),
    "st.deadline": "D0 by {deadline} ({left} left)",
    "st.deadline_past": "D0: deadline {deadline} passed",
    "st.no_deadline": "D0: admission date not entered yet",
    "st.pending": "Pending: {names}",
    "st.awaiting_d0": "To do: the injection (/d0 {number})",
    "st.at_question": "Current question: {question} (activity {when})",
    "st.at_summary": "Summary awaiting confirmation (activity {when})",
    "st.at_exclusion": "Exclusion awaiting confirmation (activity {when})",
    # protocol versions
    "pv.patient": "Protocol: {version}",
    "pv.status": "Rules in force: {version} (since {since})",
}

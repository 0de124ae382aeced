"""/stats (bot/views/stats.py): the inclusion funnel, D30 mortality, the CONSORT flow and the
cumulative recruitment (also the XLSX export's CONSORT sheet)."""

from __future__ import annotations

FR: dict[str, str] = {
    # /stats: the funnel chart and D30 mortality
    "stats.title": "LYSYME — entonnoir d'inclusion",
    "stats.screened": "Dépistés",
    "stats.eligible": "Éligibles ou en attente",
    "stats.injected": "Injectés",
    "stats.reasons_title": "Motifs de non-inclusion",
    "stats.reason_unknown": "Motif non précisé",
    "stats.caption": (
        "Dépistés {screened} · éligibles ou en attente {eligible} · injectés {injected} "
        "· objectif {target}"
    ),
    "stats.mortality": (
        "J30 : {observed} décès observé(s) pour {expected} attendu(s) selon SCORTEN "
        "({n} patient(s) suivis, SCORTEN complet pour {complete})"
    ),
    "stats.observed": "Décès observés à J30",
    "stats.expected": "Décès attendus (SCORTEN)",
    # CONSORT flow and cumulative recruitment (the charts and the XLSX sheet)
    "co.extraction": "{version} · centre {site} · extrait le {when}",
    "co.flow_title": "LYSYME — flux des patients dépistés (CONSORT)",
    "co.flow_footer": (
        "Chaque patient compte une fois (re-dépistages regroupés) et figure dans une seule "
        "case finale ; un patient peut ne pas remplir plusieurs critères."
    ),
    "co.curve_title": "LYSYME — recrutement cumulé",
    "co.curve_caption": "Recrutement cumulé et objectif ({target}) — extrait le {when}",
    "co.no_patient": "Aucun patient dépisté",
    "co.patients": "Patients",
    "co.group.stage": "étape",
    "co.group.box": "devenir final",
    "co.group.criterion": "critère non rempli",
    "co.group.in_progress": "en cours",
    "co.group.withdrawn_after": "retiré alors que",
    "co.stage.screened": "Patients dépistés",
    "co.stage.eligible": "Éligibles (hors consentement)",
    "co.stage.consent_discussed": "Consentement proposé",
    "co.stage.consented": "Consentement obtenu",
    "co.stage.injected": "Injectés (J0)",
    "co.box.injected": "Injectés",
    "co.box.criteria_not_met": "Critères non remplis",
    "co.box.consent_refused": "Consentement refusé",
    "co.box.window_missed": "Fenêtre J0 dépassée",
    "co.box.withdrawn": "Retirés",
    "co.box.abandoned": "Dépistage abandonné",
    "co.box.in_progress": "En cours",
    "co.count": "{label} : {n}",
    "co.progress.in_screening": "dépistage en cours",
    "co.progress.pending": "critères en attente",
    "co.progress.awaiting_d0": "éligibles en attente de J0",
}

EN: dict[str, str] = {
    # /stats: the funnel chart and D30 mortality
    "stats.title": "LYSYME — inclusion funnel",
    "stats.screened": "Screened",
    "stats.eligible": "Eligible or pending",
    "stats.injected": "Injected",
    "stats.reasons_title": "Reasons for non-inclusion",
    "stats.reason_unknown": "Reason not given",
    "stats.caption": (
        "Screened {screened} · eligible or pending {eligible} · injected {injected} "
        "· target {target}"
    ),
    "stats.mortality": (
        "D30: {observed} death(s) observed vs {expected} expected from SCORTEN "
        "({n} patient(s) followed, complete SCORTEN for {complete})"
    ),
    "stats.observed": "Observed D30 deaths",
    "stats.expected": "Expected (SCORTEN)",
    # CONSORT flow and cumulative recruitment (the charts and the XLSX sheet)
    "co.extraction": "{version} · site {site} · extracted {when}",
    "co.flow_title": "LYSYME — flow of screened patients (CONSORT)",
    "co.flow_footer": (
        "Each patient counts once (re-screens grouped) and ends in one final box; a "
        "patient may fail several criteria."
    ),
    "co.curve_title": "LYSYME — cumulative recruitment",
    "co.curve_caption": "Cumulative recruitment and target ({target}) — extracted {when}",
    "co.no_patient": "No patient screened",
    "co.patients": "Patients",
    "co.group.stage": "stage",
    "co.group.box": "final box",
    "co.group.criterion": "criterion not met",
    "co.group.in_progress": "in progress",
    "co.group.withdrawn_after": "withdrawn while",
    "co.stage.screened": "Patients screened",
    "co.stage.eligible": "Eligible (consent aside)",
    "co.stage.consent_discussed": "Consent discussed",
    "co.stage.consented": "Consented",
    "co.stage.injected": "Injected (D0)",
    "co.box.injected": "Injected",
    "co.box.criteria_not_met": "Criteria not met",
    "co.box.consent_refused": "Consent refused",
    "co.box.window_missed": "D0 window missed",
    "co.box.withdrawn": "Withdrawn",
    "co.box.abandoned": "Screening abandoned",
    "co.box.in_progress": "Still in progress",
    "co.count": "{label}: {n}",
    "co.progress.in_screening": "screening in progress",
    "co.progress.pending": "criteria pending",
    "co.progress.awaiting_d0": "eligible awaiting D0",
}

"""One vocabulary per criterion (bot/criteria.py): the question (the protocol's words, DESIGN.md
table, so a clinician recognises each criterion), its hint, its short name and its verdicts."""

from __future__ import annotations

FR: dict[str, str] = {
    # questions (DESIGN.md labels)
    "q.age": "Âge (ans)",
    "q.sex": "Sexe",
    "q.index_date": "Date des premiers symptômes (date index)",
    "q.admission_date": "Date d'admission",
    "q.diagnosis_confirmed": "Diagnostic confirmé de SSJ, chevauchement SSJ/NET ou NET",
    "q.ward": "Service d'hospitalisation",
    "q.max_bsa_percent": "Surface corporelle décollée ou décollable maximale (%)",
    "q.pregnant_or_breastfeeding": "Grossesse ou allaitement",
    "q.malignancy_10y_or_metastasis": "Cancer dans les 10 dernières années ou métastases",
    "q.hiv_positive": "Sérologie VIH positive",
    "q.active_hepatitis_b_or_c": "Hépatite B ou C active",
    "q.sars_cov2_positive": "ARN SARS-CoV-2 détecté à l'admission (RT-PCR)",
    "q.decompensated_heart_failure": "Insuffisance cardiaque décompensée",
    "q.uncontrolled_epilepsy": "Épilepsie non contrôlée",
    "q.prior_allogeneic_bmt": "Antécédent d'allogreffe de moelle osseuse",
    "q.other_interventional_trial": (
        "Participation à une autre recherche interventionnelle sur un médicament"
    ),
    "q.deprived_of_liberty": (
        "Privé de liberté par décision judiciaire ou administrative, ou sous protection de justice"
    ),
    "q.compliance_concern": (
        "Situation psychologique, familiale, sociale ou géographique compromettant le suivi"
    ),
    "q.tutorship_or_curatorship": "Sous tutelle ou curatelle",
    "q.psychiatric_care_l1121_6": (
        "Soins psychiatriques sans consentement (SDT, SDRE ; art. L1121-6 CSP)"
    ),
    "q.social_security": "Affilié à un régime de sécurité sociale",
    "q.consent": "Consentement écrit (patient ou personne de confiance)",
    "q.consent_by": "Qui a signé le consentement ?",
    "q.weight_kg": "Poids (kg)",
    "q.d0_window": "Fenêtre J0 (injection au plus tard 3 jours après l'admission)",
    # hints, on their own line under a question
    "h.age": "Tapez un nombre entier, par ex. 54.",
    "h.index_date": "Tapez une date (21/11/2026, 21/11) ou touchez un bouton.",
    "h.admission_date": (
        "Admission dans le service (dermatologie ou réanimation) qui traite le SSJ/NET ; "
        "date du transfert si le patient vient d'ailleurs ; date des premiers symptômes si la "
        "réaction a débuté dans ce service."
    ),
    "h.psychiatric_care_l1121_6": (
        "Soins sans consentement : à la demande d'un tiers (SDT) ou sur décision du représentant "
        "de l'État (SDRE). Un suivi psychiatrique habituel, consenti, n'exclut pas : répondez Non."
    ),
    "h.max_bsa_percent": "Tapez un pourcentage, par ex. 35 ou 12,5.",
    "h.weight_kg": "Tapez le poids en kg, par ex. 72,5.",
    # n.<id>: the short name of a criterion in lists (/status, team chat, chart, exports); it
    # reads in the direction of its question, so that "Oui"/"Non" after it answers the
    # question ("Hépatite B ou C active : Non"), never the reverse (issue 25).
    "n.age": "Âge",
    "n.sex": "Sexe",
    "n.index_date": "Date index",
    "n.admission_date": "Date d'admission",
    "n.d0_window": "Fenêtre J0",
    "n.diagnosis_confirmed": "Diagnostic confirmé",
    "n.ward": "Service",
    "n.max_bsa_percent": "Surface décollée",
    "n.pregnant_or_breastfeeding": "Grossesse ou allaitement",
    "n.malignancy_10y_or_metastasis": "Cancer dans les 10 ans ou métastases",
    "n.hiv_positive": "Sérologie VIH positive",
    "n.active_hepatitis_b_or_c": "Hépatite B ou C active",
    "n.sars_cov2_positive": "ARN SARS-CoV-2 détecté",
    "n.decompensated_heart_failure": "Insuffisance cardiaque décompensée",
    "n.uncontrolled_epilepsy": "Épilepsie non contrôlée",
    "n.prior_allogeneic_bmt": "Antécédent d'allogreffe de moelle",
    "n.other_interventional_trial": "Participation à une autre recherche interventionnelle",
    "n.deprived_of_liberty": "Privé de liberté",
    "n.compliance_concern": "Situation compromettant le suivi",
    "n.tutorship_or_curatorship": "Sous tutelle ou curatelle",
    "n.psychiatric_care_l1121_6": "Soins psychiatriques sans consentement",
    "n.social_security": "Affilié à la sécurité sociale",
    "n.consent": "Consentement",
    "n.consent_by": "Signataire du consentement",
    "n.weight_kg": "Poids",
    # w.<id>: what a pending criterion waits for, in pending lists (team chat, board, /status):
    # the test, never the question's words that would read as a result.
    "w.pregnant_or_breastfeeding": "Test de grossesse",
    "w.hiv_positive": "Sérologie VIH",
    "w.active_hepatitis_b_or_c": "Sérologies hépatites B et C",
    "w.sars_cov2_positive": "RT-PCR SARS-CoV-2",
    # v.<id>.failed / v.<id>.pending: the verdict, with the value and the rule (HTML, like every
    # template here: "&lt;" for "<").
    "v.age.failed": "Âge {value} ans — le protocole inclut de {minimum} à {maximum} ans",
    "v.admission_date.failed": (
        "Admission {delay_days} jours après la date index ({maximum} au plus)"
    ),
    "v.d0_window.failed": "Fenêtre J0 close le {deadline_date} à {deadline_time}",
    "v.diagnosis_confirmed.failed": "Diagnostic non confirmé",
    "v.ward.failed": "Service : autre (dermatologie ou réanimation requis)",
    "v.max_bsa_percent.failed": (
        "SC décollée maximale {value} % (&lt; {threshold} %) après la période d'observation"
    ),
    "v.max_bsa_percent.pending": (
        "SC décollée maximale {value} % (&lt; {threshold} %) : en observation jusqu'au "
        "{observation_end}"
    ),
    "v.pregnant_or_breastfeeding.failed": "Grossesse ou allaitement en cours",
    "v.pregnant_or_breastfeeding.pending": "Test de grossesse : résultat attendu",
    "v.malignancy_10y_or_metastasis.failed": ("Cancer dans les 10 dernières années ou métastases"),
    "v.hiv_positive.failed": "Sérologie VIH positive",
    "v.hiv_positive.pending": "Sérologie VIH : résultat attendu",
    "v.active_hepatitis_b_or_c.failed": "Hépatite B ou C active",
    "v.active_hepatitis_b_or_c.pending": "Sérologies hépatites B et C : résultat attendu",
    "v.sars_cov2_positive.failed": "ARN SARS-CoV-2 détecté à l'admission",
    "v.sars_cov2_positive.pending": "RT-PCR SARS-CoV-2 : résultat attendu",
    "v.decompensated_heart_failure.failed": "Insuffisance cardiaque décompensée",
    "v.uncontrolled_epilepsy.failed": "Épilepsie non contrôlée",
    "v.prior_allogeneic_bmt.failed": "Antécédent d'allogreffe de moelle osseuse",
    "v.other_interventional_trial.failed": (
        "Participe à une autre recherche interventionnelle sur un médicament"
    ),
    "v.deprived_of_liberty.failed": (
        "Privé de liberté par décision judiciaire ou administrative, ou sous protection de justice"
    ),
    "v.compliance_concern.failed": (
        "Situation psychologique, familiale, sociale ou géographique compromettant le suivi"
    ),
    "v.tutorship_or_curatorship.failed": "Sous tutelle ou curatelle",
    "v.psychiatric_care_l1121_6.failed": (
        "Soins psychiatriques sans consentement (SDT, SDRE ; art. L1121-6 CSP)"
    ),
    "v.social_security.failed": "Non affilié à un régime de sécurité sociale",
    "v.consent.failed": "Consentement refusé",
    "v.consent.pending": "Consentement : en attente",
    "v.missing": "{name} : réponse manquante",
}

EN: dict[str, str] = {
    # questions (DESIGN.md labels)
    "q.age": "Age (years)",
    "q.sex": "Sex",
    "q.index_date": "Date of first symptoms (index date)",
    "q.admission_date": "Date of admission",
    "q.diagnosis_confirmed": "Confirmed SJS, SJS/TEN overlap or TEN diagnosis",
    "q.ward": "Ward (hospitalised in)",
    "q.max_bsa_percent": "Highest detached or detachable body surface area (%)",
    "q.pregnant_or_breastfeeding": "Pregnant or breastfeeding",
    "q.malignancy_10y_or_metastasis": "Malignancy within the past 10 years, or metastasis",
    "q.hiv_positive": "Positive HIV serology",
    "q.active_hepatitis_b_or_c": "Active hepatitis B or C",
    "q.sars_cov2_positive": "SARS-CoV-2 RNA detected on admission (RT-PCR)",
    "q.decompensated_heart_failure": "Decompensated heart failure",
    "q.uncontrolled_epilepsy": "Uncontrolled epilepsy",
    "q.prior_allogeneic_bmt": "Previous allogeneic bone-marrow transplant",
    "q.other_interventional_trial": "Taking part in another interventional drug study",
    "q.deprived_of_liberty": (
        "Deprived of liberty by a judicial or administrative decision, "
        "or under protection of justice"
    ),
    "q.compliance_concern": (
        "Psychological, family, social or geographical situation hampering follow-up"
    ),
    "q.tutorship_or_curatorship": "Under tutorship or curatorship",
    "q.psychiatric_care_l1121_6": (
        "Under psychiatric care without consent (SDT, SDRE; art. L1121-6 CSP)"
    ),
    "q.social_security": "Affiliated to a social security scheme",
    "q.consent": "Written consent (patient or support person)",
    "q.consent_by": "Who signed the consent?",
    "q.weight_kg": "Weight (kg)",
    "q.d0_window": "D0 window (injection at most 3 days after admission)",
    # hints, on their own line under a question
    "h.age": "Type a whole number, e.g. 54.",
    "h.index_date": "Type a date (21/11/2026, 21/11) or tap a button.",
    "h.admission_date": (
        "Admission to the dermatology or intensive-care department treating the SJS/TEN; "
        "the transfer date if the patient came from elsewhere; the date of the first symptoms "
        "if the reaction began in that department."
    ),
    "h.psychiatric_care_l1121_6": (
        "Care without consent: at a third party's request (SDT) or by decision of the State's "
        "representative (SDRE). Ordinary, consented psychiatric follow-up does not exclude: "
        "answer No."
    ),
    "h.max_bsa_percent": "Type a percentage, e.g. 35 or 12.5.",
    "h.weight_kg": "Type the weight in kg, e.g. 72.5.",
    # n.<id>: the short name of a criterion in lists (/status, team chat, chart, exports); it
    # reads in the direction of its question, so that "Oui"/"Non" after it answers the
    # question ("Hépatite B ou C active : Non"), never the reverse (issue 25).
    "n.age": "Age",
    "n.sex": "Sex",
    "n.index_date": "Index date",
    "n.admission_date": "Admission date",
    "n.d0_window": "D0 window",
    "n.diagnosis_confirmed": "Diagnosis confirmed",
    "n.ward": "Ward",
    "n.max_bsa_percent": "Detached BSA",
    "n.pregnant_or_breastfeeding": "Pregnant or breastfeeding",
    "n.malignancy_10y_or_metastasis": "Malignancy within 10 years or metastasis",
    "n.hiv_positive": "Positive HIV serology",
    "n.active_hepatitis_b_or_c": "Active hepatitis B or C",
    "n.sars_cov2_positive": "SARS-CoV-2 RNA detected",
    "n.decompensated_heart_failure": "Decompensated heart failure",
    "n.uncontrolled_epilepsy": "Uncontrolled epilepsy",
    "n.prior_allogeneic_bmt": "Previous allogeneic bone-marrow transplant",
    "n.other_interventional_trial": "In another interventional drug study",
    "n.deprived_of_liberty": "Deprived of liberty",
    "n.compliance_concern": "Situation hampering follow-up",
    "n.tutorship_or_curatorship": "Under tutorship or curatorship",
    "n.psychiatric_care_l1121_6": "Psychiatric care without consent",
    "n.social_security": "Affiliated to social security",
    "n.consent": "Consent",
    "n.consent_by": "Consent signed by",
    "n.weight_kg": "Weight",
    # w.<id>: what a pending criterion waits for, in pending lists (team chat, board, /status):
    # the test, never the question's words that would read as a result.
    "w.pregnant_or_breastfeeding": "Pregnancy test",
    "w.hiv_positive": "HIV serology",
    "w.active_hepatitis_b_or_c": "Hepatitis B and C serology",
    "w.sars_cov2_positive": "SARS-CoV-2 RT-PCR",
    # v.<id>.failed / v.<id>.pending: the verdict, with the value and the rule (HTML, like every
    # template here: "&lt;" for "<").
    "v.age.failed": "Age {value} years — the protocol includes {minimum} to {maximum} years",
    "v.admission_date.failed": (
        "Admission {delay_days} days after the index date (at most {maximum})"
    ),
    "v.d0_window.failed": "D0 window closed on {deadline_date} at {deadline_time}",
    "v.diagnosis_confirmed.failed": "Diagnosis not confirmed",
    "v.ward.failed": "Ward: other (dermatology or intensive care required)",
    "v.max_bsa_percent.failed": (
        "Highest detached BSA {value} % (&lt; {threshold} %) after the observation period"
    ),
    "v.max_bsa_percent.pending": (
        "Highest detached BSA {value} % (&lt; {threshold} %): observed until {observation_end}"
    ),
    "v.pregnant_or_breastfeeding.failed": "Pregnant or breastfeeding",
    "v.pregnant_or_breastfeeding.pending": "Pregnancy test: result awaited",
    "v.malignancy_10y_or_metastasis.failed": ("Malignancy within the past 10 years, or metastasis"),
    "v.hiv_positive.failed": "Positive HIV serology",
    "v.hiv_positive.pending": "HIV serology: result awaited",
    "v.active_hepatitis_b_or_c.failed": "Active hepatitis B or C",
    "v.active_hepatitis_b_or_c.pending": "Hepatitis B and C serology: result awaited",
    "v.sars_cov2_positive.failed": "SARS-CoV-2 RNA detected on admission",
    "v.sars_cov2_positive.pending": "SARS-CoV-2 RT-PCR: result awaited",
    "v.decompensated_heart_failure.failed": "Decompensated heart failure",
    "v.uncontrolled_epilepsy.failed": "Uncontrolled epilepsy",
    "v.prior_allogeneic_bmt.failed": "Previous allogeneic bone-marrow transplant",
    "v.other_interventional_trial.failed": "Taking part in another interventional drug study",
    "v.deprived_of_liberty.failed": (
        "Deprived of liberty by a judicial or administrative decision, "
        "or under protection of justice"
    ),
    "v.compliance_concern.failed": (
        "Psychological, family, social or geographical situation hampering follow-up"
    ),
    "v.tutorship_or_curatorship.failed": "Under tutorship or curatorship",
    "v.psychiatric_care_l1121_6.failed": (
        "Under psychiatric care without consent (SDT, SDRE; art. L1121-6 CSP)"
    ),
    "v.social_security.failed": "Not affiliated to a social security scheme",
    "v.consent.failed": "Consent refused",
    "v.consent.pending": "Consent: pending",
    "v.missing": "{name}: answer missing",
}

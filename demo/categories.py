"""Report categories (indicators.md), the raw spellings i-milo uses for them (exports.md)
and the obviously fake personal data of the demo. The first spelling of each list is the most
frequent one."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

TARGETS_DIR = Path(__file__).resolve().parent / "targets"
STRUCTURE = "MNO"
DEFAULT_TODAY = dt.date(2026, 1, 6)
OUT_KEY = "99999"  # "Hors territoire" in indicator rows
OUT_COMMUNE = ("59350", "LILLE")  # where out-of-territory young people live
DAY = dt.timedelta(days=1)
CEJ_MONTHLY_MAX = 561  # an allowance is paid at most once a month, up to ~561 € (report, CEJ)


BANDS = ("16-17 ans", "18-21 ans", "22-25 ans", "26 ans et +")
BAND_AGES = {
    "16-17 ans": (16, 17),
    "18-21 ans": (18, 21),
    "22-25 ans": (22, 25),
    "26 ans et +": (26, 29),
}
QUALS = ("Supérieur au BAC", "BAC", "BEP/CAP", "Aucun diplôme")
SEXES = ("Femmes", "Hommes")
CONTACT_TYPES = ("Entretien", "SMS", "E-mail", "Téléphone", "Autres")
MEASURES = (
    "Emploi",
    "Formation",
    "Immersion en entreprise",
    "Alternance",
    "Service Civique",
    "Autres",
)
MEASURE_KIND = {
    "Emploi": "emploi",
    "Formation": "form",
    "Immersion en entreprise": "imm",
    "Alternance": "alt",
    "Service Civique": "sc",
    "Autres": "autre",
}
ROME = {
    "A": "Agriculture et pêche, espaces naturels et espaces verts, soins aux animaux",
    "B": "Arts et façonnage d'ouvrages d'art",
    "C": "Banque, assurance, immobilier",
    "D": "Commerce, vente et grande distribution",
    "E": "Communication, média et multimédia",
    "F": "Construction, bâtiment et travaux publics",
    "G": "Hôtellerie-restauration, tourisme, loisirs et animation",
    "H": "Industrie",
    "I": "Installation et maintenance",
    "J": "Santé",
    "K": "Services à la personne et à la collectivité",
    "L": "Spectacle",
    "M": "Support à l'entreprise",
    "N": "Transport et logistique",
}
ROME_LETTER = {label: letter for letter, label in ROME.items()}
NR = "Non renseigné"

RAW_SEX = {"Femmes": ["F", "Femme", "Féminin"], "Hommes": ["H", "Homme", "M", "Masculin"]}
RAW_QUAL = {
    "Supérieur au BAC": [
        "Niveau 5 (BTS, DUT)",
        "Niveau 6 (Licence)",
        "Bac+2",
        "Niveau 7 (Master)",
        "BTS",
        "Licence",
        "III",
        "Niveau 5",
    ],
    "BAC": ["Niveau 4", "Niveau 4 (BAC)", "BAC", "Bac validé", "IV"],
    "BEP/CAP": ["Niveau 3 (CAP, BEP)", "Niveau 3", "CAP", "BEP", "CAP/BEP", "V"],
    "Aucun diplôme": [
        "Infra 3",
        "Sans diplôme",
        "Aucun diplôme",
        "Niveau 2",
        "Niveau 1",
        "V bis",
        "Vbis",
        "VI",
    ],
}
RAW_PREPARED = {
    "Supérieur au BAC": ["BTS", "Niveau 5 (BTS, DUT)", "Licence", "Bac+3", "Master"],
    "BAC": ["Niveau 4 (BAC pro)", "BAC", "Niveau 4"],
    "BEP/CAP": ["CAP", "Niveau 3 (CAP, BEP)", "BEP"],
}
RAW_HOUSING = {
    "Logement parents": ["Chez les parents", "Parents", "Famille"],
    "Logement autonome": ["Logement autonome", "Locataire", "Autonome", "Propriétaire"],
    "Logement précaire": [
        "Hébergé chez un tiers",
        "Foyer",
        "FJT",
        "Précaire",
        "CHRS",
        "Hôtel",
        "Sans domicile",
        "Logement précaire",
    ],
}
RAW_EVENT = {
    "Entretien": [
        "Entretien individuel",
        "Entretien individuel - suivi",
        "Atelier",
        "Information collective",
        "Entretien collectif",
        "Entretien",
    ],
    "SMS": ["SMS"],
    "E-mail": ["E-mail", "Mail", "Email", "Courriel"],
    "Téléphone": ["Appel téléphonique", "Téléphone", "Tel"],
    "Autres": ["Courrier", "Médiation", "Visite", "Entretien partenaire", "Autre"],
}
EVENT_DONE = ["", "Réalisé", "Présent", "Non précisé"]
EVENT_NOT_DONE = ["Absent", "Annulé", "Reporté", "Planifié"]
RAW_THEME = {
    "Accès à l'emploi": ["Emploi", "Accès à l'emploi"],
    "Formation": ["Formation"],
    "Projet professionnel / Orientation": ["Projet professionnel", "Orientation"],
    "Insertion sociale": [
        "Santé",
        "Logement",
        "Ressources",
        "Mobilité",
        "Justice",
        "Citoyenneté",
        "Loisirs, sport, culture",
        "Accès aux droits",
        "Insertion sociale",
    ],
}
PROPOSAL_STATES = ["Prescrit", "Réalisé", "", "Refus jeune", "Refus tiers", "Abandon"]
RAW_AID = {"FAJ": ["FAJ", "Fonds d'Aide aux Jeunes"]}
AID_GRANTED = ["", "Payé", "Accordé", "Versé"]
AID_NOT_GRANTED = ["Refusé", "Annulé", "En attente"]
RAW_PROGRAMME = {"CEJ": ["CEJ", "Contrat d'Engagement Jeune"]}
YES = ["Oui", "O", "1", "Vrai", "True"]
NO = ["Non", "N", "0", "Faux", "False"]

FAKE_LAST = ["EXEMPLE", "FICTIF", "DEMO", "FACTICE", "SPECIMEN", "TESTEUR", "MODELE", "IMAGINAIRE"]
FAKE_FIRST = [
    "Alex",
    "Camille",
    "Sacha",
    "Charlie",
    "Dominique",
    "Claude",
    "Noa",
    "Lou",
    "Eden",
    "Morgan",
]
FAKE_STREETS = [
    "rue de l'Exemple",
    "allée Fictive",
    "avenue du Test",
    "impasse Imaginaire",
    "place de la Démo",
]
FAKE_ADVISERS = [
    "Conseiller Démo 1",
    "Conseillère Démo 2",
    "Conseiller Test 3",
    "Conseillère Fictive 4",
    "Conseiller Exemple 5",
    "Conseillère Exemple 6",
]
SITES = [
    "Antenne La Madeleine",
    "Siège Lambersart",
    "Antenne Marcq-en-Barœul",
    "Permanence Wambrechies",
    "Permanence Pérenchies",
]

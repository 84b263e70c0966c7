"""Cell values (exports.md, *Cell values*) and code matching (*Codes*)."""

import pandas as pd
import pytest

from pipelines.cells import (
    INVALID,
    INVALID_DATE,
    code_list,
    most_frequent_spelling,
    parse_amounts,
    parse_dates,
    parse_id,
    parse_yes_no,
)
from pipelines.config import fold, normalise_insee


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2025-03-04", "2025-03-04"),
        ("2025-03-04 10:30:00", "2025-03-04"),  # a time part is ignored
        ("04/03/2025", "2025-03-04"),
        ("4/3/2025", "2025-03-04"),
        ("04/03/25", "2025-03-04"),  # yy up to the run year's -> 20yy
        ("04/03/27", "1927-03-04"),  # above it -> 19yy (run year 2026)
        ("45720", "2025-03-04"),  # an Excel serial number
    ],
)
def test_dates_in_every_listed_form(text, expected):
    assert parse_dates(pd.Series([text]), 2026)[0] == pd.Timestamp(expected)


@pytest.mark.parametrize("text", ["31/02/2025", "demain", "2025/03/04", "0", "13/13/2013"])
def test_what_is_not_a_date_is_invalid(text):
    assert parse_dates(pd.Series([text]), 2026)[0] == INVALID_DATE


def test_empty_date_is_missing_not_invalid():
    assert pd.isna(parse_dates(pd.Series([None]), 2026)[0])


@pytest.mark.parametrize(
    "text, cents",
    [
        ("1 234,56 €", 123456),
        ("1234.56", 123456),
        ("1\u202f234,56", 123456),
        ("1\u00a0234,56", 123456),
        ("1.234,56", 123456),
        ("12", 1200),
        ("0,1", 10),
        ("2120.1500000001", 212015),
        ("-5", -500),
    ],
)
def test_amounts_as_text_or_numbers(text, cents):
    assert parse_amounts(pd.Series([text]))[0] == cents


@pytest.mark.parametrize("text", ["NC", "12 €uros", "1,2,3", ""])
def test_amount_that_is_not_a_number(text):
    value = parse_amounts(pd.Series([text]))[0]
    assert value == INVALID or pd.isna(value)


def test_ids_number_cells_and_spaces():
    assert parse_id(pd.Series([" 1234567.0", "1234567", "A-12 ", None, "  "])).tolist() == [
        "1234567",
        "1234567",
        "A-12",
        None,
        None,
    ]


@pytest.mark.parametrize(
    "value, category",
    [
        ("Niveau 5 (BTS, DUT)", "Supérieur au BAC"),
        ("V bis", "Aucun diplôme"),
        ("Vbis", "Aucun diplôme"),
        ("V", "BEP/CAP"),
        ("Infra 3", "Aucun diplôme"),
        ("IV", "BAC"),
        ("niveau 4", "BAC"),
        ("Bac+2", "Supérieur au BAC"),
    ],
)
def test_qualification_prefix_and_longest_match(value, category):
    assert code_list("qualification").match(value) == category


@pytest.mark.parametrize(
    "value, category",
    [
        ("Entretien individuel - suivi", "Entretien"),
        ("Entretien partenaire", "Autres"),  # longest match wins over "Entretien"
        ("APPEL TÉLÉPHONIQUE", "Téléphone"),
        ("Courriel", "E-mail"),
        ("Visio", None),
    ],
)
def test_event_types(value, category):
    assert code_list("event_type").match(value) == category


def test_rome_domain_by_letter_or_label():
    rome = code_list("rome_domain")
    assert rome.match("N") == "Transport et logistique"
    assert rome.match("Transport et logistique") == "Transport et logistique"
    assert rome.match("Z") is None


def test_yes_no_exact_spellings_only():
    parsed = parse_yes_no(pd.Series(["Oui", "N", "1", "Faux", "true", None, "Peut-être"]))
    assert parsed.tolist()[:6] == [True, False, True, False, True, None]
    assert parsed.tolist()[6] == INVALID


def test_headers_fold_to_the_same_column():
    assert fold("Date de 1er accueil") == fold("DATE DE 1ER ACCUEIL") == "date de 1er accueil"
    assert fold("date_de_premier_accueil") == fold("Date de premier accueil")
    assert fold("Marcq-en-Barœul") == fold("MARCQ EN BAROEUL")
    assert fold("Montant (€)") == "montant"


def test_insee_codes_are_padded():
    assert normalise_insee(9350) == "09350"
    assert normalise_insee("9350.0") == "09350"
    assert normalise_insee("2A004") == "2A004"


def test_labels_kept_as_typed_take_their_most_frequent_spelling():
    labels = pd.Series(
        [
            "Briqueterie",
            "BRIQUETERIE",
            "briqueterie",
            "briqueterie",
            None,
            "Pacot-Vandracq",
            "Pacot Vandracq",
        ]
    )
    out = most_frequent_spelling(labels).tolist()
    assert out[:4] == ["briqueterie"] * 4
    assert out[4] is None
    assert out[5:] == ["Pacot Vandracq"] * 2  # tie: alphabetical


def test_pseudonyms_are_the_contract_hmac_and_shared_across_calls():
    import hashlib
    import hmac

    from pipelines.pseudonym import pseudonymise

    def expected(i: str) -> str:
        return hmac.new(b"k", f"MNO:{i}".encode(), hashlib.sha256).hexdigest()

    known: dict = {}
    first = pseudonymise("MNO", pd.Series(["12", None, "7"]), key=b"k", known=known)
    second = pseudonymise("MNO", pd.Series(["7", "12", "12"]), key=b"k", known=known)
    assert first.tolist() == [expected("12"), None, expected("7")]
    assert second.tolist() == [expected("7"), expected("12"), expected("12")]
    assert known == {"12": expected("12"), "7": expected("7")}
    # without a shared dict: the same pseudonyms
    assert pseudonymise("MNO", pd.Series(["7"]), key=b"k").tolist() == [expected("7")]

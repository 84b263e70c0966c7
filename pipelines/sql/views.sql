-- The words of indicators.md ("Words used in the rules"), as views over the conformed layer.
-- Created by the pipeline on DuckDB and PostgreSQL alike; analysts may use them too.

-- A young person with the labels the breakdowns use.
CREATE OR REPLACE VIEW conformed.young_people AS
SELECT j.structure, j.year, j.young_id, j.commune_insee, j.sex, j.birth_date, j.qualification,
       j.housing, j.qpv, j.rqth, j.first_reception_date,
       CASE WHEN j.qpv IS NULL THEN 'Hors QPV' ELSE 'QPV' END AS qpv_status,
       CASE WHEN j.driving_licence THEN 'Titulaire' ELSE 'Non titulaire' END AS driving_licence
FROM conformed.jeunes j;

-- "event": an evenements row whose status counts as a contact (empty, Présent, Réalisé,
-- Non précisé); absences, cancellations and planned appointments are no events.
CREATE OR REPLACE VIEW conformed.contact_events AS
SELECT * FROM conformed.evenements WHERE is_contact;

-- "situation": a situations row not in state Prévu and not of category Demandeur d'emploi.
CREATE OR REPLACE VIEW conformed.counted_situations AS
SELECT * FROM conformed.situations WHERE is_counted;

-- "granted aid": status empty, Accordé, Payé or Versé.
CREATE OR REPLACE VIEW conformed.granted_aids AS
SELECT * FROM conformed.aides WHERE is_granted;

-- The analysts' view (warehouse.md, `indicateurs`): one row per indicator_values row, with
-- its catalogue label and unit, its level instead of the null conventions, the dimensions'
-- French labels (config/dimension_labels.yaml), counts as integers in `valeur` and euros in
-- `montant_euros` (the indicators whose measure is `amount` in config/indicators.yaml).
CREATE OR REPLACE VIEW indicateurs AS
SELECT v.structure,
       v.year AS annee,
       v.indicator AS code,
       c.label AS libelle,
       c.unit AS unite,
       CASE WHEN v.dimension_1 IS NOT NULL THEN 'ventilation'
            WHEN v.commune_insee IS NOT NULL THEN 'commune'
            ELSE 'total' END AS niveau,
       v.commune_insee,
       v.commune,
       {{ dimension_label(v.dimension_1) }} AS dimension_1,
       v.category_1 AS categorie_1,
       {{ dimension_label(v.dimension_2) }} AS dimension_2,
       v.category_2 AS categorie_2,
       CAST(CASE WHEN v.indicator NOT IN ({{ amount_indicators() }}) THEN v.value END
            AS BIGINT) AS valeur,
       CAST(CASE WHEN v.indicator IN ({{ amount_indicators() }}) THEN v.value END
            AS NUMERIC(18, 2)) AS montant_euros
FROM indicator_values v
LEFT JOIN indicator_catalogue c ON c.indicator = v.indicator;

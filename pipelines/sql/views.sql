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

-- The counting rules of shared/contract/indicators.md, one block per catalogue code.
--
-- Each block selects the *units* an indicator counts (young people, events, situations, aid
-- files) for one partition, with the young person's commune and every breakdown attribute.
-- config/indicators.yaml says how units become figures (distinct young, rows or amounts) and
-- which breakdowns are published. The units are stored in marts.indicator_units, so any
-- figure can be traced back to the conformed rows behind it (unit_key = young_id or row_key).
--
-- Parameters: :structure, :year, :y_start (01/01/Y), :y_end (31/12/Y).
-- Helpers: age_band(birth_date, at_date); views of pipelines/sql/views.sql.
-- Subqueries name the partition (:structure, :year) rather than the outer row's: the same
-- rows, but the engines then read one partition instead of the whole table (a national
-- warehouse holds ≈ 1 300 partitions).

-- name: new_arrivals
-- distinct young whose date of first reception is in Y (age at first reception)
SELECT p.young_id, p.young_id AS unit_key, p.commune_insee, p.sex, p.qualification,
       p.housing, p.driving_licence, age_band(p.birth_date, p.first_reception_date) AS age_band
FROM conformed.young_people p
WHERE p.structure = :structure AND p.year = :year
  AND p.first_reception_date BETWEEN :y_start AND :y_end;

-- name: new_arrivals_qpv
-- new_arrivals whose QPV is not empty
SELECT p.young_id, p.young_id AS unit_key, p.commune_insee, p.qpv
FROM conformed.young_people p
WHERE p.structure = :structure AND p.year = :year
  AND p.first_reception_date BETWEEN :y_start AND :y_end
  AND p.qpv IS NOT NULL;

-- name: youth_in_contact
-- distinct young with at least one event in Y
SELECT DISTINCT p.young_id, p.young_id AS unit_key, p.commune_insee
FROM conformed.contact_events e
JOIN conformed.young_people p USING (structure, year, young_id)
WHERE e.structure = :structure AND e.year = :year
  AND e.event_date BETWEEN :y_start AND :y_end;

-- name: youth_interviewed
-- distinct young with at least one interview-kind event in Y (age at 31/12/Y)
SELECT DISTINCT p.young_id, p.young_id AS unit_key, p.commune_insee, p.qualification, p.sex,
       p.qpv, age_band(p.birth_date, :y_end) AS age_band
FROM conformed.contact_events e
JOIN conformed.young_people p USING (structure, year, young_id)
WHERE e.structure = :structure AND e.year = :year
  AND e.event_date BETWEEN :y_start AND :y_end
  AND e.is_interview;

-- name: contacts
-- events in Y
SELECT e.young_id, e.row_key AS unit_key, p.commune_insee, e.contact_type
FROM conformed.contact_events e
JOIN conformed.young_people p USING (structure, year, young_id)
WHERE e.structure = :structure AND e.year = :year
  AND e.event_date BETWEEN :y_start AND :y_end;

-- name: interviews
-- interview-kind events in Y
SELECT e.young_id, e.row_key AS unit_key, p.commune_insee, e.contact_type
FROM conformed.contact_events e
JOIN conformed.young_people p USING (structure, year, young_id)
WHERE e.structure = :structure AND e.year = :year
  AND e.event_date BETWEEN :y_start AND :y_end
  AND e.is_interview;

-- name: proposals
-- propositions dated in Y, whatever their state
SELECT r.young_id, r.row_key AS unit_key, p.commune_insee, r.theme AS proposal_theme
FROM conformed.propositions r
JOIN conformed.young_people p USING (structure, year, young_id)
WHERE r.structure = :structure AND r.year = :year
  AND r.proposal_date BETWEEN :y_start AND :y_end;

-- name: immersions
-- Immersion situations starting in Y
SELECT s.young_id, s.row_key AS unit_key, p.commune_insee, p.sex, p.qualification
FROM conformed.counted_situations s
JOIN conformed.young_people p USING (structure, year, young_id)
WHERE s.structure = :structure AND s.year = :year
  AND s.category = 'Immersion'
  AND s.start_date BETWEEN :y_start AND :y_end;

-- name: training_entries
-- Formation situations starting in Y (Scolarité is Formation, nature Formation initiale);
-- also the units of training_youth (its distinct young)
SELECT s.young_id, s.row_key AS unit_key, p.commune_insee, s.detail AS training_type,
       p.qualification, p.sex
FROM conformed.counted_situations s
JOIN conformed.young_people p USING (structure, year, young_id)
WHERE s.structure = :structure AND s.year = :year
  AND s.category = 'Formation'
  AND s.start_date BETWEEN :y_start AND :y_end;

-- name: employment_contracts
-- Emploi or Alternance situations starting in Y; also the units of employment_youth (its
-- distinct young, age at 31/12/Y)
SELECT s.young_id, s.row_key AS unit_key, p.commune_insee, s.detail AS contract_type,
       s.rome_domain, p.qualification, p.sex, age_band(p.birth_date, :y_end) AS age_band
FROM conformed.counted_situations s
JOIN conformed.young_people p USING (structure, year, young_id)
WHERE s.structure = :structure AND s.year = :year
  AND s.category IN ('Emploi', 'Alternance')
  AND s.start_date BETWEEN :y_start AND :y_end;

-- name: pec_contracts
-- Emploi situations of contract type CUI, nature PEC/CUI-PEC, starting in Y,
-- with Mise en œuvre par la ML = yes
SELECT s.young_id, s.row_key AS unit_key, p.commune_insee
FROM conformed.counted_situations s
JOIN conformed.young_people p USING (structure, year, young_id)
WHERE s.structure = :structure AND s.year = :year
  AND s.category = 'Emploi' AND s.detail = 'CUI' AND s.is_pec AND s.ml_implemented
  AND s.start_date BETWEEN :y_start AND :y_end;

-- name: apprenticeship_contracts
-- Alternance situations starting in Y; qualification = the level being prepared
SELECT s.young_id, s.row_key AS unit_key, p.commune_insee, s.nature AS apprenticeship_kind,
       p.sex, s.rome_domain, s.prepared_level AS qualification
FROM conformed.counted_situations s
JOIN conformed.young_people p USING (structure, year, young_id)
WHERE s.structure = :structure AND s.year = :year
  AND s.category = 'Alternance'
  AND s.start_date BETWEEN :y_start AND :y_end;

-- name: apprenticeship_followed
-- distinct young with an Alternance situation active in Y and at least one event in Y dated
-- within that situation's period
SELECT DISTINCT s.young_id, s.young_id AS unit_key, p.commune_insee
FROM conformed.counted_situations s
JOIN conformed.young_people p USING (structure, year, young_id)
WHERE s.structure = :structure AND s.year = :year
  AND s.category = 'Alternance'
  AND s.start_date <= :y_end AND (s.end_date IS NULL OR s.end_date >= :y_start)
  AND EXISTS (
    SELECT 1 FROM conformed.contact_events e
    WHERE e.structure = :structure AND e.year = :year AND e.young_id = s.young_id
      AND e.event_date BETWEEN :y_start AND :y_end
      AND e.event_date >= s.start_date
      AND (s.end_date IS NULL OR e.event_date <= s.end_date));

-- name: civic_service_active
-- distinct young with a Service civique situation active in Y
SELECT DISTINCT s.young_id, s.young_id AS unit_key, p.commune_insee
FROM conformed.counted_situations s
JOIN conformed.young_people p USING (structure, year, young_id)
WHERE s.structure = :structure AND s.year = :year
  AND s.category = 'Service civique'
  AND s.start_date <= :y_end AND (s.end_date IS NULL OR s.end_date >= :y_start);

-- name: civic_service_started
-- distinct young with a Service civique situation starting in Y
SELECT DISTINCT s.young_id, s.young_id AS unit_key, p.commune_insee
FROM conformed.counted_situations s
JOIN conformed.young_people p USING (structure, year, young_id)
WHERE s.structure = :structure AND s.year = :year
  AND s.category = 'Service civique'
  AND s.start_date BETWEEN :y_start AND :y_end;

-- name: cej_active
-- distinct young with a CEJ programme active in Y
SELECT DISTINCT d.young_id, d.young_id AS unit_key, p.commune_insee
FROM conformed.dispositifs d
JOIN conformed.young_people p USING (structure, year, young_id)
WHERE d.structure = :structure AND d.year = :year
  AND d.programme = 'CEJ'
  AND d.entry_date <= :y_end AND (d.exit_date IS NULL OR d.exit_date >= :y_start);

-- name: cej_entries
-- distinct young with a CEJ entry in Y (age at their first CEJ entry in Y)
SELECT p.young_id, p.young_id AS unit_key, p.commune_insee, p.qualification, p.sex,
       p.qpv_status, age_band(p.birth_date, f.first_entry) AS age_band
FROM (SELECT d.structure, d.year, d.young_id, MIN(d.entry_date) AS first_entry
      FROM conformed.dispositifs d
      WHERE d.structure = :structure AND d.year = :year
        AND d.programme = 'CEJ'
        AND d.entry_date BETWEEN :y_start AND :y_end
      GROUP BY d.structure, d.year, d.young_id) f
JOIN conformed.young_people p USING (structure, year, young_id);

-- name: cej_contacts
-- events in Y of a young person, dated within one of their CEJ periods
SELECT e.young_id, e.row_key AS unit_key, p.commune_insee, e.contact_type
FROM conformed.contact_events e
JOIN conformed.young_people p USING (structure, year, young_id)
WHERE e.structure = :structure AND e.year = :year
  AND e.event_date BETWEEN :y_start AND :y_end
  AND EXISTS (
    SELECT 1 FROM conformed.dispositifs d
    WHERE d.structure = :structure AND d.year = :year AND d.young_id = e.young_id
      AND d.programme = 'CEJ'
      AND e.event_date >= d.entry_date
      AND (d.exit_date IS NULL OR e.event_date <= d.exit_date));

-- name: cej_measures
-- situations starting in Y, on or after the young person's CEJ entry and within that CEJ
-- period; Emploi→Emploi, Formation→Formation, Immersion→Immersion en entreprise,
-- Alternance→Alternance, Service civique→Service Civique, Autre→Autres;
-- also the units of cej_measures_youth (its distinct young)
SELECT s.young_id, s.row_key AS unit_key, p.commune_insee,
       CASE s.category WHEN 'Emploi' THEN 'Emploi'
                       WHEN 'Formation' THEN 'Formation'
                       WHEN 'Immersion' THEN 'Immersion en entreprise'
                       WHEN 'Alternance' THEN 'Alternance'
                       WHEN 'Service civique' THEN 'Service Civique'
                       ELSE 'Autres' END AS measure_type
FROM conformed.counted_situations s
JOIN conformed.young_people p USING (structure, year, young_id)
WHERE s.structure = :structure AND s.year = :year
  AND s.start_date BETWEEN :y_start AND :y_end
  AND EXISTS (
    SELECT 1 FROM conformed.dispositifs d
    WHERE d.structure = :structure AND d.year = :year AND d.young_id = s.young_id
      AND d.programme = 'CEJ'
      AND s.start_date >= d.entry_date
      AND (d.exit_date IS NULL OR s.start_date <= d.exit_date));

-- name: programme_entries
-- distinct young with an entry in Y, per programme (the total: in any programme)
SELECT d.young_id, d.row_key AS unit_key, p.commune_insee, d.programme
FROM conformed.dispositifs d
JOIN conformed.young_people p USING (structure, year, young_id)
WHERE d.structure = :structure AND d.year = :year
  AND d.entry_date BETWEEN :y_start AND :y_end;

-- name: sponsorship_entries
-- distinct young with a Parrainage entry in Y
SELECT d.young_id, d.row_key AS unit_key, p.commune_insee, p.qualification, p.sex
FROM conformed.dispositifs d
JOIN conformed.young_people p USING (structure, year, young_id)
WHERE d.structure = :structure AND d.year = :year
  AND d.programme = 'Parrainage'
  AND d.entry_date BETWEEN :y_start AND :y_end;

-- name: rqth_youth
-- youth_interviewed with RQTH = yes
SELECT DISTINCT p.young_id, p.young_id AS unit_key, p.commune_insee
FROM conformed.contact_events e
JOIN conformed.young_people p USING (structure, year, young_id)
WHERE e.structure = :structure AND e.year = :year
  AND e.event_date BETWEEN :y_start AND :y_end
  AND e.is_interview
  AND p.rqth;

-- name: aid_files
-- granted aid rows dated in Y; also the units of aid_recipients (their distinct young) and
-- aid_amount (the sum of their amounts)
SELECT a.young_id, a.row_key AS unit_key, p.commune_insee, a.aid_type, a.amount
FROM conformed.granted_aids a
JOIN conformed.young_people p USING (structure, year, young_id)
WHERE a.structure = :structure AND a.year = :year
  AND a.aid_date BETWEEN :y_start AND :y_end;

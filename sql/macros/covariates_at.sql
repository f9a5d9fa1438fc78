-- covariates_at(population): the matching covariates of every row of the table named `population`, measured at
-- that row's `measured_on` date (ADR 0012, ADR 0017): age, sex, IMD decile, LTC count, risk score, and the count
-- of each measure in the 12, 6, 3 and 1 months before `measured_on` (the windows [d - W months, d) of the
-- counting rules). Missing IMD decile, LTC count or risk score take the population mean (flagged), so no one
-- is dropped for a blank. The population's own columns come first, unchanged.
CREATE OR REPLACE MACRO covariates_at(population) AS TABLE
WITH pop AS (
    SELECT *, row_number() OVER () AS population_row FROM query_table(population)
), counts AS (
    SELECT pop.population_row,
           count(*) FILTER (WHERE e.measure = 'emergency_admissions') AS emergency_admissions_12m,
           count(*) FILTER (WHERE e.measure = 'inpatient_admissions') AS inpatient_admissions_12m,
           count(*) FILTER (WHERE e.measure = 'ae_attendances') AS ae_attendances_12m,
           count(*) FILTER (WHERE e.measure = 'outpatient_appointments') AS outpatient_appointments_12m,
           count(*) FILTER (WHERE e.measure = 'emergency_admissions' AND e.event_date >= six) AS emergency_admissions_6m,
           count(*) FILTER (WHERE e.measure = 'inpatient_admissions' AND e.event_date >= six) AS inpatient_admissions_6m,
           count(*) FILTER (WHERE e.measure = 'ae_attendances' AND e.event_date >= six) AS ae_attendances_6m,
           count(*) FILTER (WHERE e.measure = 'outpatient_appointments' AND e.event_date >= six) AS outpatient_appointments_6m,
           count(*) FILTER (WHERE e.measure = 'emergency_admissions' AND e.event_date >= three) AS emergency_admissions_3m,
           count(*) FILTER (WHERE e.measure = 'inpatient_admissions' AND e.event_date >= three) AS inpatient_admissions_3m,
           count(*) FILTER (WHERE e.measure = 'ae_attendances' AND e.event_date >= three) AS ae_attendances_3m,
           count(*) FILTER (WHERE e.measure = 'outpatient_appointments' AND e.event_date >= three) AS outpatient_appointments_3m,
           count(*) FILTER (WHERE e.measure = 'emergency_admissions' AND e.event_date >= one) AS emergency_admissions_1m,
           count(*) FILTER (WHERE e.measure = 'inpatient_admissions' AND e.event_date >= one) AS inpatient_admissions_1m,
           count(*) FILTER (WHERE e.measure = 'ae_attendances' AND e.event_date >= one) AS ae_attendances_1m,
           count(*) FILTER (WHERE e.measure = 'outpatient_appointments' AND e.event_date >= one) AS outpatient_appointments_1m
    FROM (SELECT population_row, person_id, measured_on,
                 CAST(measured_on - to_months(12) AS DATE) AS twelve,
                 CAST(measured_on - to_months(6) AS DATE) AS six,
                 CAST(measured_on - to_months(3) AS DATE) AS three,
                 CAST(measured_on - to_months(1) AS DATE) AS one
          FROM pop) pop
    JOIN core.hospital_events e
      ON e.person_id = pop.person_id AND e.event_date >= pop.twelve AND e.event_date < pop.measured_on
    GROUP BY pop.population_row
), means AS (
    SELECT avg(imd_decile) AS imd, avg(ltc_count) AS ltc, avg(risk_score) AS risk FROM core.persons
)
SELECT pop.* EXCLUDE (population_row),
       year(pop.measured_on) - p.year_of_birth AS age,
       CASE WHEN p.sex = '2' THEN 1 ELSE 0 END AS female,
       coalesce(p.imd_decile, means.imd) AS imd_decile,
       coalesce(p.ltc_count, means.ltc) AS ltc_count,
       coalesce(p.risk_score, means.risk) AS risk_score,
       CASE WHEN p.imd_decile IS NULL OR p.ltc_count IS NULL OR p.risk_score IS NULL THEN 1 ELSE 0 END
           AS any_covariate_imputed,
       coalesce(c.emergency_admissions_12m, 0) AS emergency_admissions_12m,
       coalesce(c.inpatient_admissions_12m, 0) AS inpatient_admissions_12m,
       coalesce(c.ae_attendances_12m, 0) AS ae_attendances_12m,
       coalesce(c.outpatient_appointments_12m, 0) AS outpatient_appointments_12m,
       coalesce(c.emergency_admissions_6m, 0) AS emergency_admissions_6m,
       coalesce(c.inpatient_admissions_6m, 0) AS inpatient_admissions_6m,
       coalesce(c.ae_attendances_6m, 0) AS ae_attendances_6m,
       coalesce(c.outpatient_appointments_6m, 0) AS outpatient_appointments_6m,
       coalesce(c.emergency_admissions_3m, 0) AS emergency_admissions_3m,
       coalesce(c.inpatient_admissions_3m, 0) AS inpatient_admissions_3m,
       coalesce(c.ae_attendances_3m, 0) AS ae_attendances_3m,
       coalesce(c.outpatient_appointments_3m, 0) AS outpatient_appointments_3m,
       coalesce(c.emergency_admissions_1m, 0) AS emergency_admissions_1m,
       coalesce(c.inpatient_admissions_1m, 0) AS inpatient_admissions_1m,
       coalesce(c.ae_attendances_1m, 0) AS ae_attendances_1m,
       coalesce(c.outpatient_appointments_1m, 0) AS outpatient_appointments_1m
FROM pop
JOIN core.persons p USING (person_id)
CROSS JOIN means
LEFT JOIN counts c USING (population_row)

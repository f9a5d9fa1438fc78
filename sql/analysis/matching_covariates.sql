-- Covariates for the propensity model, measured for treated and candidates alike at the stratum's reference
-- date (the first day of the referral month): age, sex, IMD decile, LTC count, risk score, and counts of each
-- measure in the 12 and 6 months before it. Missing IMD decile, LTC count or risk score take the population
-- mean (flagged), so no one is dropped for a blank.
WITH events AS (
    SELECT mp.cohort, mp.stratum_month, mp.person_id,
           count(*) FILTER (WHERE e.measure = 'emergency_admissions') AS emergency_admissions_12m,
           count(*) FILTER (WHERE e.measure = 'inpatient_admissions') AS inpatient_admissions_12m,
           count(*) FILTER (WHERE e.measure = 'ae_attendances') AS ae_attendances_12m,
           count(*) FILTER (WHERE e.measure = 'outpatient_appointments') AS outpatient_appointments_12m,
           count(*) FILTER (WHERE e.measure = 'emergency_admissions'
                            AND e.event_date >= CAST(mp.stratum_month - INTERVAL 6 MONTH AS DATE)) AS emergency_admissions_6m,
           count(*) FILTER (WHERE e.measure = 'inpatient_admissions'
                            AND e.event_date >= CAST(mp.stratum_month - INTERVAL 6 MONTH AS DATE)) AS inpatient_admissions_6m,
           count(*) FILTER (WHERE e.measure = 'ae_attendances'
                            AND e.event_date >= CAST(mp.stratum_month - INTERVAL 6 MONTH AS DATE)) AS ae_attendances_6m,
           count(*) FILTER (WHERE e.measure = 'outpatient_appointments'
                            AND e.event_date >= CAST(mp.stratum_month - INTERVAL 6 MONTH AS DATE)) AS outpatient_appointments_6m
    FROM analysis.matching_population mp
    JOIN core.hospital_events e
      ON e.person_id = mp.person_id
     AND e.event_date >= CAST(mp.stratum_month - INTERVAL 12 MONTH AS DATE) AND e.event_date < mp.stratum_month
    GROUP BY ALL
), means AS (
    SELECT avg(imd_decile) AS imd, avg(ltc_count) AS ltc, avg(risk_score) AS risk FROM core.persons
)
SELECT mp.cohort, mp.stratum_month, mp.role, mp.person_id, mp.index_date,
       year(mp.stratum_month) - p.year_of_birth AS age,
       CASE WHEN p.sex = '2' THEN 1 ELSE 0 END AS female,
       coalesce(p.imd_decile, means.imd) AS imd_decile,
       coalesce(p.ltc_count, means.ltc) AS ltc_count,
       coalesce(p.risk_score, means.risk) AS risk_score,
       CASE WHEN p.imd_decile IS NULL OR p.ltc_count IS NULL OR p.risk_score IS NULL THEN 1 ELSE 0 END
           AS any_covariate_imputed,
       coalesce(e.emergency_admissions_12m, 0) AS emergency_admissions_12m,
       coalesce(e.inpatient_admissions_12m, 0) AS inpatient_admissions_12m,
       coalesce(e.ae_attendances_12m, 0) AS ae_attendances_12m,
       coalesce(e.outpatient_appointments_12m, 0) AS outpatient_appointments_12m,
       coalesce(e.emergency_admissions_6m, 0) AS emergency_admissions_6m,
       coalesce(e.inpatient_admissions_6m, 0) AS inpatient_admissions_6m,
       coalesce(e.ae_attendances_6m, 0) AS ae_attendances_6m,
       coalesce(e.outpatient_appointments_6m, 0) AS outpatient_appointments_6m
FROM analysis.matching_population mp
JOIN core.persons p USING (person_id)
CROSS JOIN means
LEFT JOIN events e USING (cohort, stratum_month, person_id)
ORDER BY mp.cohort, mp.stratum_month, mp.role DESC, mp.person_id

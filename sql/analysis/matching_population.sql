-- Who takes part in matching (docs/contract/rules.md, ADR 0012, ADR 0017): per cohort and stratum (the week of
-- referral, Monday to Sunday, cut at quarter boundaries so matches stay within the calendar quarter), the
-- cohort's treated members referred that week and the candidates: persons with no referral to any programme
-- in the export in use (whatever its date) who pass the window, death and registration rules at every index
-- date a control in that stratum can be given (from the stratum's earliest to its latest treated index date).
-- `measured_on` is the date the covariates are measured at: a treated person's own index date; for a
-- candidate, the stratum's first index date (once matched, a control is measured again at the index date it
-- takes: analysis.matched_covariates).
WITH members AS (
    SELECT *, greatest(CAST(date_trunc('week', index_date) AS DATE),
                       CAST(date_trunc('quarter', index_date) AS DATE)) AS stratum_start
    FROM analysis.cohort_members
), strata AS (
    SELECT cohort, months, stratum_start, min(index_date) AS first_index, max(index_date) AS last_index
    FROM members
    GROUP BY ALL
), bounds AS (
    SELECT *, CAST(first_index - to_months(months) AS DATE) AS earliest_pre_start,
           CAST(last_index + to_months(months) AS DATE) AS latest_post_end
    FROM strata
), never_referred AS (
    SELECT p.* FROM core.persons p
    WHERE NOT EXISTS (SELECT 1 FROM core.referrals r WHERE r.person_id = p.person_id)
)
SELECT b.cohort, b.months, b.stratum_start, 'treated' AS role, m.person_id, m.index_date,
       m.index_date AS measured_on
FROM bounds b
JOIN members m USING (cohort, stratum_start)
UNION ALL
SELECT b.cohort, b.months, b.stratum_start, 'candidate', p.person_id, NULL, b.first_index
FROM bounds b
CROSS JOIN analysis.parameters prm
JOIN never_referred p
  ON b.earliest_pre_start >= prm.coverage_start
 AND b.latest_post_end - 1 <= prm.cutoff
 AND (p.date_of_death IS NULL OR p.date_of_death >= b.latest_post_end)
 AND p.registered_from <= b.earliest_pre_start
 AND (p.registered_to IS NULL OR p.registered_to >= b.latest_post_end - 1)
ORDER BY cohort, stratum_start, role DESC, person_id

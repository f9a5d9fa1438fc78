-- Who takes part in matching (docs/contract/rules.md, ADR 0012): per cohort and stratum (calendar month of referral,
-- so matches stay within the calendar quarter), the cohort's treated members referred that month and the
-- candidates: persons with no referral to any programme in the export in use (whatever its date) who pass
-- the window, death and registration rules at every index date a control in that stratum can be given
-- (from the stratum's earliest to its latest treated index date).
WITH strata AS (
    SELECT cohort, months, CAST(date_trunc('month', index_date) AS DATE) AS stratum_month,
           min(index_date) AS first_index, max(index_date) AS last_index
    FROM analysis.cohort_members
    GROUP BY ALL
), bounds AS (
    SELECT *, CAST(first_index - to_months(months) AS DATE) AS earliest_pre_start,
           CAST(last_index + to_months(months) AS DATE) AS latest_post_end
    FROM strata
), never_referred AS (
    SELECT p.* FROM core.persons p
    WHERE NOT EXISTS (SELECT 1 FROM core.referrals r WHERE r.person_id = p.person_id)
)
SELECT b.cohort, b.months, b.stratum_month, 'treated' AS role, m.person_id, m.index_date
FROM bounds b
JOIN analysis.cohort_members m
  ON m.cohort = b.cohort AND CAST(date_trunc('month', m.index_date) AS DATE) = b.stratum_month
UNION ALL
SELECT b.cohort, b.months, b.stratum_month, 'candidate', p.person_id, NULL
FROM bounds b
CROSS JOIN analysis.parameters prm
JOIN never_referred p
  ON b.earliest_pre_start >= prm.coverage_start
 AND b.latest_post_end - 1 <= prm.cutoff
 AND (p.date_of_death IS NULL OR p.date_of_death >= b.latest_post_end)
 AND p.registered_from <= b.earliest_pre_start
 AND (p.registered_to IS NULL OR p.registered_to >= b.latest_post_end - 1)
ORDER BY cohort, stratum_month, role DESC, person_id

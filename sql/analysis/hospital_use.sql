-- Table 1 (docs/contract/outputs.md): per-patient mean counts before and after referral, all members and the funded
-- subgroup. Means divide by the number of patients in the group; pct_change is blank when mean_before is 0;
-- an empty group has n_patients 0 and blank means.
WITH frame AS (
    SELECT w.cohort, w.cohort_order, g."group", g.group_order, ms.measure, ms.measure_order
    FROM analysis.cohort_windows w CROSS JOIN analysis.groups g CROSS JOIN analysis.measures ms
), sums AS (
    SELECT f.cohort, f."group", f.measure,
           count(u.person_id) AS n_patients,
           sum(u.before) AS total_before,
           sum(u.after) AS total_after
    FROM frame f
    LEFT JOIN analysis.hospital_use_by_patient u
           ON u.cohort = f.cohort AND u.measure = f.measure AND (f."group" = 'all' OR u.funded)
    GROUP BY f.cohort, f."group", f.measure
), means AS (
    SELECT f.*, s.n_patients,
           CASE WHEN s.n_patients > 0 THEN s.total_before / s.n_patients END AS mean_before,
           CASE WHEN s.n_patients > 0 THEN s.total_after / s.n_patients END AS mean_after
    FROM frame f JOIN sums s USING (cohort, "group", measure)
)
SELECT cohort, "group", measure, n_patients, mean_before, mean_after,
       mean_after - mean_before AS change,
       CASE WHEN mean_before <> 0 THEN 100 * (mean_after - mean_before) / mean_before END AS pct_change,
       cohort_order, group_order, measure_order
FROM means
ORDER BY cohort_order, group_order, measure_order

-- Cohort attrition (docs/contract/outputs.md): persons remaining after each rule, applied in order.
WITH counts AS (
    SELECT w.cohort, w.cohort_order,
           count(s.person_id) AS referred,
           count(s.person_id) FILTER (WHERE s.linked) AS linked,
           count(s.person_id) FILTER (WHERE s.linked AND s.pre_window_covered) AS pre_window_covered,
           count(s.person_id) FILTER (WHERE s.linked AND s.pre_window_covered AND s.post_window_covered)
               AS post_window_covered,
           count(s.person_id) FILTER (WHERE s.linked AND s.pre_window_covered AND s.post_window_covered
                                     AND s.alive) AS alive,
           count(s.person_id) FILTER (WHERE s.linked AND s.pre_window_covered AND s.post_window_covered
                                     AND s.alive AND s.registered) AS registered
    FROM analysis.cohort_windows w
    LEFT JOIN analysis.cohort_steps s ON s.cohort = w.cohort
    GROUP BY w.cohort, w.cohort_order
), steps AS (
    SELECT step, step_order FROM analysis.attrition_steps
)
SELECT c.cohort, st.step,
       CASE st.step WHEN 'referred' THEN c.referred WHEN 'linked' THEN c.linked
            WHEN 'pre_window_covered' THEN c.pre_window_covered WHEN 'post_window_covered' THEN c.post_window_covered
            WHEN 'alive' THEN c.alive ELSE c.registered END AS n,
       c.cohort_order, st.step_order
FROM counts c CROSS JOIN steps st
ORDER BY c.cohort_order, st.step_order

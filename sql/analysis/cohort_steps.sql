-- Each referred person against each cohort rule (docs/contract/rules.md, ADR 0009), for W = 6 and 12 months:
--   pre window  [R - W months, R)        post window [R, R + W months), last day R + W months - 1 day
--   linked → pre_window_covered (R - W ≥ coverage_start) → post_window_covered (last post day ≤ cutoff)
--   → alive (no death on or before the last post day) → registered (from ≤ R - W, to blank or ≥ last post day).
-- Month arithmetic clamps to month end (DuckDB interval arithmetic does).
WITH windows AS (
    SELECT w.cohort, w.months, w.cohort_order, rp.person_id, rp.index_date, rp.linked,
           CAST(rp.index_date - to_months(w.months) AS DATE) AS pre_window_start,
           CAST(rp.index_date + to_months(w.months) AS DATE) AS post_window_end
    FROM analysis.referred_persons rp
    CROSS JOIN analysis.cohort_windows w
)
SELECT w.cohort, w.months, w.cohort_order, w.person_id, w.index_date, w.pre_window_start, w.post_window_end,
       w.linked,
       w.pre_window_start >= prm.coverage_start AS pre_window_covered,
       w.post_window_end - 1 <= prm.cutoff AS post_window_covered,
       coalesce(w.linked AND (p.date_of_death IS NULL OR p.date_of_death >= w.post_window_end), FALSE) AS alive,
       coalesce(w.linked AND p.registered_from <= w.pre_window_start
                AND (p.registered_to IS NULL OR p.registered_to >= w.post_window_end - 1), FALSE) AS registered
FROM windows w
CROSS JOIN analysis.parameters prm
LEFT JOIN core.persons p ON p.person_id = w.person_id
ORDER BY w.cohort_order, w.person_id

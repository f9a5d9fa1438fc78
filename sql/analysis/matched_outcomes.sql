-- Every member of every matched set (treated and controls, every matching setting) with its count of each measure in the pre window
-- [R - W, R) and post window [R, R + W), where R is the treated person's index date, which the controls take.
SELECT s.setting, s.cohort, s.set_id, s.role, s.person_id, s.weight, s.index_date, ms.measure, ms.measure_order,
       count(e.event_date) FILTER (WHERE e.event_date < s.index_date) AS before,
       count(e.event_date) FILTER (WHERE e.event_date >= s.index_date) AS after
FROM analysis.matched_sets s
JOIN analysis.cohort_windows w USING (cohort)
CROSS JOIN analysis.measures ms
LEFT JOIN core.hospital_events e
       ON e.person_id = s.person_id AND e.measure = ms.measure
      AND e.event_date >= CAST(s.index_date - to_months(w.months) AS DATE)
      AND e.event_date < CAST(s.index_date + to_months(w.months) AS DATE)
GROUP BY ALL
ORDER BY s.setting, s.cohort, s.set_id, s.role DESC, s.person_id, ms.measure_order

-- Each cohort member's count of each measure in the pre window [R - W, R) and post window [R, R + W).
-- Members with no events count 0.
SELECT m.cohort, m.cohort_order, m.person_id, m.index_date, m.funded, ms.measure, ms.measure_order,
       count(e.event_date) FILTER (WHERE e.event_date < m.index_date) AS before,
       count(e.event_date) FILTER (WHERE e.event_date >= m.index_date) AS after
FROM analysis.cohort_members m
CROSS JOIN analysis.measures ms
LEFT JOIN core.hospital_events e
       ON e.person_id = m.person_id AND e.measure = ms.measure
      AND e.event_date >= m.pre_window_start AND e.event_date < m.post_window_end
GROUP BY ALL
ORDER BY m.cohort_order, m.person_id, ms.measure_order

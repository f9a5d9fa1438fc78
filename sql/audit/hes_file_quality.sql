-- HES data-quality summary for the delivery in use, one row per file: rows, exact duplicates, rows with a
-- conflicting key, other quarantined rows, the date range of its main date, and changes since the previous
-- delivery.
WITH outcomes AS (
    SELECT spec AS file_type, file,
           count(*) AS rows_read,
           count(*) FILTER (WHERE outcome = 'accepted') AS rows_accepted,
           count(*) FILTER (WHERE outcome = 'duplicate') AS rows_duplicate,
           count(*) FILTER (WHERE reason LIKE 'conflicting key%') AS rows_conflicting_key,
           count(*) FILTER (WHERE outcome = 'quarantined' AND reason NOT LIKE 'conflicting key%')
               AS rows_quarantined_other
    FROM audit.row_outcomes WHERE source = 'hes' GROUP BY ALL
), date_ranges AS (
    SELECT 'persons' AS file_type, 'REGISTERED_FROM' AS date_column, min(REGISTERED_FROM) AS first_date,
           max(REGISTERED_FROM) AS last_date FROM staged.persons
    UNION ALL SELECT 'apc', 'ADMIDATE', min(ADMIDATE), max(ADMIDATE) FROM staged.apc
    UNION ALL SELECT 'ae', 'ARRIVALDATE', min(ARRIVALDATE), max(ARRIVALDATE) FROM staged.ae
    UNION ALL SELECT 'op', 'APPTDATE', min(APPTDATE), max(APPTDATE) FROM staged.op
)
SELECT prm.hes_delivery AS delivery, o.file_type, o.file, o.rows_read, o.rows_accepted, o.rows_duplicate,
       o.rows_conflicting_key, o.rows_quarantined_other, d.date_column, d.first_date, d.last_date,
       prm.previous_hes_delivery AS previous_delivery,
       CASE WHEN prm.previous_hes_delivery IS NOT NULL THEN c.records_revised END AS records_revised,
       CASE WHEN prm.previous_hes_delivery IS NOT NULL THEN c.records_withdrawn END AS records_withdrawn,
       CASE WHEN prm.previous_hes_delivery IS NOT NULL THEN c.records_new END AS records_new
FROM outcomes o
CROSS JOIN analysis.parameters prm
LEFT JOIN date_ranges d USING (file_type)
LEFT JOIN audit.hes_delivery_changes c USING (file_type)
ORDER BY o.file

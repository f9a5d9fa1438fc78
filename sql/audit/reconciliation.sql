-- Every file the run used, with read = accepted + quarantined + duplicates (docs/contract/rules.md).
SELECT f.source, f.file,
       count(o.row_number) AS rows_read,
       count(o.row_number) FILTER (WHERE o.outcome = 'accepted') AS rows_accepted,
       count(o.row_number) FILTER (WHERE o.outcome = 'quarantined') AS rows_quarantined,
       count(o.row_number) FILTER (WHERE o.outcome = 'duplicate') AS rows_duplicate
FROM audit.files f
LEFT JOIN audit.row_outcomes o ON o.file = f.file AND o.spec = f.spec
GROUP BY f.source, f.file
ORDER BY f.source, f.file

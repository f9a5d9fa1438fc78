-- Missing (blank) values per column of each HES file in the delivery in use, as delivered.
WITH present AS (
    SELECT * FROM (
        SELECT 'persons' AS file_type, file, count(*) AS rows_read,
               count(nullif(trim(COLUMNS(* EXCLUDE (delivery, file, sha256, row_number, row_hash, row_defect))), ''))
        FROM raw.persons GROUP BY file
    ) UNPIVOT (rows_present FOR column_name IN (COLUMNS(* EXCLUDE (file_type, file, rows_read))))
    UNION ALL BY NAME
    SELECT * FROM (
        SELECT 'apc' AS file_type, file, count(*) AS rows_read,
               count(nullif(trim(COLUMNS(* EXCLUDE (delivery, file, sha256, row_number, row_hash, row_defect))), ''))
        FROM raw.apc GROUP BY file
    ) UNPIVOT (rows_present FOR column_name IN (COLUMNS(* EXCLUDE (file_type, file, rows_read))))
    UNION ALL BY NAME
    SELECT * FROM (
        SELECT 'ae' AS file_type, file, count(*) AS rows_read,
               count(nullif(trim(COLUMNS(* EXCLUDE (delivery, file, sha256, row_number, row_hash, row_defect))), ''))
        FROM raw.ae GROUP BY file
    ) UNPIVOT (rows_present FOR column_name IN (COLUMNS(* EXCLUDE (file_type, file, rows_read))))
    UNION ALL BY NAME
    SELECT * FROM (
        SELECT 'op' AS file_type, file, count(*) AS rows_read,
               count(nullif(trim(COLUMNS(* EXCLUDE (delivery, file, sha256, row_number, row_hash, row_defect))), ''))
        FROM raw.op GROUP BY file
    ) UNPIVOT (rows_present FOR column_name IN (COLUMNS(* EXCLUDE (file_type, file, rows_read))))
)
SELECT file_type, file, column_name, rows_read, rows_read - rows_present AS rows_missing,
       100.0 * (rows_read - rows_present) / rows_read AS pct_missing
FROM present
ORDER BY file, column_name

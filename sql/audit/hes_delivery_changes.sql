-- HES records the delivery in use revised, withdrew or added compared with the delivery before it, by record
-- key (persons TOKEN_PERSON_ID, apc EPIKEY, ae AEKEY, op ATTENDKEY). "Revised" = same key, different cells.
WITH current_rows AS (
    SELECT 'persons' AS file_type, TOKEN_PERSON_ID AS record_key,
           md5(array_to_string(list_transform(list_value(*COLUMNS(* EXCLUDE (delivery, file, sha256, row_number, row_hash, row_defect))), lambda x: coalesce(x, '')), chr(31))) AS content
    FROM raw.persons
    UNION ALL SELECT 'apc', EPIKEY, md5(array_to_string(list_transform(list_value(*COLUMNS(* EXCLUDE (delivery, file, sha256, row_number, row_hash, row_defect))), lambda x: coalesce(x, '')), chr(31))) FROM raw.apc
    UNION ALL SELECT 'ae', AEKEY, md5(array_to_string(list_transform(list_value(*COLUMNS(* EXCLUDE (delivery, file, sha256, row_number, row_hash, row_defect))), lambda x: coalesce(x, '')), chr(31))) FROM raw.ae
    UNION ALL SELECT 'op', ATTENDKEY, md5(array_to_string(list_transform(list_value(*COLUMNS(* EXCLUDE (delivery, file, sha256, row_number, row_hash, row_defect))), lambda x: coalesce(x, '')), chr(31))) FROM raw.op
), previous_rows AS (
    SELECT 'persons' AS file_type, TOKEN_PERSON_ID AS record_key,
           md5(array_to_string(list_transform(list_value(*COLUMNS(* EXCLUDE (delivery, file, sha256, row_number, row_hash, row_defect))), lambda x: coalesce(x, '')), chr(31))) AS content
    FROM raw.previous_persons
    UNION ALL SELECT 'apc', EPIKEY, md5(array_to_string(list_transform(list_value(*COLUMNS(* EXCLUDE (delivery, file, sha256, row_number, row_hash, row_defect))), lambda x: coalesce(x, '')), chr(31))) FROM raw.previous_apc
    UNION ALL SELECT 'ae', AEKEY, md5(array_to_string(list_transform(list_value(*COLUMNS(* EXCLUDE (delivery, file, sha256, row_number, row_hash, row_defect))), lambda x: coalesce(x, '')), chr(31))) FROM raw.previous_ae
    UNION ALL SELECT 'op', ATTENDKEY, md5(array_to_string(list_transform(list_value(*COLUMNS(* EXCLUDE (delivery, file, sha256, row_number, row_hash, row_defect))), lambda x: coalesce(x, '')), chr(31))) FROM raw.previous_op
), now_ AS (
    SELECT file_type, record_key, min(content) AS content FROM current_rows WHERE record_key IS NOT NULL GROUP BY ALL
), before_ AS (
    SELECT file_type, record_key, min(content) AS content FROM previous_rows WHERE record_key IS NOT NULL GROUP BY ALL
), file_types AS (
    SELECT * FROM (VALUES ('persons'), ('apc'), ('ae'), ('op')) AS t(file_type)
)
SELECT f.file_type,
       count(*) FILTER (WHERE n.record_key IS NOT NULL AND b.record_key IS NOT NULL AND n.content <> b.content)
           AS records_revised,
       count(*) FILTER (WHERE n.record_key IS NULL AND b.record_key IS NOT NULL) AS records_withdrawn,
       count(*) FILTER (WHERE n.record_key IS NOT NULL AND b.record_key IS NULL) AS records_new
FROM file_types f
LEFT JOIN (now_ n FULL JOIN before_ b USING (file_type, record_key)) ON f.file_type = coalesce(n.file_type, b.file_type)
GROUP BY f.file_type
ORDER BY f.file_type

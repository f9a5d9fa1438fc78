-- HES records the delivery in use revised, withdrew or added compared with the delivery before it, by record
-- key (persons TOKEN_PERSON_ID, apc EPIKEY, ae AEKEY, op ATTENDKEY). "Revised" = same key, different cells.
WITH delivered AS (
    SELECT 'persons' AS file_type, 'now' AS side, TOKEN_PERSON_ID AS record_key, * FROM raw.persons
    UNION ALL BY NAME SELECT 'apc' AS file_type, 'now' AS side, EPIKEY AS record_key, * FROM raw.apc
    UNION ALL BY NAME SELECT 'ae' AS file_type, 'now' AS side, AEKEY AS record_key, * FROM raw.ae
    UNION ALL BY NAME SELECT 'op' AS file_type, 'now' AS side, ATTENDKEY AS record_key, * FROM raw.op
    UNION ALL BY NAME SELECT 'persons' AS file_type, 'before' AS side, TOKEN_PERSON_ID AS record_key, * FROM raw.previous_persons
    UNION ALL BY NAME SELECT 'apc' AS file_type, 'before' AS side, EPIKEY AS record_key, * FROM raw.previous_apc
    UNION ALL BY NAME SELECT 'ae' AS file_type, 'before' AS side, AEKEY AS record_key, * FROM raw.previous_ae
    UNION ALL BY NAME SELECT 'op' AS file_type, 'before' AS side, ATTENDKEY AS record_key, * FROM raw.previous_op
), contents AS (
    -- every delivered cell of the row (columns of the other file types are blank on both sides alike)
    SELECT file_type, side, record_key,
           md5(array_to_string(list_transform(list_value(*COLUMNS(* EXCLUDE (file_type, side, record_key, delivery,
               file, sha256, row_number, row_hash, row_defect))), lambda x: coalesce(x, '')), chr(31))) AS content
    FROM delivered
    WHERE record_key IS NOT NULL
), by_key AS (
    SELECT file_type, record_key,
           min(content) FILTER (WHERE side = 'now') AS now_content,
           min(content) FILTER (WHERE side = 'before') AS before_content
    FROM contents GROUP BY ALL
), file_types AS (
    SELECT * FROM (VALUES ('persons'), ('apc'), ('ae'), ('op')) AS t(file_type)
)
SELECT f.file_type,
       count(k.record_key) FILTER (WHERE k.now_content <> k.before_content) AS records_revised,
       count(k.record_key) FILTER (WHERE k.now_content IS NULL AND k.before_content IS NOT NULL) AS records_withdrawn,
       count(k.record_key) FILTER (WHERE k.now_content IS NOT NULL AND k.before_content IS NULL) AS records_new
FROM file_types f
LEFT JOIN by_key k USING (file_type)
GROUP BY f.file_type
ORDER BY f.file_type

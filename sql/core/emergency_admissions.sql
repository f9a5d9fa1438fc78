-- Emergency admission (docs/contract/rules.md, ADR 0006): an inpatient admission whose episode's admission method
-- is an emergency code (ADMIMETH 21-25, 28, 2A-2D, compared as strings).
SELECT DISTINCT TOKEN_PERSON_ID AS person_id, PROCODE3 AS provider, ADMIDATE AS event_date
FROM staged.apc
WHERE EPISTAT = '3' AND CLASSPAT IN ('1', '2')
  AND ADMIMETH IN ('21', '22', '23', '24', '25', '28', '2A', '2B', '2C', '2D')
ORDER BY person_id, event_date, provider

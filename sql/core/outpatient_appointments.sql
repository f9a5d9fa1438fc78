-- Outpatient appointment (docs/contract/rules.md, ADR 0008): a distinct ATTENDKEY the patient attended
-- (ATTENDED 5 seen on time, 6 late but seen). Dated by APPTDATE.
SELECT DISTINCT TOKEN_PERSON_ID AS person_id, ATTENDKEY AS attend_key, APPTDATE AS event_date
FROM staged.op
WHERE ATTENDED IN ('5', '6')
ORDER BY person_id, event_date, attend_key

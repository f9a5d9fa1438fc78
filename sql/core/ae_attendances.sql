-- A&E attendance (docs/contract/rules.md, ADR 0007): a distinct (person, provider, arrival date, arrival time) that is a
-- first (AEATTENDCAT 1) or unplanned follow-up (3) attendance; planned follow-ups (2) are not counted.
SELECT DISTINCT TOKEN_PERSON_ID AS person_id, PROCODE3 AS provider, ARRIVALDATE AS event_date,
       ARRIVALTIME AS arrival_time
FROM staged.ae
WHERE AEATTENDCAT IN ('1', '3')
ORDER BY person_id, event_date, arrival_time, provider

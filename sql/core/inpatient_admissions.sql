-- Inpatient admission (docs/contract/rules.md, ADR 0005): a distinct (person, provider, ADMIDATE) over finished
-- episodes (EPISTAT 3) of ordinary admissions or day cases (CLASSPAT 1, 2). The episodes of one
-- multi-episode spell share provider and admission date, so they count once. Dated by ADMIDATE.
SELECT DISTINCT TOKEN_PERSON_ID AS person_id, PROCODE3 AS provider, ADMIDATE AS event_date
FROM staged.apc
WHERE EPISTAT = '3' AND CLASSPAT IN ('1', '2')
ORDER BY person_id, event_date, provider

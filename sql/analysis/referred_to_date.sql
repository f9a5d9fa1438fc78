-- How many people the programme has referred (docs/contract/rules.md "Value for money", ADR 0019): referred_to_date =
-- the referred persons (attrition step `referred`: a referral of the programme dated on or before the reporting
-- quarter's last day); referred_last_year = those whose index date falls in the four quarters ending with it.
WITH prm AS (SELECT * FROM analysis.parameters)
SELECT count(r.person_id) AS referred_to_date,
       count(r.person_id) FILTER (WHERE r.index_date > CAST(prm.quarter_end - INTERVAL 12 MONTH AS DATE)) AS referred_last_year
FROM prm LEFT JOIN analysis.referred_persons r ON TRUE

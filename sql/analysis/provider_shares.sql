-- Each provider's share of its work for the run's programme (docs/contract/rules.md "Social return", ADR 0019): of its
-- valid Activity rows in the returns in use (key on or before the reporting quarter) whose REFERRAL_ID is a referral
-- of any programme, the share whose referral is of this programme. Volunteering and leverage are shared between
-- programmes in this proportion. Every provider with a return in use has a row; `share` is blank for one with no
-- such Activity rows: it contributes to no programme, and the report lists it as unattributed.
WITH prm AS (SELECT * FROM analysis.parameters),
providers AS (
    SELECT regexp_extract(file, '([^/]+)\.xlsx#', 1) AS provider_code FROM staged.provider_activity, prm
    WHERE delivery <= prm.quarter
    UNION
    SELECT regexp_extract(file, '([^/]+)\.xlsx#', 1) FROM staged.provider_volunteering, prm WHERE delivery <= prm.quarter
    UNION
    SELECT regexp_extract(file, '([^/]+)\.xlsx#', 1) FROM staged.provider_funding, prm WHERE delivery <= prm.quarter
),
activity AS (
    SELECT regexp_extract(a.file, '([^/]+)\.xlsx#', 1) AS provider_code, r.programme
    FROM staged.provider_activity a
    JOIN core.referrals r ON r.referral_id = a.REFERRAL_ID, prm
    WHERE a.delivery <= prm.quarter
)
SELECT p.provider_code,
       count(a.programme) FILTER (WHERE a.programme = prm.programme) AS programme_activity_rows,
       count(a.programme) AS activity_rows,
       count(a.programme) FILTER (WHERE a.programme = prm.programme) / nullif(count(a.programme), 0) AS share
FROM providers p
CROSS JOIN prm
LEFT JOIN activity a USING (provider_code)
GROUP BY p.provider_code, prm.programme
ORDER BY p.provider_code

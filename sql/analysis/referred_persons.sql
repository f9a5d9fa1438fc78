-- Referred persons and their index date R (docs/contract/rules.md, ADR 0009): the distinct TOKEN_PERSON_IDs with a
-- referral of the programme dated on or before the reporting quarter's last day; R is the earliest such
-- referral date. `linked` = the person has a valid row in persons.csv (else "not linked").
SELECT r.person_id,
       min(r.referral_date) AS index_date,
       count(*) AS n_referrals,
       bool_or(p.person_id IS NOT NULL) AS linked
FROM core.referrals r
CROSS JOIN analysis.parameters prm
LEFT JOIN core.persons p ON p.person_id = r.person_id
WHERE r.programme = prm.programme AND r.referral_date <= prm.quarter_end
GROUP BY r.person_id
ORDER BY r.person_id

-- Members of the 6- and 12-month cohorts: referred persons passing every cohort rule (docs/contract/rules.md).
-- funded = at least one onward referral with FUNDING = Funded, dated on or before the quarter's last day,
-- on any of the person's referrals of the programme (dated on or before that day too).
SELECT s.cohort, s.months, s.cohort_order, s.person_id, s.index_date, s.pre_window_start, s.post_window_end,
       EXISTS (
           SELECT 1
           FROM core.referrals r
           JOIN core.onward_referrals o ON o.referral_id = r.referral_id
           WHERE r.person_id = s.person_id AND r.programme = prm.programme AND r.referral_date <= prm.quarter_end
             AND o.funding = 'Funded' AND o.onward_date <= prm.quarter_end
       ) AS funded
FROM analysis.cohort_steps s
CROSS JOIN analysis.parameters prm
WHERE s.linked AND s.pre_window_covered AND s.post_window_covered AND s.alive AND s.registered
ORDER BY s.cohort_order, s.person_id

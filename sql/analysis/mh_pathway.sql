-- The mental-health pathway (docs/contract/rules.md "Mental-health pathway", ADR 0020): over the programme's referrals
-- dated on or before the reporting quarter's last day, the distinct persons at each step. Each step is judged per
-- referral; a person counts once at a step when any of their referrals meets it.
--   referred;
--   engaged:  STATUS Engaged or Took up, or a Baseline assessment, or an onward referral, each dated on or before
--             the quarter's last day (a declined referral with a baseline has engaged);
--   took_up:  an onward referral dated on or before the quarter's last day;
--   discharge_review_due:     MH_DISCHARGE_REVIEW_DATE on or before the quarter's last day;
--   discharged:               of those, MH_DISCHARGE_DATE on or before it;
--   discharge_observable_12m: of those, the discharge's 12th month ended by then: discharge date + 12 months − 1 day
--                             on or before the quarter's last day (month arithmetic as for the windows);
--   discharge_sustained_12m:  of those, no MH_REACCESS_DATE on or before discharge date + 12 months − 1 day.
-- Every step has a row (0 when nobody reaches it). Written for every run; published for MH runs only.
WITH prm AS (SELECT * FROM analysis.parameters),
referrals AS (
    SELECT r.*, CAST(r.mh_discharge_date + to_months(12) AS DATE) - 1 AS discharge_year_last_day
    FROM core.referrals r, prm
    WHERE r.programme = prm.programme AND r.referral_date <= prm.quarter_end
),
per_referral AS (
    SELECT r.referral_id, r.person_id,
           TRUE AS referred,
           r.status IN ('Engaged', 'Took up')
             OR EXISTS (SELECT 1 FROM core.assessments a
                        WHERE a.referral_id = r.referral_id AND a.assessment_type = 'Baseline'
                          AND a.assessment_date <= prm.quarter_end)
             OR EXISTS (SELECT 1 FROM core.onward_referrals o
                        WHERE o.referral_id = r.referral_id AND o.onward_date <= prm.quarter_end) AS engaged,
           EXISTS (SELECT 1 FROM core.onward_referrals o
                   WHERE o.referral_id = r.referral_id AND o.onward_date <= prm.quarter_end) AS took_up,
           coalesce(r.mh_discharge_review_date <= prm.quarter_end, FALSE) AS discharge_review_due,
           coalesce(r.mh_discharge_review_date <= prm.quarter_end
                    AND r.mh_discharge_date <= prm.quarter_end, FALSE) AS discharged,
           coalesce(r.mh_discharge_review_date <= prm.quarter_end
                    AND r.mh_discharge_date <= prm.quarter_end
                    AND r.discharge_year_last_day <= prm.quarter_end, FALSE) AS discharge_observable_12m,
           coalesce(r.mh_discharge_review_date <= prm.quarter_end
                    AND r.mh_discharge_date <= prm.quarter_end
                    AND r.discharge_year_last_day <= prm.quarter_end
                    AND NOT coalesce(r.mh_reaccess_date <= r.discharge_year_last_day, FALSE), FALSE)
             AS discharge_sustained_12m
    FROM referrals r, prm
),
steps AS (
    SELECT step, person_id FROM per_referral
    UNPIVOT (reached FOR step IN (referred, engaged, took_up, discharge_review_due, discharged,
                                  discharge_observable_12m, discharge_sustained_12m))
    WHERE reached
)
SELECT s.step, count(DISTINCT p.person_id) AS n, s.step_order
FROM analysis.mh_pathway_steps s
LEFT JOIN steps p USING (step)
GROUP BY s.step, s.step_order
ORDER BY s.step_order

-- Baseline and follow-up score per referral and measure (docs/contract/rules.md, ADR 0010). Referrals of the programme and
-- assessments both dated on or before the reporting quarter's last day.
--   baseline  = the earliest Baseline assessment;
--   follow-up = the earliest Review dated followup_min_days..followup_max_days after the baseline (both included).
-- Ties on date go to the lowest ASSESSMENT_ID in natural order (shorter first, then text: S9 < S10).
WITH prm AS (SELECT * FROM analysis.parameters),
referrals AS (
    SELECT r.referral_id FROM core.referrals r, prm
    WHERE r.programme = prm.programme AND r.referral_date <= prm.quarter_end
),
assessments AS (
    SELECT a.* FROM core.assessments a JOIN referrals USING (referral_id), prm
    WHERE a.assessment_date <= prm.quarter_end
),
baseline AS (
    SELECT * FROM assessments WHERE assessment_type = 'Baseline'
    QUALIFY row_number() OVER (PARTITION BY referral_id
                               ORDER BY assessment_date, length(assessment_id), assessment_id) = 1
),
followup AS (
    SELECT a.* FROM assessments a JOIN baseline b USING (referral_id), prm
    WHERE a.assessment_type = 'Review'
      AND a.assessment_date - b.assessment_date BETWEEN prm.followup_min_days AND prm.followup_max_days
    QUALIFY row_number() OVER (PARTITION BY a.referral_id
                               ORDER BY a.assessment_date, length(a.assessment_id), a.assessment_id) = 1
),
baseline_scores AS (
    SELECT * FROM baseline UNPIVOT INCLUDE NULLS (score FOR measure IN (
        feeling_positive, lifestyle, looking_after_yourself, managing_symptoms, work_volunteering_social, money, where_you_live, family_friends))
),
followup_scores AS (
    SELECT * FROM followup UNPIVOT INCLUDE NULLS (score FOR measure IN (
        feeling_positive, lifestyle, looking_after_yourself, managing_symptoms, work_volunteering_social, money, where_you_live, family_friends))
)
SELECT b.referral_id, b.measure, m.measure_order,
       b.assessment_id AS baseline_id, b.assessment_date AS baseline_date, b.score AS baseline_score,
       f.assessment_id AS followup_id, f.assessment_date AS followup_date, f.score AS followup_score
FROM baseline_scores b
JOIN analysis.wellbeing_measures m USING (measure)
LEFT JOIN followup_scores f USING (referral_id, measure)
ORDER BY b.referral_id, m.measure_order

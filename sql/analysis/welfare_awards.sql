-- Welfare benefits claimed with help from funded services (docs/contract/rules.md "Social return", ADR 0019): Welfare
-- rows of the returns in use (key on or before the reporting quarter) whose REFERRAL_ID is a referral of the
-- programme and whose AWARD_DATE is on or before the quarter's last day (a blank award date does not count), each
-- worth WEEKLY_AMOUNT_GBP × 52 a year.
WITH prm AS (SELECT * FROM analysis.parameters)
SELECT w.REFERRAL_ID AS referral_id, w.BENEFIT_TYPE AS benefit_type, w.AWARD_DATE AS award_date,
       w.WEEKLY_AMOUNT_GBP AS weekly_amount_gbp, w.WEEKLY_AMOUNT_GBP * 52 AS annual_value_gbp, w.file, w.row_number
FROM staged.provider_welfare w
JOIN core.referrals r ON r.referral_id = w.REFERRAL_ID, prm
WHERE r.programme = prm.programme AND w.AWARD_DATE <= prm.quarter_end AND w.delivery <= prm.quarter
ORDER BY w.file, w.row_number

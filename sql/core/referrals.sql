-- Referrals to social prescribing, from the outcome-tool export in use.
SELECT REFERRAL_ID AS referral_id, TOKEN_PERSON_ID AS person_id, PROGRAMME AS programme,
       REFERRAL_DATE AS referral_date, REFERRER_PRACTICE AS referrer_practice, REFERRAL_SOURCE AS referral_source,
       ADVISER_ID AS adviser_id, STATUS AS status, CLOSED_DATE AS closed_date,
       MH_DISCHARGE_REVIEW_DATE AS mh_discharge_review_date, MH_DISCHARGE_DATE AS mh_discharge_date,
       MH_REACCESS_DATE AS mh_reaccess_date
FROM staged.referrals
ORDER BY referral_id

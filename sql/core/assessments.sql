-- Well-being assessments (eight measures scored 1-5) from the outcome tool.
SELECT ASSESSMENT_ID AS assessment_id, REFERRAL_ID AS referral_id, ASSESSMENT_DATE AS assessment_date,
       ASSESSMENT_TYPE AS assessment_type,
       FEELING_POSITIVE AS feeling_positive, LIFESTYLE AS lifestyle, LOOKING_AFTER_YOURSELF AS looking_after_yourself,
       MANAGING_SYMPTOMS AS managing_symptoms, WORK_VOLUNTEERING_SOCIAL AS work_volunteering_social,
       MONEY AS money, WHERE_YOU_LIVE AS where_you_live, FAMILY_FRIENDS AS family_friends
FROM staged.assessments
ORDER BY assessment_id

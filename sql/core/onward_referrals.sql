-- Onward referrals from social prescribing advisers to voluntary-sector and statutory services.
SELECT ONWARD_ID AS onward_id, REFERRAL_ID AS referral_id, ONWARD_DATE AS onward_date, SERVICE_CODE AS service_code,
       SERVICE_NAME AS service_name, PROVIDER_CODE AS provider_code, SERVICE_TYPE AS service_type,
       FUNDING AS funding
FROM staged.onward_referrals
ORDER BY onward_id

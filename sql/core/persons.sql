-- The linked population: referred patients plus the never-referred comparison pool.
SELECT TOKEN_PERSON_ID AS person_id, YEAR_OF_BIRTH AS year_of_birth, SEX AS sex, LSOA11 AS lsoa11,
       IMD_DECILE AS imd_decile, GPPRAC AS gp_practice, LTC_COUNT AS ltc_count, RISK_SCORE AS risk_score,
       REGISTERED_FROM AS registered_from, REGISTERED_TO AS registered_to, DATE_OF_DEATH AS date_of_death
FROM staged.persons
ORDER BY person_id

-- Covariates for the propensity model (sql/macros/covariates_at.sql), for treated and candidates alike, measured
-- at each row's `measured_on`: the treated person's index date, or the candidate's stratum's first index date.
SELECT * FROM covariates_at('analysis.matching_population')
ORDER BY cohort, stratum_start, role DESC, person_id

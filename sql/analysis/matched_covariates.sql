-- The same covariates (sql/macros/covariates_at.sql) for every member of every matched set, measured at the
-- set's index date, which the controls take: the pre-window history the outcome comparison starts from. The
-- balance after matching and the regression adjustment of the doubly robust estimate use these (ADR 0017).
SELECT * FROM covariates_at('analysis.matched_sets')
ORDER BY setting, cohort, set_id, role DESC, person_id

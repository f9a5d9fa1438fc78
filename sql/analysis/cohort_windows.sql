-- The two follow-up lengths the evaluation reports (docs/contract/rules.md): 6 and 12 months.
SELECT * FROM (VALUES ('6m', 6, 1), ('12m', 12, 2)) AS w(cohort, months, cohort_order)

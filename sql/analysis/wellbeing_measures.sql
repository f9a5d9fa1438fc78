-- The outcome tool's eight well-being measures (docs/contract/inputs.md), in reporting order.
SELECT * FROM (VALUES ('feeling_positive', 1), ('lifestyle', 2), ('looking_after_yourself', 3),
                      ('managing_symptoms', 4), ('work_volunteering_social', 5), ('money', 6),
                      ('where_you_live', 7), ('family_friends', 8)) AS m(measure, measure_order)

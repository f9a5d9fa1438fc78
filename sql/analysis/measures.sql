-- The four hospital-use measures, in reporting order.
SELECT * FROM (VALUES ('inpatient_admissions', 1), ('emergency_admissions', 2), ('ae_attendances', 3),
                      ('outpatient_appointments', 4)) AS m(measure, measure_order)

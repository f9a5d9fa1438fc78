-- The four counted measures as one dated event list, for window counting.
SELECT 'inpatient_admissions' AS measure, person_id, event_date FROM core.inpatient_admissions
UNION ALL SELECT 'emergency_admissions', person_id, event_date FROM core.emergency_admissions
UNION ALL SELECT 'ae_attendances', person_id, event_date FROM core.ae_attendances
UNION ALL SELECT 'outpatient_appointments', person_id, event_date FROM core.outpatient_appointments

-- Rows that break the contract, with the first rule each breaks. Quarantined rows count nowhere else.
SELECT source, file, row_number, reason
FROM audit.row_outcomes
WHERE outcome = 'quarantined'
ORDER BY source, file, row_number

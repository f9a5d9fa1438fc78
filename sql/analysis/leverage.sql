-- Additional funding providers secured because of the programme (docs/contract/rules.md "Social return", ADR 0019):
-- Funding rows of the returns in use (key on or before the reporting quarter) with ATTRIBUTED_TO_PROGRAMME = 'Y' and
-- DATE_AWARDED on or before the quarter's last day (a blank date does not count), shared to the programme by the
-- provider's share (analysis.provider_shares; blank for an unattributed provider).
WITH prm AS (SELECT * FROM analysis.parameters)
SELECT s.provider_code, f.FUNDER AS funder, f.AMOUNT_GBP AS amount_gbp, f.DATE_AWARDED AS date_awarded, s.share,
       f.AMOUNT_GBP * s.share AS programme_amount_gbp, f.file, f.row_number
FROM staged.provider_funding f
JOIN analysis.provider_shares s ON s.provider_code = regexp_extract(f.file, '([^/]+)\.xlsx#', 1), prm
WHERE f.ATTRIBUTED_TO_PROGRAMME = 'Y' AND f.DATE_AWARDED <= prm.quarter_end AND f.delivery <= prm.quarter
ORDER BY f.file, f.row_number

-- Volunteering in funded services (docs/contract/rules.md "Social return", ADR 0019): the hours of each month in the
-- returns in use (key on or before the reporting quarter), shared to the programme by the provider's share
-- (analysis.provider_shares; blank for an unattributed provider), with the wages in force on the first day of the
-- month worked (reference.wages): the national minimum wage values an hour low, median hourly pay high.
WITH prm AS (SELECT * FROM analysis.parameters),
hours AS (
    SELECT regexp_extract(v.file, '([^/]+)\.xlsx#', 1) AS provider_code, date_trunc('month', v.MONTH)::DATE AS month,
           v.HOURS AS hours, v.file, v.row_number
    FROM staged.provider_volunteering v, prm
    WHERE v.delivery <= prm.quarter
)
SELECT h.provider_code, h.month, h.hours, s.share, h.hours * s.share AS programme_hours,
       low.hourly_gbp AS low_hourly_gbp, high.hourly_gbp AS high_hourly_gbp, h.file, h.row_number
FROM hours h
JOIN analysis.provider_shares s USING (provider_code)
LEFT JOIN reference.wages low
  ON low.wage = 'national_minimum_wage' AND h.month >= low.valid_from AND (low.valid_to IS NULL OR h.month <= low.valid_to)
LEFT JOIN reference.wages high
  ON high.wage = 'median_hourly_pay' AND h.month >= high.valid_from AND (high.valid_to IS NULL OR h.month <= high.valid_to)
ORDER BY h.provider_code, h.month, h.file, h.row_number

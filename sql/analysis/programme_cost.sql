-- What the programme cost (docs/contract/rules.md "Value for money", ADR 0019), from reference.programme_costs (per
-- financial year, April to March): cost_to_date = its costs up to the reporting quarter's last day, a part year
-- pro rata by whole months; annual_cost = the cost of the financial year containing that day. Every financial
-- year from the programme's first referral to the quarter needs a cost: `years_without_cost` lists those that have
-- none, and cost_to_date is then blank (a total that leaves a year out would overstate the return).
WITH prm AS (SELECT * FROM analysis.parameters),
fy_of_quarter AS (
    SELECT CASE WHEN month(quarter_end) >= 4 THEN year(quarter_end) ELSE year(quarter_end) - 1 END AS start FROM prm
),
first_referral AS (
    SELECT min(r.referral_date) AS day FROM core.referrals r, prm
    WHERE r.programme = prm.programme AND r.referral_date <= prm.quarter_end
),
years_needed AS (
    SELECT unnest(range(CASE WHEN month(f.day) >= 4 THEN year(f.day) ELSE year(f.day) - 1 END, q.start + 1)) AS start
    FROM first_referral f, fy_of_quarter q WHERE f.day IS NOT NULL
),
costs AS (
    SELECT c.*, CAST(left(c.financial_year, 4) AS INTEGER) AS start,
           greatest(0, least(12, datediff('month', make_date(CAST(left(c.financial_year, 4) AS INTEGER), 4, 1),
                                          prm.quarter_end + 1))) AS months_elapsed
    FROM reference.programme_costs c, prm
    WHERE c.programme = prm.programme
)
SELECT prm.programme,
       printf('%d/%02d', q.start, (q.start + 1) % 100) AS financial_year,
       CASE WHEN (SELECT count(*) FROM years_needed n ANTI JOIN costs c USING (start)) = 0
            THEN (SELECT sum(cost_gbp * months_elapsed / 12) FROM costs) END AS cost_to_date_gbp,
       (SELECT cost_gbp FROM costs c WHERE c.start = q.start) AS annual_cost_gbp,
       (SELECT string_agg(printf('%d/%02d', start, (start + 1) % 100), ', ' ORDER BY start)
        FROM years_needed n ANTI JOIN costs c USING (start)) AS years_without_cost,
       (SELECT string_agg(DISTINCT status, ', ' ORDER BY status) FROM costs WHERE months_elapsed > 0) AS status
FROM prm, fy_of_quarter q

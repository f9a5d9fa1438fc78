-- Unit costs at one price year (docs/contract/rules.md "Costs avoided", ADR 0019). The price year is the financial year
-- (April to March) containing the reporting quarter's last day, or the latest year reference.price_index covers if
-- that is earlier. Each item takes its cost of the latest financial year on or before the price year (the earliest
-- year when every row is later) and is expressed at price-year prices: cost × index(price year) / index(cost year).
-- unit_cost_gbp is blank when the index lacks the cost's year (a blocking check stops the run then).
WITH prm AS (SELECT * FROM analysis.parameters),
price_year AS (
    SELECT least(CASE WHEN month(prm.quarter_end) >= 4 THEN year(prm.quarter_end) ELSE year(prm.quarter_end) - 1 END,
                 (SELECT max(CAST(left(financial_year, 4) AS INTEGER)) FROM reference.price_index)) AS start
    FROM prm
),
chosen AS (
    SELECT u.*, CAST(left(u.financial_year, 4) AS INTEGER) AS cost_start
    FROM reference.unit_costs u, price_year p
    QUALIFY row_number() OVER (
        PARTITION BY u.item
        ORDER BY CAST(left(u.financial_year, 4) AS INTEGER) <= p.start DESC,
                 abs(CAST(left(u.financial_year, 4) AS INTEGER) - p.start)) = 1
)
SELECT c.item,
       printf('%d/%02d', p.start, (p.start + 1) % 100) AS price_year,
       c.financial_year AS cost_year,
       c.cost_gbp AS cost_as_published_gbp,
       c.cost_gbp * at_price.index_value / at_cost.index_value AS unit_cost_gbp,
       c.currency, c.status, c.source, c.licence
FROM chosen c
CROSS JOIN price_year p
LEFT JOIN reference.price_index at_cost ON at_cost.financial_year = c.financial_year
LEFT JOIN reference.price_index at_price ON CAST(left(at_price.financial_year, 4) AS INTEGER) = p.start
ORDER BY c.item

-- Social return on investment (docs/contract/rules.md "Social return", ADR 0019), following the SROI guide: per
-- component, value = quantity × financial proxy × (1 − deadweight) × (1 − attribution) × (1 − displacement)
-- (reference.sroi_adjustments); low and high values from the low and high proxies; per_pound = value / the
-- programme's cost to date (analysis.programme_cost).
--   wellbeing:    quantity = referral-measure pairs making progress (Σ followup_n × progress_pct / 100), each valued
--                 at its measure's proxy on the plan's basis (reference.wellbeing_proxies);
--   volunteering: quantity = hours shared to the programme, at the national minimum wage (low) and median pay (high);
--   welfare:      quantity = awards, worth 52 weeks of the weekly amount each (low = high);
--   leverage:     quantity = attributed funding awards shared to the programme, worth their amount (low = high).
-- `total` sums the values (its quantity and unit are blank).
WITH prm AS (SELECT * FROM analysis.parameters),
kept AS (
    SELECT component,
           product(1 - value) AS share_kept,
           string_agg(adjustment || ' ' || round(100 * value, 1) || '%', ', ' ORDER BY adjustment) AS adjustments
    FROM reference.sroi_adjustments GROUP BY component
),
cost AS (SELECT cost_to_date_gbp FROM analysis.programme_cost),
parts AS (
    SELECT 'wellbeing' AS component, count(p.referral_id)::DOUBLE AS quantity, 'measure progressions' AS unit,
           coalesce(sum(px.value_low_gbp), 0) AS low, coalesce(sum(px.value_high_gbp), 0) AS high,
           'wellbeing_proxies.csv, basis ' || any_value(prm.wellbeing_valuation) AS source
    FROM prm
    LEFT JOIN analysis.wellbeing_pairs p ON p.followup_score > p.baseline_score
    LEFT JOIN reference.wellbeing_proxies px ON px.measure = p.measure AND px.basis = prm.wellbeing_valuation
    UNION ALL
    SELECT 'volunteering', coalesce(sum(programme_hours), 0), 'hours',
           coalesce(sum(programme_hours * low_hourly_gbp), 0), coalesce(sum(programme_hours * high_hourly_gbp), 0),
           'provider returns (Volunteering); wages.csv: national minimum wage (low), median hourly pay (high)'
    FROM analysis.volunteering
    UNION ALL
    SELECT 'welfare', count(*), 'awards', coalesce(sum(annual_value_gbp), 0), coalesce(sum(annual_value_gbp), 0),
           'provider returns (Welfare): weekly amount × 52'
    FROM analysis.welfare_awards
    UNION ALL
    SELECT 'leverage', coalesce(sum(share), 0), 'funding awards', coalesce(sum(programme_amount_gbp), 0),
           coalesce(sum(programme_amount_gbp), 0), 'provider returns (Funding, attributed to the programme)'
    FROM analysis.leverage
),
valued AS (
    SELECT p.component, p.quantity, p.unit, p.low * k.share_kept AS value_low_gbp,
           p.high * k.share_kept AS value_high_gbp, p.source || '; sroi_adjustments.csv: ' || k.adjustments AS source
    FROM parts p JOIN kept k USING (component)
),
with_total AS (
    SELECT * FROM valued
    UNION ALL
    -- summed in component order: a plain sum() adds the rows in whatever order DuckDB's threads deliver them,
    -- and a floating-point sum in another order can differ in its last digit (runs must be identical)
    SELECT 'total', NULL, NULL, list_sum(list(value_low_gbp ORDER BY component)),
           list_sum(list(value_high_gbp ORDER BY component)), 'sum of the components' FROM valued
)
SELECT c.component, w.quantity, w.unit, w.value_low_gbp, w.value_high_gbp,
       w.value_low_gbp / nullif(cost.cost_to_date_gbp, 0) AS per_pound_low,
       w.value_high_gbp / nullif(cost.cost_to_date_gbp, 0) AS per_pound_high,
       w.source, c.component_order
FROM analysis.sroi_components c
LEFT JOIN with_total w USING (component)
CROSS JOIN cost
ORDER BY c.component_order

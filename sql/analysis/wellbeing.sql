-- Table 2 (docs/contract/outputs.md): baseline and distance travelled per measure. A score of 2 or less is "low".
--   baseline_n: referrals with a baseline score; followup_n: referrals with both scores;
--   progress: follow-up score > baseline score. Blank (NULL) where the denominator is 0.
SELECT m.measure,
       count(p.baseline_score) AS baseline_n,
       avg(p.baseline_score) AS baseline_mean,
       100 * count(*) FILTER (WHERE p.baseline_score <= 2) / nullif(count(p.baseline_score), 0) AS baseline_low_pct,
       count(*) FILTER (WHERE p.baseline_score IS NOT NULL AND p.followup_score IS NOT NULL) AS followup_n,
       avg(p.followup_score) FILTER (WHERE p.baseline_score IS NOT NULL) AS followup_mean,
       100 * count(*) FILTER (WHERE p.followup_score > p.baseline_score)
           / nullif(count(*) FILTER (WHERE p.baseline_score IS NOT NULL AND p.followup_score IS NOT NULL), 0)
           AS progress_pct,
       100 * count(*) FILTER (WHERE p.followup_score > p.baseline_score AND p.baseline_score <= 2)
           / nullif(count(*) FILTER (WHERE p.baseline_score <= 2 AND p.followup_score IS NOT NULL), 0)
           AS progress_low_pct,
       m.measure_order
FROM analysis.wellbeing_measures m
LEFT JOIN analysis.wellbeing_pairs p USING (measure)
GROUP BY m.measure, m.measure_order
ORDER BY m.measure_order

-- Well-being progress across measures (docs/contract/rules.md "Well-being progress across measures", ADR 0018).
-- Among the referrals with a follow-up (analysis.wellbeing_pairs), per referral: the measures scored at both
-- assessments, and those of them whose follow-up score is higher. n_followup counts the referrals with at least
-- one measure scored at both; n those progressing on at least `at_least` measures; pct = 100 × n / n_followup,
-- blank when n_followup is 0.
WITH per_referral AS (
    SELECT referral_id,
           count(*) FILTER (WHERE baseline_score IS NOT NULL AND followup_score IS NOT NULL) AS scored_both,
           count(*) FILTER (WHERE followup_score > baseline_score) AS progressed
    FROM analysis.wellbeing_pairs
    WHERE followup_id IS NOT NULL
    GROUP BY referral_id
), followed_up AS (
    SELECT * FROM per_referral WHERE scored_both > 0
)
SELECT t.measures_progressed,
       (SELECT count(*) FROM followed_up) AS n_followup,
       count(f.referral_id) AS n,
       100 * count(f.referral_id) / nullif((SELECT count(*) FROM followed_up), 0) AS pct,
       t.measures_progressed_order
FROM analysis.progress_thresholds t
LEFT JOIN followed_up f ON f.progressed >= t.at_least
GROUP BY t.measures_progressed, t.measures_progressed_order
ORDER BY t.measures_progressed_order

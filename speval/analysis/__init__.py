"""Stage 3, analysis (beside the SQL rules in sql/): the matched comparison and its statistics, and
the planted truth the demo data is checked against."""

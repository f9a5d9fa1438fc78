"""Stage 1, ingest: the data contract's files, the deliveries a quarter uses, identifier refusal, and
reading every delivered file into the raw layer with provenance."""

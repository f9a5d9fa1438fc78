"""Stage 2, validate: the contract's row rules compiled to SQL (quarantine, duplicates, keys,
references) and the Great Expectations suites that check the accepted rows."""

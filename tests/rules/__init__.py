"""Fast rule tests (one in-memory DuckDB per test); a package so its conftest never shadows tests/conftest."""

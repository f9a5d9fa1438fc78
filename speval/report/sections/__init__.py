"""One module per report section: each turns the contract tables into what its part of the
template shows (published strings, rows, and flags the template branches on). The wording is
in ``reports/templates/sections/``."""

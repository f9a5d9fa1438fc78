"""Column formatting (ids, dates, codes, tokens) and the CSV / JSON writers.

The writers fix every formatting choice (null as empty, ISO dates, "\\n" line ends, sorted JSON keys)
because the generated files are compared byte for byte.
"""

from __future__ import annotations

import json
import pathlib

import numpy as np
import polars as pl


def ids(prefix: str, numbers: np.ndarray, width: int) -> pl.Series:
    """prefix + zero-padded number, e.g. ids("R", [7], 6) -> "R000007"."""
    s = pl.Series(values=np.asarray(numbers, dtype=np.int64)).cast(pl.String).str.zfill(width)
    return pl.select(pl.lit(prefix) + s).to_series()


def dates(days: np.ndarray, valid: np.ndarray | None = None) -> pl.Series:
    """A Date column from day numbers; null where ``valid`` is False."""
    s = pl.Series(values=np.asarray(days, dtype=np.int32)).cast(pl.Date)
    if valid is not None:
        s = s.zip_with(pl.Series(values=np.asarray(valid, dtype=bool)), pl.Series(values=[None] * len(s), dtype=pl.Date))
    return s


def codes(code_list, idx: np.ndarray) -> pl.Series:
    """A String column of code_list[idx]."""
    return pl.Series(values=list(code_list), dtype=pl.String).gather(np.asarray(idx, dtype=np.int64))


def hex_tokens(values: np.ndarray) -> np.ndarray:
    """'T' + 12 lower-case hex digits for each 48-bit integer."""
    lut = np.frombuffer(b"0123456789abcdef", dtype="S1")
    v = np.asarray(values, dtype=np.uint64)
    digits = np.stack([(v >> np.uint64(4 * (11 - j))) & np.uint64(15) for j in range(12)], axis=1)
    chars = np.concatenate([np.full((len(v), 1), b"T", dtype="S1"), lut[digits.astype(np.int64)]], axis=1)
    return np.ascontiguousarray(chars).view("S13").ravel().astype("U13")


def write_csv(df: pl.DataFrame, path: pathlib.Path, float_precision: int | None = None) -> int:
    """Write df as CSV (creating folders); return its row count for the summary."""
    path.parent.mkdir(parents=True, exist_ok=True)
    df.write_csv(path, null_value="", date_format="%Y-%m-%d", float_precision=float_precision, line_terminator="\n")
    return df.height


def write_json(obj, path: pathlib.Path) -> None:
    """Write obj as indented JSON with sorted keys (creating folders)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, sort_keys=True, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

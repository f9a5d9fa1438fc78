"""Reading delivered files into the `raw` layer, exactly as delivered plus provenance.

Every cell is read as text; typing and rule checks happen in `speval.validate` (SQL). Provenance
columns: `delivery` (quarter key), `file` (path relative to the data folder, `#Sheet` for a
workbook sheet), `sha256` (of the delivered file), `row_number` (as a spreadsheet shows it: CSV
header = row 1), `row_hash` (all delivered cells of the row, for exact-duplicate detection), `row_defect`
(a structural defect found while reading: a total row, more fields than the header; else blank).

Files carrying direct identifiers are refused here, before anything reaches DuckDB.
"""
from __future__ import annotations

import functools
import hashlib
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

import fastexcel
import polars as pl

from speval.contract import FileSpec
from speval.identifiers import IdentifierError, identifier_name_mask, is_identifier_column, refuse_identifiers

class FileRefused(Exception):
    """A delivered file cannot be used at all (missing required column, unreadable, identifiers)."""


@dataclass(frozen=True)
class RawFile:
    spec: FileSpec
    delivery: str
    file: str
    sha256: str
    frame: pl.DataFrame  # provenance columns + the spec's columns, all text

    @property
    def rows_read(self) -> int:
        return self.frame.height


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def canonical_header(header: str) -> str:
    """Header as matched against the contract: upper case, runs of non-alphanumerics as one `_`."""
    return re.sub(r"[^A-Z0-9]+", "_", str(header).strip().upper()).strip("_")


def _contract_columns(frame: pl.DataFrame, spec: FileSpec, file: str) -> pl.DataFrame:
    """Rename delivered headers to the contract's names, refuse missing required columns,
    add absent optional columns as blank, and keep only the contract's columns."""
    by_canonical: dict[str, str] = {}
    for header in frame.columns:
        canon = canonical_header(header)
        if canon in by_canonical and canon in spec.column_names:
            raise FileRefused(f"{file}: refused — column {canon} appears twice in the header")
        by_canonical.setdefault(canon, header)
    missing = [c for c in spec.required_columns if c not in by_canonical]
    if missing:
        raise FileRefused(f"{file}: refused — required column(s) missing: {', '.join(missing)}")
    return frame.select(
        pl.col(by_canonical[c]).alias(c) if c in by_canonical else pl.lit(None, dtype=pl.String).alias(c)
        for c in spec.column_names
    )


def _with_provenance(
    cells: pl.DataFrame, spec: FileSpec, delivery: str, file: str, sha256: str, row_numbers: pl.Series,
    row_defects: pl.Series,
) -> RawFile:
    row_hash = cells.select(
        pl.concat_str([pl.col(c).fill_null("\x00") for c in cells.columns], separator="\x1f").hash(seed=0)
    ).to_series()
    contract = _contract_columns(cells, spec, file)
    frame = pl.DataFrame(
        {
            "delivery": pl.Series([delivery] * cells.height, dtype=pl.String),
            "file": pl.Series([file] * cells.height, dtype=pl.String),
            "sha256": pl.Series([sha256] * cells.height, dtype=pl.String),
            "row_number": row_numbers.cast(pl.Int64),
            "row_hash": row_hash.cast(pl.UInt64),
            "row_defect": row_defects.cast(pl.String),
        }
    ).hstack(contract)
    return RawFile(spec, delivery, file, sha256, frame)


def read_csv_file(path: Path, data_dir: Path, spec: FileSpec, delivery: str) -> RawFile:
    file = path.relative_to(data_dir).as_posix()
    if not path.is_file():
        raise FileRefused(f"{file}: refused — file missing from delivery {delivery}")
    data = path.read_bytes()
    sha256 = hashlib.sha256(data).hexdigest()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if not data.strip():
        raise FileRefused(f"{file}: refused — empty file (no header row)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FileRefused(f"{file}: refused — not UTF-8 (byte {exc.start})") from exc
    defects = None
    try:
        cells = pl.read_csv(data, infer_schema=False, encoding="utf8")
    except pl.exceptions.ComputeError as exc:
        if "more fields" not in str(exc):
            raise FileRefused(f"{file}: refused — not a readable CSV ({exc})") from exc
        cells, defects = _read_ragged_csv(text)
    except Exception as exc:  # polars raises several error types for unreadable CSV
        raise FileRefused(f"{file}: refused — not a readable CSV ({type(exc).__name__}: {exc})") from exc
    row_numbers = pl.Series(range(2, cells.height + 2))
    refuse_identifiers(cells, file, row_numbers)
    if defects is None:
        defects = pl.Series([None] * cells.height, dtype=pl.String)
    return _with_provenance(cells, spec, delivery, file, sha256, row_numbers, defects)


def _read_ragged_csv(text: str) -> tuple[pl.DataFrame, pl.Series]:
    """Fallback for a CSV with rows longer than its header (the fast reader refuses such files): each
    record as a row, extra fields flagged as a row defect (and dropped from the cells), short rows
    padded with blanks as the fast reader does. Runs only for malformed files."""
    import csv
    import io

    records = list(csv.reader(io.StringIO(text, newline="")))
    header, body = records[0], records[1:]
    width = len(header)
    defects = [f"more fields than the header ({len(r)} > {width})" if len(r) > width else None for r in body]
    padded = [(r + [""] * width)[:width] for r in body]
    columns = {name: [row[i] or None for row in padded] for i, name in enumerate(header)}
    return pl.DataFrame(columns, schema={h: pl.String for h in header}), pl.Series(defects, dtype=pl.String)


_CELL_REF = re.compile(r"^([A-Z]+)(\d+)$")
TOTAL_ROW = r"(?i)^(grand\s*|sub\s*-?\s*)?totals?\b"


def column_letter(index: int) -> str:
    """0 → A, 25 → Z, 26 → AA: a column as a spreadsheet names it."""
    letters = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters


def _column_index(letters: str) -> int:
    value = 0
    for ch in letters:
        value = value * 26 + ord(ch) - 64
    return value - 1


def _sheet_origin(path: Path, sheet: str) -> tuple[int, int]:
    """(row number, column index) of the top-left used cell: calamine's range starts there, so the grid it
    returns is offset by this much from the sheet as a spreadsheet shows it."""
    ns = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
    rel_ns = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
    with zipfile.ZipFile(path) as book:
        workbook = ElementTree.fromstring(book.read("xl/workbook.xml"))
        rels = ElementTree.fromstring(book.read("xl/_rels/workbook.xml.rels"))
        targets = {r.get("Id"): r.get("Target") for r in rels}
        for node in workbook.iterfind("m:sheets/m:sheet", ns):
            if node.get("name") == sheet:
                target = targets[node.get(rel_ns)].lstrip("/")
                target = target if target.startswith("xl/") else f"xl/{target}"
                root = ElementTree.fromstring(book.read(target))
                rows, columns = [], []
                for cell in root.iterfind("m:sheetData/m:row/m:c", ns):
                    value = cell.find("m:v", ns)
                    if (value is not None and value.text) or cell.find("m:is", ns) is not None:
                        match = _CELL_REF.match(cell.get("r", ""))
                        if match:
                            columns.append(_column_index(match.group(1)))
                            rows.append(int(match.group(2)))
                if rows:
                    return min(rows), min(columns)
    return 1, 0


def _load_grid(reader, path: Path, sheet_name: str) -> tuple[pl.DataFrame, pl.Series]:
    """A sheet as text cells with columns named by their spreadsheet letters, and each row's number."""
    grid = reader.load_sheet(sheet_name, header_row=None, dtypes="string").to_polars()
    row0, col0 = _sheet_origin(path, sheet_name)
    grid = grid.with_columns(pl.col(c).cast(pl.String) for c in grid.columns)
    grid.columns = [column_letter(col0 + j) for j in range(grid.width)]
    return grid, pl.Series(range(row0, row0 + grid.height))


def refuse_workbook_identifiers(path: Path, data_dir: Path, contract_sheets: frozenset[str]) -> None:
    """Every sheet of a workbook, not only the contract's, is checked for NHS numbers; on sheets the
    contract does not define, a cell named like a direct-identifier column (e.g. `Surname`) refuses it too.
    The five sheet assets share one scan per workbook version."""
    problem = _workbook_identifier_problem(str(path), sha256_of(path), str(data_dir), contract_sheets)
    if problem:
        raise FileRefused(problem)


@functools.lru_cache(maxsize=1024)
def _workbook_identifier_problem(path: str, sha256: str, data_dir: str, contract_sheets: frozenset[str]) -> str | None:
    """The refusal message for a workbook carrying identifiers, or None (cached by path and content hash)."""
    book, root = Path(path), Path(data_dir)
    reader = fastexcel.read_excel(path)
    for name in reader.sheet_names:
        label = f"{book.relative_to(root).as_posix()}#{name}"
        grid, numbers = _load_grid(reader, book, name)
        try:
            refuse_identifiers(grid, label, numbers)
        except IdentifierError as refused:
            return str(refused)
        if canonical_header(name) not in contract_sheets:
            for letter in grid.columns:
                named = grid.select(identifier_name_mask(pl.col(letter)).arg_true()).to_series()
                if named.len():
                    return (f"{label}: refused — row {numbers[int(named[0])]}, column {letter} is headed like a "
                            f"direct identifier (CONTRACT.md §2)")
    return None


def _is_blank(frame: pl.DataFrame) -> pl.Expr:
    return pl.all_horizontal(
        pl.col(c).is_null() | (pl.col(c).str.strip_chars() == "") for c in frame.columns
    )


def read_workbook_sheet(path: Path, data_dir: Path, spec: FileSpec, delivery: str) -> RawFile:
    """One sheet of a provider-return workbook: finds the header row below any title rows; blank
    rows and rows above the header are not rows; a row whose first cell is `Total`, `Totals`, `Grand total` or
    `Subtotal` (as a word: not `TotalEnergies`) is flagged as a total row."""
    file = f"{path.relative_to(data_dir).as_posix()}#{spec.filename}"
    sha256 = sha256_of(path)
    from speval.contract import PROVIDER_SHEETS

    try:
        refuse_workbook_identifiers(path, data_dir, frozenset(canonical_header(s.filename) for s in PROVIDER_SHEETS))
        reader = fastexcel.read_excel(str(path))
        names = {canonical_header(n): n for n in reader.sheet_names}
        if canonical_header(spec.filename) not in names:
            raise FileRefused(f"{file}: refused — workbook has no sheet {spec.filename!r}")
        grid, row_numbers = _load_grid(reader, path, names[canonical_header(spec.filename)])
    except (FileRefused, IdentifierError):
        raise
    except Exception as exc:
        raise FileRefused(f"{file}: refused — workbook unreadable ({type(exc).__name__}: {exc})") from exc

    required = set(spec.required_columns)
    header_index = None
    for i, row in enumerate(grid.iter_rows()):  # header search: a few title rows at most
        canon = {canonical_header(v) for v in row if v is not None}
        if required <= canon:
            header_index = i
            break
        if i >= 50:
            break
    if header_index is None:
        raise FileRefused(
            f"{file}: refused — no header row with the required columns {', '.join(spec.required_columns)}"
        )
    headers = [grid.row(header_index)[j] for j in range(grid.width)]
    for h in headers:
        if h is not None and is_identifier_column(h):
            raise FileRefused(f"{file}: refused — column {h!r} is a direct identifier (CONTRACT.md §2)")
    keep = [j for j, h in enumerate(headers) if h is not None and str(h).strip()]
    body = grid.slice(header_index + 1).select(grid.columns[j] for j in keep)
    body.columns = [str(headers[j]) for j in keep]
    numbers = row_numbers.slice(header_index + 1)
    not_blank = body.select(~_is_blank(body)).to_series()
    body, numbers = body.filter(not_blank), numbers.filter(not_blank)
    first_cell = pl.coalesce(pl.col(c).str.strip_chars().replace("", None) for c in body.columns)
    defects = body.select(pl.when(first_cell.str.contains(TOTAL_ROW)).then(pl.lit("total row"))).to_series()
    return _with_provenance(body, spec, delivery, file, sha256, numbers, defects)


def delivered_files(spec: FileSpec, data_dir: Path, hes: str, outcome_tool: str,
                    provider_returns: tuple[str, ...]) -> list[tuple[str, Path]]:
    """(delivery key, path) of every file this spec reads for the run, in a stable order."""
    if spec.source == "hes":
        return [(hes, data_dir / "hes" / hes / spec.filename)]
    if spec.source == "outcome_tool":
        return [(outcome_tool, data_dir / "outcome_tool" / outcome_tool / spec.filename)]
    return [
        (key, path)
        for key in provider_returns
        for path in sorted((data_dir / "provider_returns" / key).glob("*.xlsx"))
        if not path.name.startswith("~$")
    ]


def read_delivered(spec: FileSpec, data_dir: Path, hes: str, outcome_tool: str,
                   provider_returns: tuple[str, ...]) -> list[RawFile]:
    """Read every file of this spec for the run. Every refused file is reported, not only the first."""
    reader = read_workbook_sheet if spec.is_workbook_sheet else read_csv_file
    files, refusals = [], []
    for delivery, path in delivered_files(spec, data_dir, hes, outcome_tool, provider_returns):
        try:
            files.append(reader(path, data_dir, spec, delivery))
        except (FileRefused, IdentifierError) as refused:
            refusals.append(str(refused))
    if refusals:
        raise FileRefused("\n".join(refusals))
    return files


def empty_raw_frame(spec: FileSpec) -> pl.DataFrame:
    schema = {
        "delivery": pl.String, "file": pl.String, "sha256": pl.String, "row_number": pl.Int64,
        "row_hash": pl.UInt64, "row_defect": pl.String, **{c: pl.String for c in spec.column_names},
    }
    return pl.DataFrame(schema=schema)


def load_raw(con, spec: FileSpec, raw_files: list[RawFile]) -> None:
    """Replace `raw.<name>` with these files' rows and record the files in `audit.files`."""
    from speval.warehouse import replace_table

    frames = [f.frame for f in raw_files] or [empty_raw_frame(spec)]
    replace_table(con, f"raw.{spec.name}", pl.concat(frames, how="vertical"))
    con.execute(
        "CREATE TABLE IF NOT EXISTS audit.files (source VARCHAR, spec VARCHAR, delivery VARCHAR, "
        "file VARCHAR, sha256 VARCHAR, rows_read BIGINT)"
    )
    con.execute("DELETE FROM audit.files WHERE spec = ?", [spec.name])
    for f in raw_files:
        con.execute(
            "INSERT INTO audit.files VALUES (?, ?, ?, ?, ?, ?)",
            [spec.source, spec.name, f.delivery, f.file, f.sha256, f.rows_read],
        )


def refuse_changed_files(con, data_dir: Path, raw_files: list[RawFile]) -> None:
    """Stop when a delivered file differs from what this warehouse ingested before under the same path.

    Deliveries are never modified: a correction must arrive as a new delivery. `audit.ingest_log` keeps
    every file's first sha256 across runs (it is never rebuilt), so a silently changed file is caught
    instead of merged.
    """
    con.execute("CREATE TABLE IF NOT EXISTS audit.ingest_log (path VARCHAR PRIMARY KEY, sha256 VARCHAR)")
    for f in raw_files:
        path = str((data_dir / f.file.split("#")[0]).resolve())
        rows = con.execute("SELECT sha256 FROM audit.ingest_log WHERE path = ?", [path]).fetchall()
        if rows and rows[0][0] != f.sha256:
            raise FileRefused(
                f"{f.file}: refused — the delivered file changed since this warehouse ingested it "
                f"(sha256 {rows[0][0][:12]}… now {f.sha256[:12]}…). Deliveries must not be modified: send "
                f"corrections as a new delivery, or start a new warehouse (--warehouse) if this is a new data set."
            )
        if not rows:
            con.execute("INSERT INTO audit.ingest_log VALUES (?, ?)", [path, f.sha256])

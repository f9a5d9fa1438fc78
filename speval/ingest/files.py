"""Reading delivered files into the `raw` layer, exactly as delivered plus provenance.

Every cell is read as text; typing and rule checks happen in `speval.validate.rules` (SQL). Provenance
columns: `delivery` (quarter key), `file` (path relative to the data folder, `#Sheet` for a
workbook sheet), `sha256` (of the delivered file), `row_number` (as a spreadsheet shows it: CSV
header = row 1), `row_hash` (all delivered cells of the row, for exact-duplicate detection), `row_defect`
(a structural defect found while reading: a total row, more fields than the header; else blank).

Files carrying direct identifiers are refused here, before anything reaches DuckDB.
"""
from __future__ import annotations

import csv
import functools
import hashlib
import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

import fastexcel
import polars as pl

from speval.ingest.contract import PROVIDER_SHEETS, FileSpec
from speval.ingest.deliveries import WORKBOOK_SUFFIXES, DeliveriesInUse
from speval.ingest.identifiers import (IdentifierError, identifier_in_text, identifier_name_mask, key_columns_of,
                                       refuse_identifier_headers, refuse_identifiers, safe_name)


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
    by_canonical = {canonical_header(header): header for header in frame.columns}
    missing = [c for c in spec.required_columns if c not in by_canonical]
    if missing:
        raise FileRefused(f"{file}: refused — required column(s) missing: {', '.join(missing)}")
    return frame.select(
        pl.col(by_canonical[c]).alias(c) if c in by_canonical else pl.lit(None, dtype=pl.String).alias(c)
        for c in spec.column_names
    )


def refuse_repeated_columns(headers: list, file: str) -> None:
    """A column named twice (in any case or spacing) is refused: which copy holds the data is unknowable."""
    seen: dict[str, int] = {}
    for header in headers:
        if header is not None and str(header).strip():
            canon = canonical_header(header)
            seen[canon] = seen.get(canon, 0) + 1
    repeated = sorted(c for c, n in seen.items() if n > 1)
    if repeated:
        raise FileRefused(f"{file}: refused — column {', '.join(repeated)} appears more than once in the header")


def row_hash(cells: pl.DataFrame) -> pl.Series:
    """A hash of every delivered cell of each row, for exact-duplicate detection. Each cell is written with
    its length (a blank as `-`), so no two different rows can give the same text: a NUL cell is not a blank."""
    encoded = [
        pl.when(pl.col(c).is_null()).then(pl.lit("-"))
        .otherwise(pl.col(c).str.len_bytes().cast(pl.String) + pl.lit(":") + pl.col(c))
        for c in cells.columns
    ]
    return cells.select(pl.concat_str(encoded, separator=",").hash(seed=0)).to_series()


def _with_provenance(
    cells: pl.DataFrame, spec: FileSpec, delivery: str, file: str, sha256: str, row_numbers: pl.Series,
    row_defects: pl.Series,
) -> RawFile:
    hashes = row_hash(cells)
    contract = _contract_columns(cells, spec, file)
    frame = pl.DataFrame(
        {
            "delivery": pl.Series([delivery] * cells.height, dtype=pl.String),
            "file": pl.Series([file] * cells.height, dtype=pl.String),
            "sha256": pl.Series([sha256] * cells.height, dtype=pl.String),
            "row_number": row_numbers.cast(pl.Int64),
            "row_hash": hashes.cast(pl.UInt64),
            "row_defect": row_defects.cast(pl.String),
        }
    ).hstack(contract)
    return RawFile(spec, delivery, file, sha256, frame)


def read_csv_file(path: Path, data_dir: Path, spec: FileSpec, delivery: str) -> RawFile:
    """One delivered CSV. Nothing of a refused file's contents ever reaches a message: parser errors are
    replaced by what is wrong and where (row number), never quoted."""
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
        raise FileRefused(f"{file}: refused — not UTF-8 (byte {exc.start})") from None
    header = next(csv.reader(io.StringIO(text, newline="")))
    refuse_identifier_headers(header, file)
    refuse_repeated_columns(header, file)
    defects = None
    try:
        cells = pl.read_csv(data, infer_schema=False, encoding="utf8")
    except Exception:  # the fast reader refuses rows longer than the header, and quotes it cannot place
        cells, defects = _read_strict_csv(text, file)
    row_numbers = pl.Series(range(2, cells.height + 2))
    refuse_identifiers(cells, file, row_numbers, key_columns_of(cells.columns))
    if cells.height == 0 and spec.rows_required:
        raise FileRefused(f"{file}: refused — a header and no rows (this file cannot be empty)")
    if defects is None:
        defects = pl.Series([None] * cells.height, dtype=pl.String)
    return _with_provenance(cells, spec, delivery, file, sha256, row_numbers, defects)


def _read_strict_csv(text: str, file: str) -> tuple[pl.DataFrame, pl.Series]:
    """Fallback for a CSV the fast reader refuses, runs only for malformed files. Each record is a row;
    fields beyond the header are flagged as a row defect (and dropped), short rows padded with blanks as the
    fast reader does, a quote inside an unquoted field kept as written. A quote that is never closed, or
    text after a closing quote, refuses the file naming the row where it starts, never its contents."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    records = []
    try:
        for record in reader:
            records.append(record)
    except csv.Error:
        raise FileRefused(f"{file}: refused — not a readable CSV: a quoted field starting in row "
                          f"{len(records) + 1} is not closed where it should be") from None
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


@dataclass(frozen=True)
class SheetLayout:
    """Where calamine's grid sits on the sheet, and the cells holding an Excel error (`#DIV/0!`, `#REF!`), which
    calamine reads as blank: (row number, column index) -> error code."""

    first_row: int
    first_column: int
    errors: dict[tuple[int, int], str]


def _sheet_layout(path: Path, sheet: str) -> SheetLayout:
    """Read from the sheet's XML: the top-left used cell (calamine's range starts there, so its grid is offset
    by this much from the sheet as a spreadsheet shows it) and the error cells."""
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
                rows, columns, errors = [], [], {}
                for cell in root.iterfind("m:sheetData/m:row/m:c", ns):
                    value = cell.find("m:v", ns)
                    if (value is not None and value.text) or cell.find("m:is", ns) is not None:
                        match = _CELL_REF.match(cell.get("r", ""))
                        if match:
                            columns.append(_column_index(match.group(1)))
                            rows.append(int(match.group(2)))
                            if cell.get("t") == "e":
                                errors[(rows[-1], columns[-1])] = re.sub(r"[^#A-Z0-9/!?.]", "", value.text)[:8]
                if rows:
                    return SheetLayout(min(rows), min(columns), errors)
    return SheetLayout(1, 0, {})


def _load_grid(reader, path: Path, sheet_name: str) -> tuple[pl.DataFrame, pl.Series, SheetLayout]:
    """A sheet as text cells with columns named by their spreadsheet letters, and each row's number."""
    grid = reader.load_sheet(sheet_name, header_row=None, dtypes="string").to_polars()
    layout = _sheet_layout(path, sheet_name)
    grid = grid.with_columns(pl.col(c).cast(pl.String) for c in grid.columns)
    grid.columns = [column_letter(layout.first_column + j) for j in range(grid.width)]
    return grid, pl.Series(range(layout.first_row, layout.first_row + grid.height)), layout


SHEET_SPECS = {canonical_header(s.filename): s for s in PROVIDER_SHEETS}
CONTRACT_SHEETS = {name: spec.filename for name, spec in SHEET_SPECS.items()}


def _header_row(grid: pl.DataFrame, spec: FileSpec) -> int | None:
    """Index of the first grid row holding all the sheet's required columns (title rows may sit above it)."""
    required = set(spec.required_columns)
    for i, row in enumerate(grid.iter_rows()):
        if required <= {canonical_header(v) for v in row if v is not None}:
            return i
        if i >= 50:  # a few title rows at most
            return None
    return None


def workbook_label(path: Path, data_dir: Path) -> str:
    """The workbook's path relative to the data folder, its name withheld if it holds an identifier."""
    relative = path.relative_to(data_dir)
    return (relative.parent / safe_name(relative.name)).as_posix()


def refuse_unusable_workbook(path: Path, data_dir: Path, sha256: str) -> None:
    """Refuse a workbook that cannot be used at all: a name, sheet name or cell holding an NHS number or a
    postcode; on sheets the contract does not define, a cell named like a direct-identifier column (e.g.
    `Surname`); two sheets that both read as one of the contract's; a Cover naming another provider or
    quarter than the file's name and folder. The five sheet assets share one check per workbook version."""
    problem = _workbook_problem(str(path), sha256, str(data_dir))
    if problem:
        raise FileRefused(problem)


@functools.lru_cache(maxsize=1024)
def _workbook_problem(path: str, sha256: str, data_dir: str) -> str | None:
    """The refusal message for an unusable workbook, or None (cached by path and content hash)."""
    book, root = Path(path), Path(data_dir)
    label = workbook_label(book, root)
    what = identifier_in_text(book.name)
    if what:
        return f"{label}: refused — the file name holds {what}"
    try:
        reader = fastexcel.read_excel(path)
        sheets = list(reader.sheet_names)
    except Exception as exc:  # never quote the reader's message: it may hold cell contents
        return f"{label}: refused — workbook unreadable ({type(exc).__name__})"
    for position, name in enumerate(sheets, start=1):
        what = identifier_in_text(name)
        if what:
            return f"{label}: refused — the name of sheet {position} holds {what}"
    for name in sheets:
        try:
            grid, numbers, _ = _load_grid(reader, book, name)
        except Exception as exc:
            return f"{label}#{name}: refused — sheet unreadable ({type(exc).__name__})"
        keys = frozenset()
        if canonical_header(name) in CONTRACT_SHEETS:  # key columns are known below the header row
            spec = SHEET_SPECS[canonical_header(name)]
            header = _header_row(grid, spec)
            if header is not None:
                keys = frozenset(c for c, v in zip(grid.columns, grid.row(header)) if v in key_columns_of([v]))
        try:
            refuse_identifiers(grid, f"{label}#{name}", numbers, keys)
        except IdentifierError as refused:
            return str(refused)
        if canonical_header(name) not in CONTRACT_SHEETS:
            for letter in grid.columns:
                named = grid.select(identifier_name_mask(pl.col(letter)).arg_true()).to_series()
                if named.len():
                    return (f"{label}#{name}: refused — row {numbers[int(named[0])]}, column {letter} is headed "
                            f"like a direct identifier")
    for canon, contract_name in CONTRACT_SHEETS.items():
        alike = [n for n in sheets if canonical_header(n) == canon]
        if len(alike) > 1:
            return (f"{label}: refused — sheets {', '.join(repr(n) for n in alike)} all read as the "
                    f"{contract_name} sheet; a return must have one")
    cover = next((n for n in sheets if canonical_header(n) == "COVER"), None)
    if cover:
        return _cover_problem(_load_grid(reader, book, cover)[0], label, book)
    return None


def _cover_problem(grid: pl.DataFrame, label: str, book: Path) -> str | None:
    """A Cover whose provider code or quarter differs from the file name (`<PROVIDER_CODE>.xlsx`) and its
    folder (`<QUARTER>`): the return was filed under the wrong provider or quarter. A blank is not checked."""
    expected = {"PROVIDER_CODE": canonical_header(book.stem), "QUARTER": book.parent.name.upper()}
    for row in grid.iter_rows():
        cells = [str(v).strip() for v in row if v is not None and str(v).strip()]
        if len(cells) < 2 or canonical_header(cells[0]) not in expected:
            continue
        field, value = canonical_header(cells[0]), canonical_header(cells[1]).replace("_", "")
        value = re.sub(r"^Q([1-4])(\d{4})$", r"\2Q\1", value)  # `Q4 2013` is 2013Q4
        if value != expected[field].replace("_", ""):
            what = "provider code" if field == "PROVIDER_CODE" else "quarter"
            return (f"{label}#Cover: refused — the Cover's {what} does not match the file's "
                    f"{'name' if field == 'PROVIDER_CODE' else 'folder'} ({expected[field]})")
    return None


def _is_blank(frame: pl.DataFrame) -> pl.Expr:
    return pl.all_horizontal(
        pl.col(c).is_null() | (pl.col(c).str.strip_chars() == "") for c in frame.columns
    )


def read_workbook_sheet(path: Path, data_dir: Path, spec: FileSpec, delivery: str) -> RawFile:
    """One sheet of a provider-return workbook: finds the header row below any title rows; blank
    rows and rows above the header are not rows; a row whose first cell is `Total`, `Totals`, `Grand total` or
    `Subtotal` (as a word: not `TotalEnergies`) is flagged as a total row, a row with an Excel error cell
    (`#DIV/0!`, `#REF!`) as that error."""
    file = f"{workbook_label(path, data_dir)}#{spec.filename}"
    sha256 = sha256_of(path)
    refuse_unusable_workbook(path, data_dir, sha256)
    try:
        reader = fastexcel.read_excel(str(path))
        names = {canonical_header(n): n for n in reader.sheet_names}
        if canonical_header(spec.filename) not in names:
            raise FileRefused(f"{file}: refused — workbook has no sheet {spec.filename!r}")
        grid, row_numbers, layout = _load_grid(reader, path, names[canonical_header(spec.filename)])
    except FileRefused:
        raise
    except Exception as exc:  # never quote the reader's message: it may hold cell contents
        raise FileRefused(f"{file}: refused — workbook unreadable ({type(exc).__name__})") from None

    header_index = _header_row(grid, spec)
    if header_index is None:
        raise FileRefused(
            f"{file}: refused — no header row with the required columns {', '.join(spec.required_columns)}"
        )
    headers = [grid.row(header_index)[j] for j in range(grid.width)]
    refuse_identifier_headers(headers, file)
    refuse_repeated_columns(headers, file)
    keep = [j for j, h in enumerate(headers) if h is not None and str(h).strip()]
    body = grid.slice(header_index + 1).select(grid.columns[j] for j in keep)
    body.columns = [str(headers[j]) for j in keep]
    numbers = row_numbers.slice(header_index + 1)
    errors = _error_cells(layout, numbers, [grid.columns[j] for j in keep])
    not_blank = body.select(~_is_blank(body)).to_series() | errors.is_not_null()
    body, numbers, errors = body.filter(not_blank), numbers.filter(not_blank), errors.filter(not_blank)
    first_cell = pl.coalesce(pl.col(c).str.strip_chars().replace("", None) for c in body.columns)
    total = body.select(pl.when(first_cell.str.contains(TOTAL_ROW)).then(pl.lit("total row"))).to_series()
    return _with_provenance(body, spec, delivery, file, sha256, numbers, total.fill_null(errors))


def _error_cells(layout: SheetLayout, numbers: pl.Series, letters: list[str]) -> pl.Series:
    """Per body row, `Excel error #DIV/0! in column C` for its first error cell among the kept columns, else
    null: calamine reads error cells as blank, which would pass for a missing value."""
    kept = {_column_index(letter): letter for letter in letters}
    first: dict[int, str] = {}
    for (row, column), code in sorted(layout.errors.items()):
        if column in kept and row not in first:
            first[row] = f"Excel error {code} in column {kept[column]}"
    return numbers.replace_strict(first, default=None, return_dtype=pl.String)


def delivered_files(spec: FileSpec, data_dir: Path, used: DeliveriesInUse) -> list[tuple[str, Path]]:
    """(delivery key, path) of every file this spec reads for the run, in a stable order. Provider returns
    are the `.xlsx`/`.xlsm` workbooks of each folder, whatever the case of the suffix (Excel's own `~$` lock
    files aside); other files there are listed as not read (`speval.ingest.deliveries.files_not_read`)."""
    if spec.source == "hes":
        return [(used.hes, data_dir / "hes" / used.hes / spec.filename)]
    if spec.source == "outcome_tool":
        return [(used.outcome_tool, data_dir / "outcome_tool" / used.outcome_tool / spec.filename)]
    return [(key, path) for key in used.provider_returns
            for path in provider_workbooks(data_dir / "provider_returns" / key)]


def provider_workbooks(folder: Path) -> list[Path]:
    """The provider-return workbooks of one quarter's folder, sorted by name."""
    if not folder.is_dir():
        return []
    return sorted(
        (p for p in folder.iterdir()
         if p.is_file() and p.suffix.lower() in WORKBOOK_SUFFIXES and not p.name.startswith("~$")),
        key=lambda p: p.name,
    )


def read_delivered(spec: FileSpec, data_dir: Path, used: DeliveriesInUse) -> list[RawFile]:
    """Read every file of this spec for the run. Every refused file is reported, not only the first."""
    reader = read_workbook_sheet if spec.is_workbook_sheet else read_csv_file
    files, refusals = [], []
    for delivery, path in delivered_files(spec, data_dir, used):
        try:
            files.append(reader(path, data_dir, spec, delivery))
        except (FileRefused, IdentifierError) as refused:
            refusals.append(str(refused))
    if refusals:
        raise FileRefused("\n".join(dict.fromkeys(refusals)))
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


def refuse_changed_files(con, data_dir: Path, files: list[tuple[str, str]]) -> None:
    """Stop when a delivered file (`(file, sha256)`, file relative to the data folder) differs from what this
    warehouse ingested before under the same path.

    Deliveries are never modified: a correction must arrive as a new delivery. `audit.ingest_log` keeps
    every file's first sha256 across runs (it is never rebuilt), so a silently changed file is caught
    instead of merged.
    """
    con.execute("CREATE TABLE IF NOT EXISTS audit.ingest_log (path VARCHAR PRIMARY KEY, sha256 VARCHAR)")
    for file, sha256 in dict.fromkeys(files):
        path = str((data_dir / file.split("#")[0]).resolve())
        rows = con.execute("SELECT sha256 FROM audit.ingest_log WHERE path = ?", [path]).fetchall()
        if rows and rows[0][0] != sha256:
            raise FileRefused(
                f"{file}: refused — the delivered file changed since this warehouse ingested it "
                f"(sha256 {rows[0][0][:12]}… now {sha256[:12]}…). Deliveries must not be modified: send "
                f"corrections as a new delivery, or start a new warehouse (--warehouse) if this is a new data set."
            )
        if not rows:
            con.execute("INSERT INTO audit.ingest_log VALUES (?, ?)", [path, sha256])


def refuse_vanished_files(con, data_dir: Path, folders: list[Path]) -> None:
    """Stop when a file this warehouse ingested before from one of these delivery folders is gone: a delivery
    that loses a file (a provider's return deleted) has been modified, and its reports would change silently."""
    con.execute("CREATE TABLE IF NOT EXISTS audit.ingest_log (path VARCHAR PRIMARY KEY, sha256 VARCHAR)")
    root = data_dir.resolve()
    for folder in folders:
        prefix = str(folder.resolve()) + "/"
        paths = [p for (p,) in con.execute(
            "SELECT path FROM audit.ingest_log WHERE starts_with(path, ?) ORDER BY path", [prefix]).fetchall()]
        gone = [Path(p) for p in paths if not Path(p).exists()]
        if gone:
            names = ", ".join(workbook_label(p, root) for p in gone)
            raise FileRefused(
                f"{names}: refused — ingested by this warehouse before, now missing from delivery {folder.name}. "
                f"Deliveries must not be modified: send corrections as a new delivery, or start a new warehouse "
                f"(--warehouse) if this is a new data set."
            )

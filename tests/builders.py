"""Tiny data sets in the contract's shape, written patient by patient (OpenSAFELY-style dummy data).

    ds = DataSet(tmp_path)
    ds.person("P1")
    ds.apc("P1", ADMIDATE="2013-01-10", ADMIMETH="21")
    ds.referral("P1", "2013-06-15")
    data_dir = ds.write()

Every row gets contract-valid defaults; pass column values by their contract names to change them.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path

from speval.ingest.contract import SPECS

DEFAULTS = {
    "persons": {"YEAR_OF_BIRTH": "1950", "SEX": "2", "LSOA11": "E01007001", "IMD_DECILE": "3",
                "GPPRAC": "C87001", "LTC_COUNT": "2", "RISK_SCORE": "25.0", "REGISTERED_FROM": "2000-01-01"},
    "apc": {"PROCODE3": "RFR", "EPIORDER": "1", "EPISTAT": "3", "ADMIMETH": "21", "CLASSPAT": "1",
            "DISMETH": "1", "DIAG_4_01": "J449"},
    "ae": {"PROCODE3": "RFR", "ARRIVALTIME": "10:00", "AEATTENDCAT": "1", "AEARRIVALMODE": "2",
           "AEATTENDDISP": "03"},
    "op": {"PROCODE3": "RFR", "ATTENDED": "5", "FIRSTATT": "1", "TRETSPEF": "300"},
    "referrals": {"PROGRAMME": "LTC", "REFERRER_PRACTICE": "C87001", "REFERRAL_SOURCE": "GP",
                  "ADVISER_ID": "ADV01", "STATUS": "Took up"},
    "onward_referrals": {"SERVICE_CODE": "S01", "SERVICE_NAME": "Befriending service", "PROVIDER_CODE": "VCS01",
                         "SERVICE_TYPE": "Befriending", "FUNDING": "Funded"},
    "assessments": {},
}


class DataSet:
    def __init__(self, root: Path, hes_key: str = "2013Q4", coverage_start: str = "2011-04-01",
                 cutoff: str = "2013-12-31", outcome_tool_key: str | None = None):
        self.root = Path(root)
        self.hes_key = hes_key
        self.outcome_tool_key = outcome_tool_key or hes_key
        self.manifest = {"coverage_start": coverage_start, "cutoff": cutoff, "extracted_on": cutoff}
        self.rows: dict[str, list[dict]] = {name: [] for name in DEFAULTS}
        self._serial = 0

    def _next(self, prefix: str) -> str:
        self._serial += 1
        return f"{prefix}{self._serial:06d}"

    def _add(self, name: str, values: dict) -> dict:
        row = {**DEFAULTS[name], **values}
        self.rows[name].append(row)
        return row

    def person(self, person_id: str, **values) -> dict:
        return self._add("persons", {"TOKEN_PERSON_ID": person_id, **values})

    def apc(self, person_id: str, ADMIDATE: str, **values) -> dict:
        values.setdefault("EPISTART", ADMIDATE)
        values.setdefault("EPIEND", values["EPISTART"])
        values.setdefault("DISDATE", values["EPIEND"])
        return self._add("apc", {"TOKEN_PERSON_ID": person_id, "EPIKEY": self._next("E"), "ADMIDATE": ADMIDATE,
                                 **values})

    def ae(self, person_id: str, ARRIVALDATE: str, **values) -> dict:
        return self._add("ae", {"TOKEN_PERSON_ID": person_id, "AEKEY": self._next("A"),
                                "ARRIVALDATE": ARRIVALDATE, **values})

    def op(self, person_id: str, APPTDATE: str, **values) -> dict:
        return self._add("op", {"TOKEN_PERSON_ID": person_id, "ATTENDKEY": self._next("O"),
                                "APPTDATE": APPTDATE, **values})

    def referral(self, person_id: str, REFERRAL_DATE: str, **values) -> dict:
        values.setdefault("REFERRAL_ID", self._next("R"))
        return self._add("referrals", {"TOKEN_PERSON_ID": person_id, "REFERRAL_DATE": REFERRAL_DATE, **values})

    def onward(self, referral_id: str, ONWARD_DATE: str, **values) -> dict:
        return self._add("onward_referrals", {"ONWARD_ID": self._next("N"), "REFERRAL_ID": referral_id,
                                              "ONWARD_DATE": ONWARD_DATE, **values})

    def assessment(self, referral_id: str, ASSESSMENT_DATE: str, ASSESSMENT_TYPE: str = "Baseline",
                   **values) -> dict:
        values.setdefault("ASSESSMENT_ID", self._next("S"))
        return self._add("assessments", {"REFERRAL_ID": referral_id, "ASSESSMENT_DATE": ASSESSMENT_DATE,
                                         "ASSESSMENT_TYPE": ASSESSMENT_TYPE, **values})

    def duplicate(self, name: str, row: dict) -> dict:
        """Deliver `row` of file `name` a second time, identical in every cell."""
        self.rows[name].append(dict(row))
        return row

    def write(self) -> Path:
        hes = self.root / "hes" / self.hes_key
        tool = self.root / "outcome_tool" / self.outcome_tool_key
        for folder in (hes, tool):
            folder.mkdir(parents=True, exist_ok=True)
        (hes / "manifest.json").write_text(json.dumps(self.manifest), encoding="utf-8")
        for name, rows in self.rows.items():
            spec = SPECS[name]
            folder = hes if spec.source == "hes" else tool
            with (folder / spec.filename).open("w", newline="", encoding="utf-8") as handle:
                writer = csv.DictWriter(handle, fieldnames=list(spec.column_names), extrasaction="raise")
                writer.writeheader()
                writer.writerows(rows)
        return self.root


# ---- provider returns (docs/contract/inputs.md) -------------------------------------------------------------

BLANK_ROW = None
"""In `ProviderWorkbook.sheet` rows: a row left entirely blank."""

PROVIDER_HEADERS = {
    "Cover": ("FIELD", "VALUE"),
    "Activity": ("REFERRAL_ID", "SERVICE_CODE", "START_DATE", "END_DATE", "SESSIONS_ATTENDED", "OUTCOME"),
    "Volunteering": ("MONTH", "VOLUNTEERS", "HOURS"),
    "Welfare": ("REFERRAL_ID", "BENEFIT_TYPE", "AWARD_DATE", "WEEKLY_AMOUNT_GBP"),
    "Funding": ("FUNDER", "AMOUNT_GBP", "DATE_AWARDED", "ATTRIBUTED_TO_PROGRAMME"),
}


class Money:
    """A money cell written as a number with the `£#,##0.00` format (what Excel shows as £1,234.50)."""

    def __init__(self, value: float):
        self.value = value


class ExcelError:
    """A cell whose formula failed, as Excel stores it: an error value such as `#DIV/0!` or `#REF!`."""

    def __init__(self, code: str):
        self.code = code


class ProviderWorkbook:
    """A provider return `<root>/provider_returns/<quarter>/<code>.xlsx`, written cell by cell with xlsxwriter
    the way hand-filled returns arrive: title rows above the header, headers as the template author typed them,
    blank rows, total rows, dates as real Excel dates or text.

        book = ProviderWorkbook(data_dir, "VCS01")
        rows = book.sheet("Activity", [" Referral Id ", "Service code", ...],
                          [["R000001", "S01", date(2013, 10, 3), "04/11/2013", 6, "Completed"], BLANK_ROW, ...])
        book.write()

    Cell values: `str` as text, `int`/`float` as numbers, `datetime.date` as a real Excel date (dd/mm/yyyy
    format; a `datetime.datetime` keeps its time), `Money` as a number in £ format, `ExcelError` as a failed
    formula, `None` as an empty cell. `sheet` returns the spreadsheet row
    number (1-based, as Excel shows it) of each entry of `rows` (None for a blank row). Sheets not given
    are written with the contract's headers and a minimal valid content, unless listed in `omit`.
    """

    def __init__(self, root: Path, code: str, quarter: str = "2013Q4", name: str = "Test Provider CIC"):
        self.path = Path(root) / "provider_returns" / quarter / f"{code}.xlsx"
        self.code, self.quarter, self.name = code, quarter, name
        self.sheets: dict[str, tuple[list, list, tuple, int]] = {}

    def sheet(self, name: str, header: list, rows: list, titles: tuple[str, ...] | None = None,
              first_row: int = 1) -> list[int | None]:
        """Add sheet `name`: `titles` (default: two title lines) from spreadsheet row `first_row`, then the
        header, then `rows` (lists of cells, or BLANK_ROW)."""
        titles = (self.name, f"Social prescribing quarterly return {self.quarter}") if titles is None else titles
        self.sheets[name] = (list(header), list(rows), tuple(titles), first_row)
        header_row = first_row + len(titles)
        return [None if row is BLANK_ROW else header_row + 1 + i for i, row in enumerate(rows)]

    def default_rows(self) -> dict:
        """Rows written for a sheet not given: minimal valid content, sheet name -> rows."""
        import datetime as dt

        year, q = int(self.quarter[:4]), int(self.quarter[-1])
        first_month = dt.date(year, 3 * q - 2, 1)
        return {
            "Cover": [["Provider name", self.name], ["Provider code", self.code], ["Quarter", self.quarter],
                      ["Grant amount", "£10,000.00"]],
            "Activity": [],
            "Volunteering": [[first_month, 4, 22.5]],
            "Welfare": [],
            "Funding": [["NHS Rotherham CCG", "£10,000.00", first_month, "Y"]],
        }

    def write(self, omit: tuple[str, ...] = ()) -> Path:
        import datetime as dt

        import xlsxwriter

        defaults = self.default_rows()
        for name, header in PROVIDER_HEADERS.items():
            if name not in self.sheets and name not in omit:
                self.sheet(name, list(header), defaults[name])
        self.path.parent.mkdir(parents=True, exist_ok=True)
        book = xlsxwriter.Workbook(str(self.path))
        book.set_properties({"created": dt.datetime(2014, 1, 20)})  # same inputs, same bytes
        date_format = book.add_format({"num_format": "dd/mm/yyyy"})
        datetime_format = book.add_format({"num_format": "dd/mm/yyyy hh:mm"})
        money_format = book.add_format({"num_format": "£#,##0.00"})
        bold = book.add_format({"bold": True})
        for name, (header, rows, titles, first_row) in self.sheets.items():
            if name in omit:
                continue
            ws = book.add_worksheet(name)
            r = first_row - 1  # xlsxwriter rows are 0-based
            for title in titles:
                ws.write_string(r, 0, title, bold)
                r += 1
            for j, h in enumerate(header):
                if h is not None:
                    ws.write_string(r, j, h, bold)
            r += 1
            for row in rows:
                for j, value in enumerate(row or ()):
                    if value is None:
                        continue
                    if isinstance(value, ExcelError):
                        ws.write_formula(r, j, "=1/0" if value.code == "#DIV/0!" else "=#REF!", None, value.code)
                    elif isinstance(value, Money):
                        ws.write_number(r, j, value.value, money_format)
                    elif isinstance(value, dt.datetime):  # an Excel date carrying a time
                        ws.write_datetime(r, j, value, datetime_format)
                    elif isinstance(value, dt.date):
                        ws.write_datetime(r, j, dt.datetime(value.year, value.month, value.day), date_format)
                    elif isinstance(value, (int, float)):
                        ws.write_number(r, j, value)
                    else:
                        ws.write_string(r, j, str(value))
                r += 1
        book.close()
        return self.path

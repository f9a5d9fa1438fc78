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

from speval.contract import SPECS

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

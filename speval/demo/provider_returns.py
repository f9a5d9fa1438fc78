"""Quarterly provider returns: one xlsx workbook per funded provider, programme and quarter.

Activity and welfare rows are derived from the outcome tool's funded onward referrals, so the two
sources agree; volunteering and funding rows are made up per workbook.  Each workbook has its own
random stream and a deliberately different layout (title rows, header spelling, dates as Excel dates
or text, money as numbers or text, stray blank rows), because real returns are not uniform.  Two
workbooks get an Activity row whose REFERRAL_ID the outcome tool never issued (a planted defect).
"""

from __future__ import annotations

import datetime as dt
import pathlib
from dataclasses import dataclass

import numpy as np
import xlsxwriter

from . import streams
from .constants import (
    BENEFITS,
    FUNDERS,
    LTC_RETURN_QUARTERS,
    MH_GRANTS,
    MH_RETURN_QUARTERS,
    N_UNKNOWN_ACTIVITY_REFS,
    PROVIDERS,
    SERVICES,
)
from .outcome_tool import Records
from .timeline import LTC_END, MH_END, qbounds, qkey, quarter_key, to_date

_CREATED = dt.datetime(2016, 1, 1, 9, 0, 0)


@dataclass(frozen=True)
class Money:
    """A GBP amount, written as a number or as "£1,234.50" text depending on the workbook's style."""

    value: float


@dataclass
class _FundedActivity:
    """One row per funded onward referral that was taken up: what the provider reports about it."""

    fi: np.ndarray  # index into the onward referrals
    prog: np.ndarray
    start: np.ndarray
    finish: np.ndarray
    sessions_done: np.ndarray
    sessions_ongoing: np.ndarray
    outcome_done: np.ndarray
    provider: np.ndarray
    q_of: np.ndarray  # quarter key of the start
    welfare: np.ndarray  # bool: led to a benefit award
    award: np.ndarray
    award_q: np.ndarray
    ben: np.ndarray  # index into BENEFITS
    ben_amt: np.ndarray


def write_returns(seed: int, out: pathlib.Path, refs: Records, onward: Records, summary: dict[str, int]) -> list[dict]:
    """Write provider_returns/<quarter>/<provider>.xlsx; return the planted unknown-REFERRAL_ID defects."""
    rng = streams.rng(seed, "providers")
    act = _funded_activity(rng, refs, onward)
    books = _workbooks()
    plant = _workbooks_to_plant(rng, books, act)
    defects = []
    unknown_no = len(refs["id"]) + 501  # beyond every REFERRAL_ID the outcome tool ever issues
    for bi, (q, pg, code, name, grant) in enumerate(books):
        rel = f"provider_returns/{q}/{code}.xlsx"
        planted_rows, info, style = _write_return(seed, out / rel, act, refs, onward, q, pg, code, name, grant,
                                                  unknown_no if bi in plant else None)
        unknown_no += len(planted_rows)
        summary[rel] = sum(v["data_rows"] for k, v in info.items() if k != "Cover")
        for pos, rid in planted_rows:
            act_info = info["Activity"]
            # spreadsheet row number of the planted row (blank rows inserted after data row i shift later rows)
            shift = sum(1 for b in style["blank_after"].get("Activity", ()) if b < pos)
            defects.append({
                "kind": "activity_referral_id_unknown_to_outcome_tool",
                "file": f"{rel}#Activity",
                "count": 1,
                "referral_id": rid,
                "row_number": act_info["header_row"] + 1 + pos + shift,
            })
    return defects


def _funded_activity(rng, refs: Records, onward: Records) -> _FundedActivity:
    """Start, finish, sessions and outcome of each taken-up funded onward referral, and whether it led to
    a benefit award (Information and advice services only) with the award's date and weekly amount."""
    svc_prov = np.array([s[2] for s in SERVICES])
    svc_type = np.array([s[3] for s in SERVICES])
    svc_funded = np.array([s[4] == "Funded" for s in SERVICES])
    o_ref = onward["ref"]
    funded = svc_funded[onward["svc"]] & refs["took"][o_ref]
    fi = np.nonzero(funded)[0]
    m = len(fi)
    prog = refs["prog"][o_ref[fi]]
    end = np.where(prog == 1, MH_END, LTC_END)
    start = np.maximum(np.minimum(onward["date"][fi] + rng.integers(3, 22, m), end), onward["date"][fi])
    finish = start + rng.integers(28, 169, m)
    sessions_done = rng.integers(4, 17, m)
    sessions_ongoing = rng.integers(1, 9, m)
    outcome_done = np.array(("Completed", "Disengaged", "Moved on to wider VCS"))[streams.pick(rng, "abc", (0.7, 0.2, 0.1), m)]
    provider = svc_prov[onward["svc"][fi]]
    q_of = quarter_key(start)
    welfare = (svc_type[onward["svc"][fi]] == "Information and advice") & (rng.random(m) < 0.35)
    award = start + rng.integers(20, 81, m)
    award_q = quarter_key(award)
    ben = rng.integers(0, len(BENEFITS), m)
    ben_amt = np.zeros(m)
    for b, (_, rates) in enumerate(BENEFITS):
        sel = ben == b
        if rates is None:
            ben_amt[sel] = np.round(rng.uniform(4.0, 45.0, sel.sum()), 2)
        else:
            ben_amt[sel] = np.array(rates)[rng.integers(0, len(rates), sel.sum())]
    return _FundedActivity(fi, prog, start, finish, sessions_done, sessions_ongoing, outcome_done, provider, q_of,
                           welfare, award, award_q, ben, ben_amt)


def _workbooks() -> list[tuple]:
    """(quarter, programme, provider code, name, grant) of every return: LTC providers from their first
    quarter, MH providers for every MH quarter."""
    quarters = [(q, "LTC") for q in LTC_RETURN_QUARTERS] + [(q, "MH") for q in MH_RETURN_QUARTERS]
    books = []
    for q, pg in quarters:
        for code, name, progs, first_q, grant in PROVIDERS:
            if pg not in progs or (pg == "LTC" and qkey(q) < qkey(first_q)):
                continue
            books.append((q, pg, code, name, grant if pg == "LTC" else MH_GRANTS[code]))
    return books


def _in_book(act: _FundedActivity, qk: np.ndarray, q: str, code: str, pg: str) -> np.ndarray:
    """Rows of act whose quarter key qk is quarter q, for this provider and programme."""
    return (qk == qkey(q)) & (act.provider == code) & (act.prog == (pg == "MH"))


def _workbooks_to_plant(rng, books: list[tuple], act: _FundedActivity) -> set[int]:
    """The planted unknown REFERRAL_IDs go into two workbooks that have activity."""
    with_activity = [
        i for i, (q, pg, code, _, _) in enumerate(books)
        if np.any(_in_book(act, act.q_of, q, code, pg))
    ]
    return set(int(i) for i in rng.choice(with_activity, min(N_UNKNOWN_ACTIVITY_REFS, len(with_activity)), replace=False))


# --------------------------------------------------------------------------------------
# One workbook
# --------------------------------------------------------------------------------------


def _write_return(seed, path, act, refs, onward, q, pg, code, name, grant, unknown_no):
    """Build and write one return; ``unknown_no`` (or None) numbers the planted unknown REFERRAL_ID.

    The workbook's own stream is drawn in a fixed order: style, planted row, volunteering, funding,
    total label, blank rows.  Returns (planted (position, id) rows, per-sheet info, style).
    """
    q0, q1 = qbounds(q)
    brng = streams.rng(seed, f"book-{q}-{code}")
    style = _style(brng, code, q)
    activity = _activity_rows(act, refs, onward, q, code, pg, q1)
    planted_rows = []
    if unknown_no is not None:
        planted_rows.append(_plant_unknown_referral(brng, activity, code, q0, q1, unknown_no))
    welfare_rows = _welfare_rows(act, refs, onward, q, code, pg)
    volunteering = _volunteering_rows(brng, q)
    funding = _funding_rows(brng, q, pg, code, grant, q0, q1)
    total_label = ("Total", "TOTAL", "Totals")[int(brng.integers(0, 3))]
    style["blank_after"] = _blank_rows(brng, activity, welfare_rows)
    sheets = {
        "Cover": (["FIELD", "VALUE"], [["Provider name", name], ["Provider code", code], ["Quarter", q],
                                        ["Grant amount", f"£{grant:,.2f}"]], None),
        "Activity": (["REFERRAL_ID", "SERVICE_CODE", "START_DATE", "END_DATE", "SESSIONS_ATTENDED", "OUTCOME"],
                     activity, [total_label, None, None, None, int(sum(r[4] for r in activity)), None]),
        "Volunteering": (["MONTH", "VOLUNTEERS", "HOURS"], volunteering, None),
        "Welfare": (["REFERRAL_ID", "BENEFIT_TYPE", "AWARD_DATE", "WEEKLY_AMOUNT_GBP"], welfare_rows,
                    [total_label, None, None, Money(float(np.round(sum(r[3].value for r in welfare_rows), 2)))]),
        "Funding": (["FUNDER", "AMOUNT_GBP", "DATE_AWARDED", "ATTRIBUTED_TO_PROGRAMME"], funding,
                    [total_label, Money(float(sum(r[1].value for r in funding))), None, None]),
    }
    info = _write_workbook(path, {"name": name, "quarter": q}, sheets, style)
    return planted_rows, info, style


def _style(brng, code: str, q: str) -> dict:
    """The workbook's layout: title rows, header spelling, date and money representation."""
    prov_index = {p[0]: i for i, p in enumerate(PROVIDERS)}
    return {
        "titles": int(brng.integers(1, 4)),
        "header": int(brng.integers(0, 4)),
        "dates": ("excel", "text")[(prov_index[code] + qkey(q)) % 2],
        "money": ("text", "number")[int(brng.integers(0, 2))],
    }


def _activity_rows(act: _FundedActivity, refs: Records, onward: Records, q: str, code: str, pg: str, q1: int) -> list:
    """Activity started in the quarter, by start date: finished by the quarter end or "Ongoing"."""
    svc_codes = np.array([s[0] for s in SERVICES])
    o_ref = onward["ref"]
    sel = np.nonzero(_in_book(act, act.q_of, q, code, pg))[0]
    sel = sel[np.lexsort((refs["id"][o_ref[act.fi[sel]]], act.start[sel]))]
    activity = []
    for i in sel:
        ended = act.finish[i] <= q1
        activity.append([
            f"R{refs['id'][o_ref[act.fi[i]]]:06d}",
            svc_codes[onward["svc"][act.fi[i]]],
            to_date(act.start[i]),
            to_date(act.finish[i]) if ended else None,
            int(act.sessions_done[i] if ended else act.sessions_ongoing[i]),
            act.outcome_done[i] if ended else "Ongoing",
        ])
    return activity


def _plant_unknown_referral(brng, activity: list, code: str, q0: int, q1: int, unknown_no: int) -> tuple[int, str]:
    """Insert an Activity row with a REFERRAL_ID the outcome tool never issued; return (position, id)."""
    pos = int(brng.integers(0, len(activity) + 1))
    rid = f"R{unknown_no:06d}"
    svc_here = [s[0] for s in SERVICES if s[2] == code]
    day = q0 + int(brng.integers(0, q1 - q0 + 1))
    activity.insert(pos, [rid, svc_here[0], to_date(day), None, int(brng.integers(1, 6)), "Ongoing"])
    return pos, rid


def _welfare_rows(act: _FundedActivity, refs: Records, onward: Records, q: str, code: str, pg: str) -> list:
    """Benefit awards land in the quarter they are awarded (often the one after the activity started)."""
    o_ref = onward["ref"]
    wsel = np.nonzero(act.welfare & _in_book(act, act.award_q, q, code, pg))[0]
    wsel = wsel[np.lexsort((refs["id"][o_ref[act.fi[wsel]]], act.award[wsel]))]
    return [
        [f"R{refs['id'][o_ref[act.fi[i]]]:06d}", BENEFITS[act.ben[i]][0], to_date(act.award[i]), Money(float(act.ben_amt[i]))]
        for i in wsel
    ]


def _volunteering_rows(brng, q: str) -> list:
    """Volunteers and hours for each month of the quarter: 2-25 volunteers giving 2-10 hours a month each, so
    the pilot's providers log about 13,000 hours by March 2014, the seeds' £81k at the minimum wage."""
    months = [dt.date(int(q[:4]), 3 * int(q[5]) - 2 + k, 1) for k in range(3)]
    vols = brng.integers(2, 26, 3)
    return [[mth, int(v), float(np.round(v * brng.uniform(2, 10), 1))] for mth, v in zip(months, vols)]


def _funding_rows(brng, q: str, pg: str, code: str, grant: float, q0: int, q1: int) -> list:
    """The programme grant in the provider's first return of the programme, plus 0-2 other awards. The grant is
    the programme's own money (its cost), so it is never marked as attributed, i.e. levered, funding; about 30%
    of the other awards are."""
    funding = []
    if q == (MH_RETURN_QUARTERS[0] if pg == "MH" else _first_q(code)):
        funding.append(["NHS Rotherham CCG (social prescribing grant)", Money(grant), to_date(q0 + int(brng.integers(0, 20))), "N"])
    for _ in range(int(brng.integers(0, 3))):
        funding.append([
            FUNDERS[int(brng.integers(0, len(FUNDERS)))],
            Money(float(np.round(brng.uniform(500, 15000) / 50) * 50)),
            to_date(q0 + int(brng.integers(0, q1 - q0 + 1))),
            "Y" if brng.random() < 0.3 else "N",
        ])
    return funding


def _blank_rows(brng, activity: list, welfare_rows: list) -> dict[str, list[int]]:
    """Data rows after which a stray blank row is written (only in sheets with 3 or more rows)."""
    blank_after = {}
    for sheet, rows in (("Activity", activity), ("Welfare", welfare_rows)):
        if len(rows) >= 3:
            blank_after[sheet] = sorted(set(int(x) for x in brng.integers(0, len(rows) - 1, int(brng.integers(1, 3)))))
    return blank_after


def _first_q(code: str) -> str:
    """The provider's first LTC return quarter (when its grant is shown in Funding)."""
    for c, _, _, first_q, _ in PROVIDERS:
        if c == code:
            return first_q
    raise KeyError(code)


# --------------------------------------------------------------------------------------
# xlsx writer
# --------------------------------------------------------------------------------------


def _header(name: str, style: int) -> str:
    """A column name as this workbook spells it (as is, Title Case, padded lower case, Title_Snake)."""
    words = name.split("_")
    if style == 0:
        return name
    if style == 1:
        return " ".join(w.capitalize() for w in words)
    if style == 2:
        return " " + " ".join(words).lower() + " "
    return "_".join(w.capitalize() for w in words)


def _write_workbook(path: pathlib.Path, meta: dict, sheets: dict, style: dict) -> dict:
    """Write one provider return; returns counts of data rows per sheet and planted row numbers."""
    path.parent.mkdir(parents=True, exist_ok=True)
    wb = xlsxwriter.Workbook(str(path), {"in_memory": True})
    wb.set_properties({
        "title": f"Social prescribing quarterly return {meta['quarter']}",
        "author": "speval demo-data",
        "company": meta["name"],
        "created": _CREATED,
    })
    fmt = {
        "date": wb.add_format({"num_format": "dd/mm/yyyy"}),
        "money": wb.add_format({"num_format": "£#,##0.00"}),
        "bold": wb.add_format({"bold": True}),
    }
    titles = [
        f"{meta['name']}",
        "Social Prescribing Service - quarterly monitoring return",
        f"Quarter: {meta['quarter']}",
    ][: style["titles"]]
    info = {}
    for sheet, (columns, rows, total) in sheets.items():
        ws = wb.add_worksheet(sheet)
        r = 0
        for t in titles:
            ws.write_string(r, 0, t, fmt["bold"])
            r += 1
        ws.write_row(r, 0, [_header(c, style["header"]) for c in columns], fmt["bold"])
        header_row = r + 1
        r += 1
        blanks = set(style["blank_after"].get(sheet, ()))
        for i, row in enumerate(rows):
            for j, v in enumerate(row):
                _write_cell(ws, r, j, v, style, fmt)
            r += 1
            if i in blanks:
                r += 1  # a blank row
        total_row = None
        if total is not None:
            for j, v in enumerate(total):
                _write_total_cell(ws, r, j, v, style, fmt)
            total_row = r + 1
            r += 1
        info[sheet] = {"header_row": header_row, "data_rows": len(rows), "total_row": total_row}
    wb.close()
    return info


def _write_cell(ws, r: int, j: int, v, style: dict, fmt: dict) -> None:
    """One data cell, dates and money in the workbook's style (None = empty cell)."""
    if v is None:
        return
    if isinstance(v, dt.date):
        if style["dates"] == "excel":
            ws.write_datetime(r, j, dt.datetime(v.year, v.month, v.day), fmt["date"])
        else:
            ws.write_string(r, j, v.strftime("%d/%m/%Y"))
    elif isinstance(v, Money):
        if style["money"] == "text":
            ws.write_string(r, j, f"£{v.value:,.2f}")
        else:
            ws.write_number(r, j, v.value, fmt["money"])
    elif isinstance(v, (int, float, np.integer, np.floating)):
        ws.write_number(r, j, float(v))
    else:
        ws.write_string(r, j, str(v))


def _write_total_cell(ws, r: int, j: int, v, style: dict, fmt: dict) -> None:
    """One cell of a total row: bold, except money written as a number, which keeps the money format."""
    if v is None:
        return
    if isinstance(v, Money):
        if style["money"] == "text":
            ws.write_string(r, j, f"£{v.value:,.2f}", fmt["bold"])
        else:
            ws.write_number(r, j, v.value, fmt["money"])
    elif isinstance(v, (int, float)):
        ws.write_number(r, j, float(v), fmt["bold"])
    else:
        ws.write_string(r, j, str(v), fmt["bold"])

"""Fixed facts of the synthetic world: calendar, code sets, providers, services and planted defects.

Everything here is data, not model: changing a value changes the generated files, so every value is
part of the byte-identical contract of ``generate(out, scale, seed)``.  The tunable model parameters
and the published figures they are calibrated to live in :mod:`speval.demo.calibration`.
"""

from __future__ import annotations

import datetime as dt

from speval.run.vocabulary import MEASURE_CODES

GENERATOR_VERSION = "1.0.0"
#: Written to truth.json as "generator"; kept as the original module name so truth.json does not change.
GENERATOR_NAME = "speval.demo_data"

#: Measure names used by the pipeline (docs/contract/outputs.md), in output order.
PIPELINE_MEASURES = MEASURE_CODES
WINDOWS = (6, 12)

# --------------------------------------------------------------------------------------
# Calendar
# --------------------------------------------------------------------------------------

COVERAGE_START = dt.date(2011, 4, 1)
#: Cumulative HES / outcome-tool deliveries: key -> cut-off.
DELIVERIES: dict[str, dt.date] = {
    "2013Q2": dt.date(2013, 6, 30),
    "2013Q4": dt.date(2013, 12, 31),
    "2014Q4": dt.date(2014, 12, 31),
    "2016Q4": dt.date(2016, 12, 31),
}
EXTRACT_LAG_DAYS = 17
#: Provider-return quarters per programme.
LTC_RETURN_QUARTERS = ("2012Q3", "2012Q4", "2013Q1", "2013Q2", "2013Q3", "2013Q4", "2014Q1")
MH_RETURN_QUARTERS = ("2015Q2", "2015Q3", "2015Q4", "2016Q1")

# --------------------------------------------------------------------------------------
# HES code sets (strings)
# --------------------------------------------------------------------------------------

TRUSTS = ("RFR", "RHQ", "RP5", "RFF")
EMERGENCY_ADMIMETH = ("21", "22", "23", "24", "25", "28", "2A", "2B", "2C", "2D")
EMERGENCY_ADMIMETH_P = (0.70, 0.05, 0.02, 0.05, 0.01, 0.07, 0.04, 0.03, 0.002, 0.028)
EMERGENCY_DIAG = ("J440", "J441", "I500", "J189", "N390", "R074", "I219", "I489", "E119", "R55X", "K297", "S720", "L031", "J181")
ELECTIVE_DIAG = ("H251", "K573", "M170", "N400", "K802", "I251", "D126", "C61X", "K409", "M179")
REGULAR_DIAG = ("Z491", "Z511", "D649")
PROVISIONAL_DIAG = ("R69X", "R69X", "R688", "Z539")
AE_DISP = ("01", "02", "03", "06", "07", "11", "12", "14")
AE_DISP_P = (0.26, 0.30, 0.28, 0.05, 0.02, 0.03, 0.04, 0.02)
TRETSPEF = ("100", "101", "110", "120", "130", "300", "301", "320", "330", "340", "361", "370", "410", "430", "502", "800")
TRETSPEF_P = (0.06, 0.06, 0.09, 0.05, 0.11, 0.08, 0.07, 0.12, 0.05, 0.08, 0.03, 0.04, 0.04, 0.06, 0.02, 0.04)

# --------------------------------------------------------------------------------------
# Outcome tool and providers
# --------------------------------------------------------------------------------------

LTC_SOURCES = ("GP", "ICMT", "Practice nurse", "Community matron")
LTC_SOURCES_P = (0.50, 0.25, 0.15, 0.10)
MH_SOURCES = ("RDASH community mental health team", "RDASH recovery team")
MH_SOURCES_P = (0.8, 0.2)

# funded providers: code, name, programmes, first LTC return quarter, grant (GBP)
PROVIDERS = (
    ("VCS01", "Rother Valley Advice Centre", ("LTC",), "2012Q3", 42500.0),
    ("VCS02", "Dearne Valley Community Hub", ("LTC",), "2012Q3", 38000.0),
    ("VCS03", "Maltby Active Lives", ("LTC",), "2012Q3", 27250.0),
    ("VCS04", "Wath and Swinton Befriending Scheme", ("LTC", "MH"), "2012Q3", 31800.0),
    ("VCS05", "Kimberworth Independent Living Service", ("LTC", "MH"), "2012Q3", 45000.0),
    ("VCS06", "Rotherham Community Transport Link", ("LTC",), "2012Q4", 22400.0),
    ("VCS07", "Thrybergh Carers Network", ("LTC", "MH"), "2012Q4", 18750.0),
    ("VCS08", "Brinsworth Arts and Wellbeing", ("LTC", "MH"), "2013Q1", 12500.0),
    ("VCS09", "Rotherham Peer Support Collective", ("MH",), "2015Q2", 24600.0),
    ("VCS10", "Aston Community Allotments", ("MH",), "2015Q2", 16300.0),
)
MH_GRANTS = {"VCS04": 14200.0, "VCS05": 19850.0, "VCS07": 9600.0, "VCS08": 11250.0, "VCS09": 24600.0, "VCS10": 16300.0}

# services: code, name, provider, type, funding, programmes, weight
SERVICES = (
    ("SVC01", "Welfare benefits advice", "VCS01", "Information and advice", "Funded", ("LTC",), 0.12),
    ("SVC02", "Debt and money advice", "VCS01", "Information and advice", "Funded", ("LTC",), 0.06),
    ("SVC03", "Lunch and social club", "VCS02", "Community activity", "Funded", ("LTC",), 0.14),
    ("SVC04", "Craft and conversation group", "VCS02", "Community activity", "Funded", ("LTC",), 0.07),
    ("SVC05", "Chair-based exercise", "VCS03", "Physical activity", "Funded", ("LTC",), 0.07),
    ("SVC06", "Health walks", "VCS03", "Physical activity", "Funded", ("LTC",), 0.05),
    ("SVC07", "Home befriending", "VCS04", "Befriending", "Funded", ("LTC", "MH"), 0.09),
    ("SVC08", "Telephone befriending", "VCS04", "Befriending", "Funded", ("LTC", "MH"), 0.05),
    ("SVC09", "Enabling support", "VCS05", "Enabling", "Funded", ("LTC", "MH"), 0.08),
    ("SVC10", "Confidence building", "VCS05", "Enabling", "Funded", ("LTC", "MH"), 0.05),
    ("SVC11", "Door-to-door transport", "VCS06", "Community transport", "Funded", ("LTC",), 0.10),
    ("SVC12", "Carers support group", "VCS07", "Carers support", "Funded", ("LTC", "MH"), 0.04),
    ("SVC13", "Carers information", "VCS07", "Information and advice", "Funded", ("LTC", "MH"), 0.03),
    ("SVC14", "Arts for wellbeing", "VCS08", "Community activity", "Funded", ("LTC", "MH"), 0.04),
    ("SVC15", "Singing group", "VCS08", "Community activity", "Funded", ("LTC", "MH"), 0.03),
    ("SVC16", "Peer support group", "VCS09", "Community engagement", "Funded", ("MH",), 0.12),
    ("SVC17", "Recovery college courses", "VCS09", "Education and training", "Funded", ("MH",), 0.08),
    ("SVC18", "Therapeutic gardening", "VCS10", "Therapeutic services", "Funded", ("MH",), 0.08),
    ("SVC19", "Community hub drop-in", "VCS10", "Community hubs", "Funded", ("MH",), 0.07),
    ("NF01", "Library reading group", "VCS11", "Community activity", "Non-funded", ("LTC", "MH"), 0.2),
    ("NF02", "Church lunch club", "VCS12", "Community activity", "Non-funded", ("LTC", "MH"), 0.2),
    ("NF03", "Citizens advice drop-in", "VCS13", "Information and advice", "Non-funded", ("LTC", "MH"), 0.25),
    ("NF04", "Bowls club", "VCS14", "Physical activity", "Non-funded", ("LTC", "MH"), 0.1),
    ("NF05", "Good Neighbours scheme", "VCS15", "Befriending", "Non-funded", ("LTC", "MH"), 0.15),
    ("NF06", "Men's shed", "VCS16", "Community activity", "Non-funded", ("LTC", "MH"), 0.1),
    ("ST01", "Adult social care assessment", "RMBC", "Social care", "Statutory", ("LTC", "MH"), 0.35),
    ("ST02", "Home fire safety check", "SYFR", "Safety", "Statutory", ("LTC", "MH"), 0.15),
    ("ST03", "Community falls service", "RFR", "Health", "Statutory", ("LTC",), 0.2),
    ("ST04", "Housing adaptations", "RMBC", "Housing", "Statutory", ("LTC", "MH"), 0.2),
    ("ST05", "Talking therapies", "RXE", "Health", "Statutory", ("LTC", "MH"), 0.1),
)

BENEFITS = (
    ("Attendance Allowance", (53.00, 79.15)),
    ("Personal Independence Payment", (53.00, 79.15)),
    ("Disability Living Allowance", (21.00, 53.00, 79.15)),
    ("Carer's Allowance", (58.45,)),
    ("Pension Credit", None),
    ("Council Tax Support", None),
)
FUNDERS = ("Big Lottery Fund", "Rotherham MBC Public Health", "Lloyds Bank Foundation", "Awards for All", "South Yorkshire Community Foundation")

# --------------------------------------------------------------------------------------
# Planted defects (fixed counts, independent of scale)
# --------------------------------------------------------------------------------------

N_DUP_APC_2013Q4 = 5
N_DUP_AE_2013Q4 = 4
N_UNKNOWN_ACTIVITY_REFS = 2
N_LATE_REFERRALS = 3  # per export that has referrals within 14 days after its cut-off

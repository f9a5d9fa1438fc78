"""Where the SQL rules (`sql/`), report templates (`reports/templates/`), the economic reference data
(`data/reference/`) and the analysis plan (`analysis_plan.yaml`) are: inside the installed package (`speval/_data/`, put there when the wheel is
built), or, in a checkout, at the repository's top level."""
from __future__ import annotations

from importlib.resources import files
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parent.parent
IN_CHECKOUT = {"sql": CHECKOUT / "sql", "templates": CHECKOUT / "reports" / "templates",
              "reference": CHECKOUT / "data" / "reference"}
FILES_IN_CHECKOUT = {"analysis_plan.yaml": CHECKOUT / "analysis_plan.yaml"}


def data_folder(name: str) -> Path:
    """The folder `sql`, `templates` or `reference`, packaged copy first."""
    packaged = Path(str(files("speval") / "_data" / name))
    return packaged if packaged.is_dir() else IN_CHECKOUT[name]


def data_file(name: str) -> Path:
    """The file `analysis_plan.yaml`, packaged copy first (the checkout's path when neither exists, so an
    error can name where it was looked for)."""
    packaged = Path(str(files("speval") / "_data" / name))
    return packaged if packaged.is_file() else FILES_IN_CHECKOUT[name]

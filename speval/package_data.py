"""Where the SQL rules (`sql/`) and report templates (`reports/templates/`) are: inside the installed package
(`speval/_data/`, put there when the wheel is built), or, in a checkout, at the repository's top level."""
from __future__ import annotations

from importlib.resources import files
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parent.parent
IN_CHECKOUT = {"sql": CHECKOUT / "sql", "templates": CHECKOUT / "reports" / "templates"}


def data_folder(name: str) -> Path:
    """The folder `sql` or `templates`, packaged copy first."""
    packaged = Path(str(files("speval") / "_data" / name))
    return packaged if packaged.is_dir() else IN_CHECKOUT[name]

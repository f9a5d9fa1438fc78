"""Section: caveats. Which ones apply depends on whether a matched comparison was tried and
whether it could be published; the summary's closing note depends on the same."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def comparison_state(matched: Mapping[str, Any] | None) -> dict[str, bool]:
    """``tried``: matching tables were given; ``published``: at least one cohort's matched
    estimate can be shown (only then do the results lead with it)."""
    return {"tried": matched is not None, "published": bool(matched and matched["has_comparison"])}

"""The KPI catalogue (../shared/kpi-catalogue.md section 3), in the catalogue's order.

Each KPI's rule is one function in its family's module, its docstring quoting the catalogue row.
"""

from __future__ import annotations

from kpi.domain.casebook import CaseBook, RuleContext
from kpi.domain.kpis.assessments import ASSESSMENT_KPIS
from kpi.domain.kpis.base import Kpi, OpenClock
from kpi.domain.kpis.child_protection import CHILD_PROTECTION_KPIS
from kpi.domain.kpis.children import CHILDREN_KPIS
from kpi.domain.kpis.front_door import FRONT_DOOR_KPIS
from kpi.domain.kpis.looked_after import LOOKED_AFTER_KPIS
from kpi.domain.kpis.proceedings import PROCEEDINGS_KPIS
from kpi.domain.kpis.recording import RECORDING_LAG

CATALOGUE: tuple[Kpi, ...] = (
    *FRONT_DOOR_KPIS[:4],
    *ASSESSMENT_KPIS[:3],
    *CHILD_PROTECTION_KPIS,
    FRONT_DOOR_KPIS[4],  # REREFERRAL-12M
    ASSESSMENT_KPIS[3],  # REPEAT-ASMT
    *LOOKED_AFTER_KPIS,
    CHILDREN_KPIS[0],  # SW-CHANGES
    *PROCEEDINGS_KPIS,
    *CHILDREN_KPIS[1:],  # RATE-*
    RECORDING_LAG,
)
KPIS: dict[str, Kpi] = {kpi.id: kpi for kpi in CATALOGUE}
assert len(KPIS) == len(CATALOGUE), "KPI ids must be unique"


def open_clocks(kpi: Kpi, book: CaseBook, ctx: RuleContext) -> list[OpenClock]:
    """The clocks ``kpi.open_clocks`` keeps, which may be several KPIs' (CORE-10WD's holds the
    review conferences' and visits' too): each KPI's from the book less what its datasets
    cannot feed."""
    if kpi.open_clocks is None:
        return []
    if not book.datasets:  # a case system's own events only: every clock in one pass
        return list(kpi.open_clocks(book, ctx))
    found: list[OpenClock] = []
    for unrecorded in _UNRECORDED:
        view = book.without(unrecorded)
        found.extend(
            c for c in kpi.open_clocks(view, ctx) if KPIS[c.kpi].unrecorded_in == unrecorded
        )
    return found


# Every distinct set of datasets the KPIs leave out.
_UNRECORDED = sorted({kpi.unrecorded_in for kpi in CATALOGUE}, key=sorted)

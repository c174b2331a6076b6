"""The KPI service's HTTP layer: one router per resource, wired in ``kpi.app``."""

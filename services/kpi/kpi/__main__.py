"""Run the KPI service: `python -m kpi` (configuration from CASETIME_* variables)."""

from __future__ import annotations

import uvicorn

from casetime.logs import configure_logging
from kpi.app import create_app
from kpi.settings import KpiSettings


def main() -> None:
    settings = KpiSettings()
    configure_logging(settings.log_level)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        timeout_graceful_shutdown=20,
    )


if __name__ == "__main__":
    main()

"""One log format for every service: timestamp, level, logger, message."""

from __future__ import annotations

import logging


def configure_logging(level: str = "INFO") -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    # aiokafka logs every reconnect attempt at ERROR; our own retry loop reports those.
    logging.getLogger("aiokafka").setLevel(logging.WARNING)


def default_port(service: str) -> int:
    """The service's port: CASETIME_PORT, else its own in the table of services."""
    from casetime.settings import IngestSettings
    from casetime.topics import SERVICES

    settings = IngestSettings()
    return settings.port if "port" in settings.model_fields_set else SERVICES[service].port


def run_ingest(service: str) -> None:
    """Entrypoint shared by the three ingest services."""
    import uvicorn

    from casetime.ingest import create_app
    from casetime.settings import IngestSettings, load_settings

    settings = load_settings(IngestSettings)
    configure_logging(settings.log_level)
    uvicorn.run(
        create_app(service, settings),
        host=settings.host,
        port=default_port(service),
        log_level=settings.log_level.lower(),
        timeout_graceful_shutdown=20,
    )

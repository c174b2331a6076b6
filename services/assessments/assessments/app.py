"""The assessments ingest service: the event types casetime.topics assigns to "assessments"."""

from casetime.ingest import create_app

SERVICE = "assessments"

app = create_app(SERVICE)

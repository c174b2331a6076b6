"""The placements ingest service: the event types casetime.topics assigns to "placements"."""

from casetime.ingest import create_app

SERVICE = "placements"

app = create_app(SERVICE)

"""The referrals ingest service: the event types casetime.topics assigns to "referrals"."""

from casetime.ingest import create_app

SERVICE = "referrals"

app = create_app(SERVICE)

"""casetime's connectors: turn what a council already has (its annual returns, its case
system's reporting tables) into casetime events, with ids that make every import idempotent."""

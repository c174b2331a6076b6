"""Run the placements ingest service: `python -m placements` (see casetime.settings)."""

from casetime.logs import run_ingest


def main() -> None:
    run_ingest("placements")


if __name__ == "__main__":
    main()

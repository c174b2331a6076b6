"""Run the assessments ingest service: `python -m assessments` (see casetime.settings)."""

from casetime.logs import run_ingest


def main() -> None:
    run_ingest("assessments")


if __name__ == "__main__":
    main()

"""Run the referrals ingest service: `python -m referrals` (see casetime.settings)."""

from casetime.logs import run_ingest


def main() -> None:
    run_ingest("referrals")


if __name__ == "__main__":
    main()

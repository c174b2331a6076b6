"""The KPI service: `python -m kpi` serves; `python -m kpi rebuild` rebuilds its state from the
event log (configuration from CASETIME_* variables)."""

from __future__ import annotations

import asyncio

import typer
import uvicorn
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

from casetime.logs import configure_logging
from casetime.settings import load_settings
from kpi.app import create_app
from kpi.settings import KpiSettings

cli = typer.Typer(add_completion=False, help=__doc__)
console = Console()


@cli.callback(invoke_without_command=True)
def default(context: typer.Context) -> None:
    if context.invoked_subcommand is None:
        serve()


@cli.command()
def serve() -> None:
    """Consume events and serve /metrics and the query API."""
    settings = load_settings(KpiSettings)
    configure_logging(settings.log_level)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        timeout_graceful_shutdown=20,
    )


@cli.command("rebuild")
def rebuild_command() -> None:
    """Replay every event into fresh tables, compare with the live figures, switch over."""
    from kpi.rebuild import rebuild

    settings = load_settings(KpiSettings)
    configure_logging("WARNING")
    with Progress(
        "replaying events", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    ) as progress:
        task = progress.add_task("replay", total=None)
        report = asyncio.run(
            rebuild(
                settings, lambda done, total: progress.update(task, completed=done, total=total)
            )
        )
    console.print(
        f"rebuilt from {report.replayed:,} events (+{report.caught_up:,} caught up after the "
        f"switch) in {report.seconds:.1f} s; {report.figures_compared:,} figures, "
        f"{report.figures_differing:,} differing from the live ones before the switch; "
        f"previous state kept as {report.previous_state}",
        soft_wrap=True,
    )
    if settings.embedded:
        console.print("embedded mode: start the KPI service again to use the rebuilt state")


def main() -> None:
    cli()


if __name__ == "__main__":
    main()

"""casetime import: a council's history from its returns (children in need census XML, the
SSDA903 looked-after return), posted to the ingest services as events."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

from casetime.topics import SERVICES
from connectors.cin_census import ReturnFileError
from connectors.ledger import Ledger
from connectors.posting import post_events
from connectors.pseudonyms import Pseudonyms
from connectors.records import ImportReport
from connectors.returns import RETURNS_TEAM, ReturnOptions, import_returns

importer = typer.Typer(help=__doc__, no_args_is_help=True)
console = Console()
DEFAULT_STATE = "sqlite+aiosqlite:///.casetime/connectors/state.db"

Paths = Annotated[list[Path], typer.Argument(help="Files or folders.", exists=True)]
Key = Annotated[str, typer.Option(envvar="CASETIME_SOURCE_KEY", help="The returns' source key.")]
Secret = Annotated[
    str,
    typer.Option(
        envvar="CASETIME_PSEUDONYM_KEY",
        help="The council's secret for child ids (the same for every import and the SSD).",
    ),
]
State = Annotated[
    str,
    typer.Option(envvar="CASETIME_CONNECTOR_STATE_URL", help="The connector's own database."),
]
Team = Annotated[str, typer.Option(help="The team every imported event names.")]
Host = Annotated[str, typer.Option(help="Where the ingest services run (their usual ports).")]
Ingest = Annotated[
    list[str] | None,
    typer.Option(help="An ingest service's address, e.g. referrals=http://referrals:8001."),
]


def ingest_urls(host: str, given: list[str] | None) -> dict[str, str]:
    urls = {name: f"http://{host}:{s.port}" for name, s in SERVICES.items() if s.event_types}
    for item in given or []:
        name, _, url = item.partition("=")
        if name not in urls or not url:
            raise typer.BadParameter(f"--ingest {item!r}: give one of {sorted(urls)}=URL")
        urls[name] = url
    return urls


Schemas = Annotated[
    Path | None,
    typer.Option(help="A folder with the year's XSDs (CIN_schema_<year>.xsd, CLA.xsd)."),
]
Strict = Annotated[bool, typer.Option(help="Refuse a file that its year's XSD refuses.")]
ReportFile = Annotated[Path | None, typer.Option(help="Write every skipped record here (JSON).")]


def _run(
    kind: str,
    paths: list[Path],
    key: str,
    state: str,
    host: str,
    options: ReturnOptions,
    report_file: Path | None,
) -> None:
    urls = ingest_urls(host, None)

    async def post(bodies: list[dict[str, Any]]) -> None:
        await post_events(bodies, urls, source_key=key)

    async def work(progress: Progress) -> ImportReport:
        _make_folder(state)
        ledger = await Ledger(state).open()
        task = progress.add_task(f"importing {kind}", total=None)
        try:
            return await import_returns(
                kind,
                paths,
                ledger,
                post,
                options,
                lambda done, of: progress.update(task, completed=done, total=of),
            )
        finally:
            await ledger.close()

    with _progress() as progress:
        try:
            report = asyncio.run(work(progress))
        except ReturnFileError as exc:
            console.print(f"[bold red]refused[/]: {exc}")
            raise typer.Exit(2) from None
    _print(report, report_file)


def _progress() -> Progress:
    """Rows (or records) done, of how many where that is known, and the time taken."""
    return Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


def _print(report: ImportReport, report_file: Path | None) -> None:
    console.print(
        f"{', '.join(report.files)}: {len(report.children):,} children,"
        f" {report.episodes:,} episodes ({len(report.episode_children):,} children with one);"
        f" {report.changed_rows:,} rows new or changed;"
        f" {report.posted:,} events posted ({report.voided:,} voids),"
        f" {report.unchanged:,} unchanged; {len(report.all_skipped()):,} records or values skipped,"
        f" {len(report.notes):,} notes"
    )
    for reason, count in Counter(_kind(s.reason) for s in report.all_skipped()).most_common(8):
        console.print(f"  skipped {count:>6,}  {reason}")
    if report_file is not None:
        body = {
            "files": report.files,
            "skipped": [{"where": s.location, "why": s.reason} for s in report.all_skipped()],
            "notes": report.notes,
        }
        report_file.write_text(json.dumps(body, indent=1))
        console.print(f"  every skipped record and note: {report_file}")


def _kind(reason: str) -> str:
    """A reason without its dates, to count alike ones together."""
    return " ".join("<date>" if w[:4].isdigit() else w for w in reason.split())


@importer.command("cin")
def cin(
    paths: Paths,
    key: Key,
    pseudonym_key: Secret,
    state: State = DEFAULT_STATE,
    team: Team = RETURNS_TEAM,
    host: Host = "127.0.0.1",
    schemas: Schemas = None,
    strict: Strict = False,
    report: ReportFile = None,
) -> None:
    """Import children in need census XML files (any years, in any order)."""
    options = ReturnOptions(Pseudonyms(pseudonym_key), team, schemas, strict)
    _run("cin", paths, key, state, host, options, report)


@importer.command("ssda903")
def ssda903(
    paths: Paths,
    key: Key,
    pseudonym_key: Secret,
    state: State = DEFAULT_STATE,
    team: Team = RETURNS_TEAM,
    host: Host = "127.0.0.1",
    schemas: Schemas = None,
    reference_date: Annotated[
        datetime | None,
        typer.Option(
            formats=["%Y-%m-%d"], help="The collection's end, where file names do not say."
        ),
    ] = None,
    report: ReportFile = None,
) -> None:
    """Import SSDA903 returns: CSV tables (e.g. 2019-episodes.csv), folders of them, or XML."""
    ends = reference_date.date() if reference_date else None
    options = ReturnOptions(Pseudonyms(pseudonym_key), team, schemas, reference_date=ends)
    _run("903", paths, key, state, host, options, report)


connector_app = typer.Typer(
    help="casetime connect: a case system's changes, from its Standard Safeguarding Dataset.",
    no_args_is_help=True,
)


@connector_app.command("ssd")
def connect_ssd(
    url: Annotated[
        str,
        typer.Option(envvar="CASETIME_SSD_URL", help="The SSD database (a SQLAlchemy async URL)."),
    ],
    key: Key,
    pseudonym_key: Secret,
    state: State = DEFAULT_STATE,
    team: Team = "Not recorded (SSD)",
    host: Host = "127.0.0.1",
    every: Annotated[
        float, typer.Option(help="Seconds between polls; 0: poll once and stop.")
    ] = 0.0,
    batch_size: Annotated[int, typer.Option(min=1, max=50_000)] = 1000,
    ingest: Ingest = None,
) -> None:
    """Poll the SSD tables and post what is new, changed or deleted since the last poll."""
    import signal

    from connectors.ssd import SOURCE, derive
    from connectors.ssd_source import SsdPoller, SsdReader, run_polls
    from connectors.sync import Connector

    urls = ingest_urls(host, ingest)

    async def post(bodies: list[dict[str, Any]]) -> None:
        await post_events(bodies, urls, source_key=key)

    async def work() -> None:
        _make_folder(state)
        ledger = await Ledger(state).open()
        reader = SsdReader(url, batch_size)
        connector = Connector(SOURCE, ledger, derive, team, post)
        poller = SsdPoller(reader, ledger, Pseudonyms(pseudonym_key), connector)
        try:
            if every <= 0:
                report = ImportReport(SOURCE)
                with _progress() as progress:
                    task = progress.add_task("polling the SSD", total=None)

                    def read(table: str, rows: int) -> None:
                        progress.update(task, description=f"polling {table}", completed=rows)

                    await poller.poll(report, read)
                _print(report, None)
                return
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stop.set)
            await run_polls(poller, every, stop, lambda r: _print(r, None))
        finally:
            await reader.close()
            await ledger.close()

    asyncio.run(work())


def _make_folder(state: str) -> None:
    if state.startswith("sqlite") and ":///" in state:
        Path(state.split(":///", 1)[1]).parent.mkdir(parents=True, exist_ok=True)

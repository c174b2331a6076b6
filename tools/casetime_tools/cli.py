"""casetime's command line: a demo on one machine, posting event files, reading KPIs.

casetime demo [--once]      start the system (embedded), post a year of a synthetic
                            council, print the KPI scorecard
casetime generate FILE      write a synthetic council's events to a JSON-lines file
casetime post FILE          post a JSON-lines file of events to the ingest services
casetime kpis [--as-at D]   print the scorecard from a running KPI service
casetime access ...         source keys, reader tokens and the audit log
casetime import cin|ssda903 a council's history from its returns
casetime connect ssd        a case system's changes from its SSD tables
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table

from casetime.events import LONDON
from casetime.topics import SERVICES as SERVICE_TABLE
from casetime_tools.access_cli import access, demo_credentials
from casetime_tools.import_cli import connector_app, importer

app = typer.Typer(help=__doc__, no_args_is_help=True, add_completion=False)
app.add_typer(access, name="access")
app.add_typer(importer, name="import")
app.add_typer(connector_app, name="connect")
# a terminal gets its own width; a log file or a pipe gets room for the whole scorecard
console = Console(width=None if sys.stdout.isatty() else 150)

SERVICES = {name: service.port for name, service in SERVICE_TABLE.items()}
RAG_STYLE = {"Green": "bold green", "Amber": "bold yellow", "Red": "bold red"}
# the period a scorecard shows: the last 12 months, or the as-at date for point-in-time KPIs
SCORECARD_PERIODS = ("rolling_12_months", "as_at")


def ingest_urls(host: str = "127.0.0.1") -> dict[str, str]:
    return {name: f"http://{host}:{port}" for name, port in SERVICES.items() if name != "kpi"}


def kpi_url(host: str = "127.0.0.1") -> str:
    return f"http://{host}:{SERVICES['kpi']}"


# --- running the services ------------------------------------------------------------------


@contextmanager
def running_services(data_dir: Path, env: dict[str, str] | None = None) -> Iterator[None]:
    """The four services as processes in embedded mode, stopped gracefully on exit."""
    data_dir.mkdir(parents=True, exist_ok=True)
    base = {
        **os.environ,
        "CASETIME_DATA_DIR": str(data_dir),
        "CASETIME_KPI_REFRESH_SECONDS": "2",
        **(env or {}),
    }
    processes: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for name, port in SERVICES.items():
            log = (data_dir / f"{name}.log").open("ab")
            processes[name] = subprocess.Popen(
                [sys.executable, "-m", name],
                env={**base, "CASETIME_PORT": str(port)},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        for name, port in SERVICES.items():
            wait_ready(name, f"http://127.0.0.1:{port}/readyz", processes[name], data_dir)
        yield
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes.values():
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()


def wait_ready(
    name: str, url: str, process: subprocess.Popen[bytes], data_dir: Path, timeout: float = 60
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise typer.Exit(_failed(name, data_dir))
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise typer.Exit(_failed(name, data_dir))


def _failed(name: str, data_dir: Path) -> int:
    log = data_dir / f"{name}.log"
    tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:]) if log.exists() else ""
    console.print(f"[red]{name} did not start[/red]; the end of {log}:\n{tail}")
    return 1


# --- posting -------------------------------------------------------------------------------


def post_with_progress(events: list[dict[str, Any]], urls: dict[str, str], key: str) -> int:
    from connectors.posting import post_events

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("posting events", total=len(events))
        report = asyncio.run(
            post_events(
                events, urls, on_progress=lambda n: progress.advance(task, n), source_key=key
            )
        )
    return sum(report.accepted.values())


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def wait_until_applied(url: str, count: int, token: str, timeout: float = 600) -> None:
    """Until the KPI service has taken every posted event off the log."""
    deadline = time.monotonic() + timeout
    with console.status("the KPI service is applying the events..."):
        while time.monotonic() < deadline:
            if applied(url, token) >= count:
                answer = httpx.post(f"{url}/kpis/refresh", timeout=120, headers=_bearer(token))
                answer.raise_for_status()
                return
            time.sleep(0.5)
    raise typer.Exit(1)


def applied(url: str, token: str) -> int:
    from prometheus_client.parser import text_string_to_metric_families

    from kpi.adapters.metrics import DEAD_LETTERS, EVENTS_APPLIED

    text = httpx.get(f"{url}/metrics/", timeout=10, headers=_bearer(token)).text
    return int(
        sum(
            sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name in (f"{EVENTS_APPLIED}_total", f"{DEAD_LETTERS}_total")
        )
    )


# --- the scorecard -------------------------------------------------------------------------


def fetch_scorecard(url: str, token: str, as_at: date | None = None) -> dict[str, Any]:
    params: dict[str, str] = {"level": "council"}
    if as_at is not None:
        params["as_at"] = as_at.isoformat()
    response = httpx.get(f"{url}/kpis", params=params, timeout=300, headers=_bearer(token))
    if response.status_code in (401, 403):
        console.print(f"[red]{response.json()['detail'][0]['reason']}[/red]")
        raise typer.Exit(2)
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    body["values"] = [v for v in body["values"] if v["period"] in SCORECARD_PERIODS]
    return body


def format_value(row: dict[str, Any]) -> str:
    value = row["value"]
    if value is None:
        return "-"
    if row["unit"] == "ratio":
        return f"{value:.1%}"
    if row["unit"] == "per_10000_children":
        return f"{value:.1f} per 10k"
    return f"{value:.1f} {row['unit'].replace('_', ' ')}"


def format_target(row: dict[str, Any]) -> str:
    target = row["target"]
    if target is None:
        return "-"
    return f"{target:.0%}" if row["unit"] == "ratio" else f"{target:g}"


def print_scorecard(body: dict[str, Any]) -> None:
    table = Table(title=f"{body['council']}: KPIs as at {body['as_at']}", show_lines=False)
    table.add_column("KPI", no_wrap=True)
    for column, justify in (
        ("measure", "left"),
        ("period", "left"),
        ("value", "right"),
        ("n / d", "right"),
        ("target", "right"),
        ("RAG", "left"),
        ("England", "right"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for row in body["values"]:
        england = (row["comparators"] or {}).get("england")
        table.add_row(
            row["kpi"],
            row["title"],
            "12 months" if row["period"] == "rolling_12_months" else "as at",
            format_value(row),
            f"{row['numerator']:,} / {row['denominator']:,}",
            format_target(row),
            f"[{RAG_STYLE.get(row['rag'], 'dim')}]{row['rag']}[/]",
            format_value({**row, "value": england["value"]}) if england else "-",
        )
    console.print(table)


# --- commands ------------------------------------------------------------------------------


@app.command()
def demo(
    once: Annotated[bool, typer.Option(help="Exit after printing the scorecard.")] = False,
    size: Annotated[str, typer.Option(help="Council size (see `casetime generate`).")] = (
        "mid-sized"
    ),
    seed: Annotated[int, typer.Option(help="Seed of the synthetic council.")] = 2025,
    data_dir: Annotated[Path, typer.Option(help="Where the demo keeps its data.")] = Path(
        ".casetime/demo"
    ),
    scorecard_json: Annotated[
        Path | None, typer.Option(help="Also write the scorecard's rows to this JSON file.")
    ] = None,
) -> None:
    """Start casetime on this machine, post a year of a synthetic council, show the KPIs."""
    from casetime_tools.synthetic import SIZES, generate

    if size not in SIZES:
        raise typer.BadParameter(f"choose one of {sorted(SIZES)}", param_hint="--size")
    today = datetime.now(LONDON).date()
    if data_dir.exists():
        # a fresh council each run: the log and the state are rebuilt from the generated year
        for file in data_dir.glob("*.sqlite3*"):
            file.unlink()
    started = time.monotonic()
    with console.status("generating a year of case history..."):
        events = list(
            generate(
                seed=seed,
                start=today - timedelta(days=365),
                end=today,
                children_per_year=SIZES[size],
            )
        )
    console.print(f"generated {len(events):,} events for a {size} council (seed {seed})")
    demo_keys = demo_credentials(data_dir)
    console.print("starting the four services (embedded mode)...")
    with running_services(data_dir):
        try:
            accepted = post_with_progress(events, ingest_urls(), demo_keys.source_key)
            wait_until_applied(kpi_url(), accepted, demo_keys.reader)
            scorecard = fetch_scorecard(kpi_url(), demo_keys.reader)
            print_scorecard(scorecard)
            if scorecard_json is not None:
                scorecard_json.write_text(json.dumps(scorecard, indent=1))
            console.print(f"ready in {time.monotonic() - started:.0f} s")
            demo_keys.explain(console, kpi_url())
            if once:
                return
            for name, port in SERVICES.items():
                console.print(f"  {name:<12} http://127.0.0.1:{port}/docs")
            console.print(f"  metrics      {kpi_url()}/metrics/")
            console.print(f"  team pages   {kpi_url()}/teams (sign in with the reader token)")
            console.print("  Ctrl-C stops the services.")
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            console.print("stopping")


@app.command("generate")
def generate_file(
    out: Annotated[Path, typer.Argument(help="The JSON-lines file to write.")],
    size: Annotated[str, typer.Option()] = "mid-sized",
    seed: Annotated[int, typer.Option()] = 2025,
    days: Annotated[int, typer.Option(help="How many days of history, ending today.")] = 365,
) -> None:
    """Write a synthetic council's events, one JSON object a line, for replay."""
    from casetime_tools.synthetic import SIZES, generate, write_jsonl

    if size not in SIZES:
        raise typer.BadParameter(f"choose one of {sorted(SIZES)}", param_hint="--size")
    today = datetime.now(LONDON).date()
    count = write_jsonl(
        generate(
            seed=seed,
            start=today - timedelta(days=days),
            end=today,
            children_per_year=SIZES[size],
        ),
        out,
    )
    console.print(f"wrote {count:,} events to {out}")


KEY_HELP = "The source key (`casetime access source`)."
TOKEN_HELP = "A reader token (`casetime access reader`)."


@app.command()
def post(
    file: Annotated[Path, typer.Argument(help="A JSON-lines file of events.", exists=True)],
    key: Annotated[str, typer.Option(envvar="CASETIME_SOURCE_KEY", help=KEY_HELP)],
    host: Annotated[str, typer.Option(help="Where the ingest services run.")] = "127.0.0.1",
) -> None:
    """Post a file of events to the ingest services, as a case system would."""
    from casetime_tools.synthetic import read_jsonl

    events = list(read_jsonl(file))
    accepted = post_with_progress(events, ingest_urls(host), key)
    console.print(f"{accepted:,} events accepted")


@app.command()
def dashboards(
    council: Annotated[
        Path | None,
        typer.Option(help="The council file the stat colours follow; default: the built-in one."),
    ] = None,
    out: Annotated[Path, typer.Option(help="Where to write them.")] = Path(
        "deploy/grafana/dashboards"
    ),
) -> None:
    """Write the Grafana dashboards (team timeliness, overview, pipeline health) as JSON."""
    from casetime_tools.dashboards import write
    from kpi.adapters.council_file import load_council_config

    for path in write(load_council_config(council), out):
        console.print(f"wrote {path}")


@app.command()
def kpis(
    token: Annotated[str, typer.Option(envvar="CASETIME_READER_TOKEN", help=TOKEN_HELP)],
    as_at: Annotated[
        datetime | None, typer.Option(formats=["%Y-%m-%d"], help="Show KPIs as at this date.")
    ] = None,
    host: Annotated[str, typer.Option(help="Where the KPI service runs.")] = "127.0.0.1",
) -> None:
    """Print the KPI scorecard from a running KPI service."""
    print_scorecard(fetch_scorecard(kpi_url(host), token, as_at.date() if as_at else None))


def _freeze(host: str, token: str, label: str, tries: int = 30) -> httpx.Response:
    """POST /freezes, waiting as told (Retry-After) while it is rate-limited or busy."""
    for _ in range(tries):
        answer = httpx.post(
            f"{kpi_url(host)}/freezes", params={"month": label}, headers=_bearer(token), timeout=900
        )
        if answer.status_code not in (429, 503):
            break
        time.sleep(float(answer.headers.get("Retry-After", "2")))
    if answer.status_code >= 400:
        console.print(f"[red]freezing {label} failed ({answer.status_code}): {answer.text}")
        raise typer.Exit(1)
    return answer


def pack_month(
    month: str | None, quarter: str | None, meeting: datetime | None, papers_working_days: int = 3
) -> date:
    """The month a pack is for: given, the last of a financial quarter (2026-Q2: September), or
    the latest complete before a meeting's papers deadline (``papers_working_days`` working
    days before it)."""
    from kpi.domain.board_pack import meeting_month, quarter_month
    from kpi.domain.calendar import england_calendar

    chosen = [o for o in (month, quarter, meeting) if o is not None]
    if len(chosen) != 1:
        raise typer.BadParameter("give one of --month, --quarter and --meeting")
    if month is not None:
        return date.fromisoformat(f"{month}-01")
    if quarter is not None:
        year, _, number = quarter.partition("-Q")
        if not (year.isdigit() and number.isdigit()):
            raise typer.BadParameter("--quarter is like 2026-Q2")
        return quarter_month(int(year), int(number))
    assert meeting is not None
    return meeting_month(meeting.date(), england_calendar(), papers_working_days)


@app.command()
def extract(
    token: Annotated[str, typer.Option(envvar="CASETIME_READER_TOKEN", help=TOKEN_HELP)],
    month: Annotated[str | None, typer.Option(help="The month, e.g. 2026-10.")] = None,
    quarter: Annotated[
        str | None, typer.Option(help="A financial quarter, e.g. 2026-Q2 (its last month).")
    ] = None,
    meeting: Annotated[
        datetime | None,
        typer.Option(formats=["%Y-%m-%d"], help="A board meeting: the month its papers report."),
    ] = None,
    papers_working_days: Annotated[
        int,
        typer.Option(
            envvar="CASETIME_PAPERS_WORKING_DAYS",
            min=0,
            max=30,
            help="With --meeting: the papers are due this many working days before it.",
        ),
    ] = 3,
    out: Annotated[Path, typer.Option(help="Where to write the pack.")] = Path("."),
    backfill: Annotated[
        int,
        typer.Option(
            min=0, max=12, help="Freeze up to this many earlier months first, for the trend."
        ),
    ] = 0,
    host: Annotated[str, typer.Option(help="Where the KPI service runs.")] = "127.0.0.1",
) -> None:
    """Freeze a month (if it is not frozen yet) and write its board pack."""
    from kpi.adapters.pack_folder import pack_name, write_whole
    from kpi.domain.periods import add_months

    chosen = pack_month(month, quarter, meeting, papers_working_days)
    label = f"{chosen:%Y-%m}"
    started = time.monotonic()
    for back in range(backfill, 0, -1):
        _freeze(host, token, f"{add_months(chosen, -back):%Y-%m}")
    answer = _freeze(host, token, label)
    frozen = answer.json()
    paths = []
    for kind in ("xlsx", "pdf"):
        pack = httpx.get(
            f"{kpi_url(host)}/packs/{label}.{kind}", headers=_bearer(token), timeout=300
        )
        pack.raise_for_status()
        paths.append(write_whole(out, pack_name(chosen, kind), pack.content))
    made = "frozen now" if answer.status_code == 201 else "frozen before"
    console.print(
        f"{label} {made} at {frozen['frozen_at']} ({frozen['figures']:,} figures,"
        f" {frozen['events_known']:,} events known); wrote {', '.join(map(str, paths))}"
        f" in {time.monotonic() - started:.1f} s"
    )


def main() -> None:
    app()


if __name__ == "__main__":
    main()

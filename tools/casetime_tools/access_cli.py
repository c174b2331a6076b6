"""`casetime access`: source keys for case systems, reader tokens for people and Prometheus,
and the audit log. Run where the KPI store is reachable (the same CASETIME_* settings as the
KPI service: CASETIME_DATABASE_URL, or CASETIME_DATA_DIR in embedded mode)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from casetime.access import admin
from casetime.access.credentials import ALL_TEAMS, Minted
from casetime.access.store import AccessStore
from casetime.settings import ServiceSettings, load_settings
from casetime.topics import INGEST_SERVICES
from kpi.migrations import upgrade_to_head

access = typer.Typer(help=__doc__, no_args_is_help=True, add_completion=False)
console = Console()
T = TypeVar("T")


def _with_store(work: Callable[[AccessStore], Awaitable[T]], url: str | None = None) -> T:
    url = url or load_settings(ServiceSettings).state_store_url
    upgrade_to_head(url)

    async def run() -> T:
        store = AccessStore(url)
        try:
            return await work(store)
        finally:
            await store.dispose()

    try:
        return asyncio.run(run())
    except (ValueError, LookupError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None


def _show(minted: Minted) -> None:
    credential = minted.credential
    kind = credential.kind.name.lower()
    console.print(f"{kind} {credential.id} for {credential.name!r}: {credential.scope}")
    console.print("Keep this secret; it is shown once and cannot be recovered:")
    # printed without markup or wrapping, so that it can be copied whole
    print(minted.token)


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class DemoCredentials:
    source_key: str
    reader: str
    board: str

    def explain(self, out: Console, kpi: str) -> None:
        out.print("  the demo's own credentials (made afresh each run):")
        out.print(
            f"    source key (posts to every ingest service): {self.source_key}", soft_wrap=True
        )
        out.print(
            f"    reader token (figures and every team's lists): {self.reader}", soft_wrap=True
        )
        out.print(f"    board token (figures only): {self.board}", soft_wrap=True)
        out.print(f"    e.g. curl -H 'Authorization: Bearer <reader token>' {kpi}/open-clocks")


def demo_credentials(data_dir: Path) -> DemoCredentials:
    """A source key, an all-teams reader token and a board token in the demo's own store."""
    settings = ServiceSettings(data_dir=data_dir)

    async def made(store: AccessStore) -> DemoCredentials:
        now, services = _now(), set(INGEST_SERVICES)
        source = await admin.create_source_key(store, "demo case system", services, now)
        reader = await admin.create_reader_token(store, "demo team manager", {ALL_TEAMS}, now)
        board = await admin.create_reader_token(store, "demo board", set(), now)
        return DemoCredentials(source.token, reader.token, board.token)

    return _with_store(made, settings.state_store_url)


@access.command("source")
def create_source(
    source: Annotated[str, typer.Argument(help="The source system, stamped on its events.")],
    service: Annotated[
        list[str], typer.Option(help="An ingest service it may post to (repeat for more).")
    ],
) -> None:
    """Make a source key for a case system."""
    _show(_with_store(lambda s: admin.create_source_key(s, source, set(service), _now())))


@access.command("reader")
def create_reader(
    holder: Annotated[str, typer.Argument(help="Who or what holds it (a person, Prometheus).")],
    team: Annotated[
        list[str] | None,
        typer.Option(help="A team whose child-level lists it may see (repeat for more)."),
    ] = None,
    all_teams: Annotated[bool, typer.Option(help="See every team's lists.")] = False,
) -> None:
    """Make a reader token: figures only (a board or Prometheus) unless given teams."""
    teams = {ALL_TEAMS} if all_teams else set(team or ())
    _show(_with_store(lambda s: admin.create_reader_token(s, holder, teams, _now())))


@access.command("list")
def list_credentials() -> None:
    """Every credential: id, kind, name, scope, and whether it is valid now."""
    credentials = _with_store(lambda s: s.credentials())
    table = Table("id", "kind", "name", "scope", "created", "state")
    now = _now()
    for c in sorted(credentials, key=lambda c: (c.kind, c.name, c.created_at or now)):
        state = "valid" if c.valid_at(now) else "revoked" if c.revoked_at else "expired"
        if c.valid_at(now) and c.expires_at:
            state = f"valid until {c.expires_at:%Y-%m-%d %H:%M} UTC"
        created = f"{c.created_at:%Y-%m-%d %H:%M}" if c.created_at else ""
        table.add_row(c.id, c.kind.name.lower(), c.name, c.scope, created, state)
    console.print(table)


@access.command("rotate")
def rotate(
    credential_id: Annotated[str, typer.Argument(help="The credential to replace.")],
    grace_hours: Annotated[
        float, typer.Option(help="How long the old one keeps working beside the new one.")
    ] = 24.0,
) -> None:
    """Replace a credential with a new one of the same scope; both work for the grace period."""
    old, successor = _with_store(
        lambda s: admin.rotate(s, credential_id, timedelta(hours=grace_hours), _now())
    )
    console.print(f"{old.id} keeps working until {old.expires_at:%Y-%m-%d %H:%M} UTC")
    _show(successor)


@access.command("revoke")
def revoke(credential_id: Annotated[str, typer.Argument(help="The credential to revoke.")]) -> None:
    """Stop a credential working (within a few seconds, in every service)."""
    revoked = _with_store(lambda s: admin.revoke(s, credential_id, _now()))
    console.print(
        f"{revoked.id} ({revoked.name}) revoked at {revoked.revoked_at:%Y-%m-%d %H:%M:%S} UTC"
    )


@access.command("audit")
def audit(
    start: Annotated[datetime, typer.Option("--from", formats=["%Y-%m-%d"], help="First day.")],
    end: Annotated[datetime, typer.Option("--to", formats=["%Y-%m-%d"], help="Last day.")],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object a line.")] = False,
) -> None:
    """The audit log for a range of days (UTC): posts, list reads, credential changes."""
    first = start.replace(tzinfo=UTC)
    after = end.replace(tzinfo=UTC) + timedelta(days=1)
    entries = _with_store(lambda s: s.audit_between(first, after))
    if as_json:
        for e in entries:
            print(
                json.dumps(
                    {"at": e.at.isoformat(), "actor": e.actor, "action": e.action, **e.detail}
                )
            )
        return
    table = Table("at (UTC)", "actor", "action", "detail")
    for e in entries:
        table.add_row(f"{e.at:%Y-%m-%d %H:%M:%S}", e.actor, e.action, json.dumps(e.detail))
    console.print(table)

"""Credentials for the tests: made the way an operator makes them (the `casetime access`
commands, or the admin use cases in-process), and presented by origin.

``AUTH`` is an httpx auth that sends, to each service's origin, the credential registered for
it: a source key to the ingest services, a reader token to the KPI service. A test that wants
to go without one passes ``auth=None`` or its own header."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Generator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial

import httpx

from casetime.access import admin
from casetime.access.credentials import ALL_TEAMS
from casetime.access.store import AccessStore
from casetime.topics import INGEST_SERVICES

_BY_ORIGIN: dict[str, str] = {}
_READER_BY_ORIGIN: dict[str, str] = {}


def _origin(url: httpx.URL) -> str:
    return str(url.copy_with(path="/", query=None))


def present(base_url: str, token: str, reader: str | None = None) -> None:
    """From now on, requests to ``base_url``'s origin carry ``token``, and its /metrics
    ``reader`` (a reader token) when given."""
    origin = _origin(httpx.URL(base_url))
    _BY_ORIGIN[origin] = token
    # ports are reused from test to test: nothing an earlier system registered may linger
    _READER_BY_ORIGIN.pop(origin, None)
    if reader is not None:
        _READER_BY_ORIGIN[origin] = reader


class ByOrigin(httpx.Auth):
    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        origin = _origin(request.url)
        token = _BY_ORIGIN.get(origin)
        if request.url.path.startswith("/metrics"):
            token = _READER_BY_ORIGIN.get(origin, token)
        if token is not None and "authorization" not in request.headers:
            request.headers["Authorization"] = f"Bearer {token}"
        yield request


AUTH = ByOrigin()
get = partial(httpx.get, auth=AUTH)
post = partial(httpx.post, auth=AUTH)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass(frozen=True)
class Credentials:
    source_key: str  # may post to every ingest service
    reader: str  # figures and every team's lists
    board: str  # figures only


async def make_credentials(url: str) -> Credentials:
    """In-process, through the same use cases as the commands (the store already migrated)."""
    store = AccessStore(url)
    now = datetime.now(UTC)
    try:
        source = await admin.create_source_key(store, "test-source", set(INGEST_SERVICES), now)
        reader = await admin.create_reader_token(store, "test-reader", {ALL_TEAMS}, now)
        board = await admin.create_reader_token(store, "test-board", set(), now)
    finally:
        await store.dispose()
    return Credentials(source.token, reader.token, board.token)


def made_in_thread(url: str) -> Credentials:
    return asyncio.run(make_credentials(url))


def access_command(env: dict[str, str], *args: str) -> str:
    """`casetime access ...` as an operator runs it; the token it printed (its last line)."""
    return access_output(env, *args).strip().splitlines()[-1]


def access_output(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "casetime_tools.cli", "access", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def command_credentials(env: dict[str, str]) -> Credentials:
    services = [f"--service={s}" for s in INGEST_SERVICES]
    return Credentials(
        source_key=access_command(env, "source", "test-source", *services),
        reader=access_command(env, "reader", "test-reader", "--all-teams"),
        board=access_command(env, "reader", "test-board"),
    )

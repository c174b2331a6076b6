"""Shared fixtures: the real PostgreSQL and Kafka, started by the project's own scripts.

Tests that need them fail (never skip) when they cannot be started: CI must prove the real path.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from kpi.migrations import upgrade_to_head
from tests.support.credentials import Credentials, made_in_thread
from tests.support.scripts import run_script

PG_PORT = int(os.environ.get("PGPORT", "15432"))
KAFKA_PORT = int(os.environ.get("KAFKA_PORT", "19092"))


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The server's base URL; each test gets its own database from `database_url`."""
    run_script("postgres.sh", "install")
    run_script("postgres.sh", "start")
    return f"postgres@127.0.0.1:{PG_PORT}"


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    run_script("kafka.sh", "install")
    run_script("kafka.sh", "start")
    return f"127.0.0.1:{KAFKA_PORT}"


async def create_database(server: str) -> str:
    name = f"casetime_test_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(f"postgresql://{server}/postgres")
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return name


async def drop_database(server: str, name: str) -> None:
    conn = await asyncpg.connect(f"postgresql://{server}/postgres")
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture
async def database_url(postgres_server: str) -> AsyncIterator[str]:
    """A fresh, empty database on the real PostgreSQL, dropped afterwards."""
    name = await create_database(postgres_server)
    yield f"postgresql+asyncpg://{postgres_server}/{name}"
    await drop_database(postgres_server, name)


@pytest.fixture
def topic_prefix() -> str:
    """Unique topic names per test, so tests share one broker without seeing each other."""
    return f"test-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
def access_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A KPI store (embedded SQLite, migrated) holding the tests' credentials."""
    path = tmp_path_factory.mktemp("access") / "kpi.sqlite3"
    url = f"sqlite+aiosqlite:///{path}"
    upgrade_to_head(url)
    return url


@pytest.fixture(scope="session")
def credentials(access_url: str) -> Credentials:
    return made_in_thread(access_url)

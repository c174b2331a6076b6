"""What the integration tests share: a migrated case store on the real PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from kpi.adapters.store import CaseStore
from kpi.migrations import upgrade_to_head


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[CaseStore]:
    """A fresh database migrated to head, and the case store over it."""
    await asyncio.to_thread(upgrade_to_head, database_url)
    case_store = CaseStore(database_url)
    yield case_store
    await case_store.dispose()

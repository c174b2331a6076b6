"""Alembic migrations of the KPI state store. `upgrade_to_head` runs them from code."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

HERE = Path(__file__).parent


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(HERE))
    config.set_main_option("sqlalchemy.url", database_url)
    return config


def upgrade_to_head(database_url: str) -> None:
    """Blocking: run in a thread from async code (env.py starts its own event loop)."""
    command.upgrade(alembic_config(database_url), "head")

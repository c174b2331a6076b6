"""Debian's Chromium, driven by Playwright (which cannot download its own browsers here), and
axe-core for the accessibility check. Screenshots are kept under .casetime/artefacts/."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, sync_playwright

from tests.support.scripts import REPO

ARTEFACTS = REPO / ".casetime" / "artefacts"
# without the background-networking flags Chromium's calls home are refused, many at a time,
# by this machine's closed network
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SERIOUS = {"serious", "critical"}


@contextmanager
def chromium() -> Iterator[Browser]:
    executable = shutil.which("chromium")
    assert executable, "Chromium is not installed: scripts/chromium.sh install"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=FLAGS)
        try:
            yield browser
        finally:
            browser.close()


def serious_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's WCAG 2.x A and AA rules (2.2 included): the serious and critical findings."""
    results = Axe().run(
        page,
        options={
            "resultTypes": ["violations"],
            "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21aa", "wcag22aa"]},
        },
    )
    violations: list[dict[str, Any]] = results.response["violations"]
    return [v for v in violations if v.get("impact") in SERIOUS]


def artefact(name: str) -> Path:
    """Where a test keeps a picture of what it checked (the folder made if need be)."""
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    return ARTEFACTS / name


def keep_screenshot(page: Page, name: str) -> Path:
    path = artefact(name)
    page.screenshot(path=str(path), full_page=True)
    return path

"""Run the project's own infrastructure scripts from tests."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def run_script(script: str, *args: str) -> None:
    """scripts/<script> with args; the test fails, never skips, when it does."""
    env = {**os.environ, "CASETIME_PG_FAST": "1"}
    result = subprocess.run(
        ["bash", str(REPO / "scripts" / script), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(
            f"scripts/{script} {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}",
            pytrace=False,
        )

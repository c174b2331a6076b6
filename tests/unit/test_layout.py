"""The house rules a reader relies on (issue 11): shared/ is the contract and what every service
needs, no production function is longer than a screen, and the domain does no I/O."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = [ROOT / "shared", ROOT / "services", ROOT / "tools"]
MAX_FUNCTION_LINES = 60


def _modules(*roots: Path) -> list[Path]:
    return sorted(
        p for root in roots for p in root.rglob("*.py") if "migrations/versions" not in str(p)
    )


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_no_production_function_is_longer_than_60_lines() -> None:
    long = [
        f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({lines} lines)"
        for path in _modules(*PRODUCTION)
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and (lines := (node.end_lineno or node.lineno) - node.lineno + 1) > MAX_FUNCTION_LINES
    ]
    assert long == []


@pytest.mark.parametrize("path", _modules(ROOT / "shared"), ids=lambda p: p.name)
def test_shared_is_the_contract_and_its_adapters(path: Path) -> None:
    # the tools people run (typer, rich, httpx) and the services live elsewhere
    assert _imports(path).isdisjoint(
        {"typer", "rich", "httpx", "kpi", "casetime_tools", "referrals", "assessments"}
    )


@pytest.mark.parametrize(
    "path", _modules(ROOT / "services" / "kpi" / "kpi" / "domain"), ids=lambda p: p.name
)
def test_the_kpi_domain_does_no_io(path: Path) -> None:
    assert _imports(path).isdisjoint(
        {"sqlalchemy", "sqlmodel", "asyncpg", "aiokafka", "fastapi", "httpx", "prometheus_client"}
    )

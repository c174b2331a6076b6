"""Prometheus rules as tested code (issue 14): `promtool check rules` accepts every rule file,
and `promtool test rules` checks each recording rule's value and each alert firing and quiet
(deploy/prometheus/rules/*.test.yml). promtool comes from Debian's package, by the project's
script."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import yaml

from tests.support.scripts import run_script

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "rules"
DESIGN = ROOT / "deploy" / "METRICS.md"


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    run_script("prometheus.sh", "install")
    return subprocess.run(
        ["promtool", *args], capture_output=True, text=True, timeout=120, check=False, cwd=RULES
    )


def rule_files() -> list[Path]:
    found = sorted(p for p in RULES.glob("*.rules.yml"))
    assert found, f"no rule files in {RULES}"
    return found


def test_promtool_accepts_every_rule_file() -> None:
    result = promtool("check", "rules", *map(str, rule_files()))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_rule_file_has_its_unit_tests_and_they_pass() -> None:
    for rules in rule_files():
        tests = rules.with_name(rules.name.replace(".rules.yml", ".rules.test.yml"))
        assert tests.is_file(), f"{rules.name} has no {tests.name}"
        result = promtool("test", "rules", tests.name)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "SUCCESS" in result.stdout


def test_every_alert_is_tested_firing_and_quiet_and_every_recording_rule_checked() -> None:
    for rules in rule_files():
        groups = yaml.safe_load(rules.read_text())["groups"]
        alerts = {r["alert"] for g in groups for r in g["rules"] if "alert" in r}
        records = {r["record"] for g in groups for r in g["rules"] if "record" in r}
        tests = yaml.safe_load(
            rules.with_name(rules.name.replace(".rules.yml", ".rules.test.yml")).read_text()
        )["tests"]
        firing: set[str] = set()
        quiet: set[str] = set()
        checked: set[str] = set()
        for case in tests:
            for alert in case.get("alert_rule_test", []):
                (firing if alert["exp_alerts"] else quiet).add(alert["alertname"])
            for query in case.get("promql_expr_test", []):
                checked |= set(re.findall(r"[a-z_]+:[a-z_]+:[a-z_]+", query["expr"]))
        assert alerts <= firing, f"never tested firing: {sorted(alerts - firing)}"
        assert alerts <= quiet, f"never tested quiet: {sorted(alerts - quiet)}"
        assert records <= checked, f"values never checked: {sorted(records - checked)}"


def test_every_alert_has_a_summary_a_description_and_a_runbook_section() -> None:
    design = DESIGN.read_text()
    anchors = {
        re.sub(r"[^a-z0-9 -]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
        for line in design.splitlines()
        if line.startswith("#")
    }
    for rules in rule_files():
        for group in yaml.safe_load(rules.read_text())["groups"]:
            for rule in group["rules"]:
                if "alert" not in rule:
                    continue
                notes = rule["annotations"]
                assert notes["summary"], rule["alert"]
                # the figure, or for a service down the instance, filled in
                assert "{{ $" in notes["description"], rule["alert"]
                page, _, anchor = notes["runbook"].partition("#")
                assert page == "deploy/METRICS.md", rule["alert"]
                assert anchor in anchors, f"{rule['alert']}: no section #{anchor} in {DESIGN}"


def test_the_compose_prometheus_loads_the_rules() -> None:
    config = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
    assert config["rule_files"] == ["/etc/prometheus/rules/*.rules.yml"]
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    volumes = compose["services"]["prometheus"]["volumes"]
    assert "./deploy/prometheus/rules:/etc/prometheus/rules:ro" in volumes

"""Static checks of the container deployment: docker-compose.yml, deploy/Dockerfile, Prometheus
and Grafana configuration. No Docker engine is needed; tools that are missing are skipped."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from fastapi import FastAPI

from casetime.ingest import create_app as create_ingest_app
from casetime.settings import IngestSettings
from casetime.topics import INGEST_SERVICES
from casetime.topics import SERVICES as SERVICE_TABLE
from kpi.app import create_app as create_kpi_app
from kpi.settings import KpiSettings
from tests.support.credentials import Credentials, bearer

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
PROMETHEUS = ROOT / "deploy" / "prometheus" / "prometheus.yml"
GRAFANA = ROOT / "deploy" / "grafana"

# Our services and the port each one listens on (inside and outside the container): the one
# table, casetime.topics.SERVICES.
SERVICES = {name: service.port for name, service in SERVICE_TABLE.items()}
INGEST = list(INGEST_SERVICES)
RUN_SH = ROOT / "scripts" / "run.sh"
INFRA = ["kafka", "postgres", "prometheus", "grafana"]
METRICS_PATH = "/metrics/"


@cache
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(loaded, dict)
    return loaded


def service(name: str) -> dict[str, Any]:
    services = compose()["services"]
    assert name in services, f"docker-compose.yml has no service {name!r}"
    found = services[name]
    assert isinstance(found, dict)
    return found


def environment(name: str) -> dict[str, str]:
    """The service's environment as strings, whichever of the two compose forms it uses."""
    env = service(name).get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {key: str(value) for key, value in env.items()}


def healthcheck_command(name: str) -> list[str]:
    test = service(name)["healthcheck"]["test"]
    if isinstance(test, str):
        return ["CMD-SHELL", test]
    return [str(part) for part in test]


def published_ports(name: str) -> list[int]:
    ports = []
    for entry in service(name).get("ports", []):
        if isinstance(entry, dict):
            ports.append(int(entry["published"]))
        else:
            # "[ip:]published:target[/proto]"
            ports.append(int(str(entry).split("/")[0].split(":")[-2]))
    return ports


def depends_on(name: str) -> dict[str, Any]:
    found = service(name).get("depends_on", {})
    assert isinstance(found, dict), f"{name}: depends_on must be the long form, with conditions"
    return found


@cache
def prometheus_config() -> dict[str, Any]:
    loaded = yaml.safe_load(PROMETHEUS.read_text())
    assert isinstance(loaded, dict)
    return loaded


def scrape_targets() -> dict[str, str]:
    """Every scraped host:port and the path it is scraped on."""
    targets = {}
    for job in prometheus_config()["scrape_configs"]:
        for static in job.get("static_configs", []):
            for target in static["targets"]:
                targets[target] = job.get("metrics_path", "/metrics")
    return targets


def scrape_targets_by_service() -> dict[str, str]:
    """Scrape path by compose service name (the target's host)."""
    return {target.split(":")[0]: path for target, path in scrape_targets().items()}


def dockerfile_stages() -> list[tuple[str | None, list[tuple[str, str]]]]:
    """(stage name, [(INSTRUCTION, arguments)]) for each FROM, continuation lines joined."""
    text = re.sub(r"\\\n", "", DOCKERFILE.read_text())
    stages: list[tuple[str | None, list[tuple[str, str]]]] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        instruction, _, args = line.partition(" ")
        instruction = instruction.upper()
        if instruction == "FROM":
            match = re.search(r"\s+AS\s+(\S+)\s*$", args, flags=re.IGNORECASE)
            stages.append((match.group(1) if match else None, []))
        if stages:
            stages[-1][1].append((instruction, args.strip()))
    return stages


# --- docker-compose.yml ------------------------------------------------------------------------


def test_compose_names_every_service() -> None:
    assert set(compose()["services"]) >= set(SERVICES) | set(INFRA)


@pytest.mark.parametrize("name", [*SERVICES, *INFRA])
def test_every_service_has_a_healthcheck_and_restarts(name: str) -> None:
    check = service(name).get("healthcheck")
    assert check, f"{name} has no healthcheck"
    assert not check.get("disable", False)
    command = healthcheck_command(name)
    assert command[0] in ("CMD", "CMD-SHELL")
    assert len(command) > 1
    assert service(name).get("restart") == "unless-stopped"


@pytest.mark.parametrize("name", [*INFRA])
def test_third_party_images_are_pinned(name: str) -> None:
    image = service(name)["image"]
    repository, _, tag = image.rpartition(":")
    assert repository, f"{name}: image {image!r} has no tag"
    assert tag not in ("", "latest"), f"{name}: image {image!r} is not pinned"
    assert "build" not in service(name)


@pytest.mark.parametrize(("name", "port"), SERVICES.items())
def test_our_services_build_from_the_dockerfile_and_run_their_module(name: str, port: int) -> None:
    build = service(name)["build"]
    assert (ROOT / build["context"]).resolve() == ROOT
    assert build["dockerfile"] == "deploy/Dockerfile"
    assert (ROOT / build["context"] / build["dockerfile"]).is_file()
    assert "image" not in service(name)

    assert service(name)["command"] == ["python", "-m", name]
    package = ROOT / "services" / name / name
    assert (package / "__main__.py").is_file(), f"python -m {name} has no {package}/__main__.py"

    env = environment(name)
    assert env["CASETIME_HOST"] == "0.0.0.0"
    assert env["CASETIME_PORT"] == str(port)
    assert env["CASETIME_KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
    assert published_ports(name) == [port]
    for entry in service(name)["ports"]:
        assert str(entry).endswith(f":{port}"), f"{name} must publish its own port {port}"


@pytest.mark.parametrize(("name", "port"), SERVICES.items())
def test_our_healthchecks_ask_readyz_on_the_service_port(name: str, port: int) -> None:
    command = healthcheck_command(name)
    assert command[:3] == ["CMD", "python", "-c"]
    script = command[3]
    assert f"http://127.0.0.1:{port}/readyz" in script
    # urlopen raises on the 503 that /readyz answers when not ready: the check then fails.
    assert "urllib.request.urlopen(" in script
    compile(script, f"{name}-healthcheck", "exec")


@pytest.mark.parametrize("name", SERVICES)
def test_our_services_wait_for_a_healthy_kafka(name: str) -> None:
    assert depends_on(name)["kafka"]["condition"] == "service_healthy"


def test_every_dependency_waits_until_healthy() -> None:
    services = compose()["services"]
    seen = 0
    for name in services:
        for dependency, spec in depends_on(name).items():
            assert dependency in services, f"{name} depends on unknown service {dependency}"
            assert spec["condition"] == "service_healthy", f"{name} -> {dependency}"
            seen += 1
    assert seen >= len(SERVICES) + 1


def test_our_services_use_the_compose_postgres_with_no_password_in_the_repository() -> None:
    """The KPI service keeps its state there; the ingest services check source keys there."""
    pg = environment("postgres")
    assert pg["POSTGRES_USER"] == "casetime"
    assert pg["POSTGRES_DB"] == "casetime"
    # the password comes from the operator's .env, never from this file
    assert pg["POSTGRES_PASSWORD"].startswith("${CASETIME_POSTGRES_PASSWORD:?")
    for name in SERVICES:
        assert depends_on(name)["postgres"]["condition"] == "service_healthy"
        url = environment(name)["CASETIME_DATABASE_URL"]
        assert url.startswith("postgresql+asyncpg://casetime:${CASETIME_POSTGRES_PASSWORD:?")
        assert url.endswith("}@postgres:5432/casetime")


def test_published_ports_are_on_loopback_only() -> None:
    """A TLS-terminating proxy fronts what must be reached; nothing listens on every interface
    of the host, and Prometheus, Kafka and PostgreSQL are not published at all."""
    for name, spec in compose()["services"].items():
        for entry in spec.get("ports", []):
            assert str(entry).startswith("127.0.0.1:"), f"{name} publishes {entry}"
    for name in ("prometheus", "kafka", "postgres"):
        assert not published_ports(name), name


def test_prometheus_scrapes_with_a_reader_token_from_a_secret() -> None:
    assert service("prometheus")["secrets"] == ["prometheus_token"]
    secret = compose()["secrets"]["prometheus_token"]["file"]
    assert secret == "./deploy/secrets/prometheus-token"
    assert "deploy/secrets/" in (ROOT / ".gitignore").read_text().splitlines()
    for job in prometheus_config()["scrape_configs"]:
        assert job["authorization"] == {
            "type": "Bearer",
            "credentials_file": "/run/secrets/prometheus_token",
        }, job["job_name"]


def test_host_ports_are_distinct() -> None:
    ports = [port for name in compose()["services"] for port in published_ports(name)]
    assert len(ports) == len(set(ports)), f"a host port is published twice: {sorted(ports)}"
    assert set(ports) >= {*SERVICES.values(), 3000}


def test_kafka_is_a_single_kraft_node_reachable_as_kafka_9092() -> None:
    env = environment("kafka")
    assert service("kafka")["image"].startswith("apache/kafka:")
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert env["KAFKA_ADVERTISED_LISTENERS"] == "PLAINTEXT://kafka:9092"
    listeners = env["KAFKA_LISTENERS"].split(",")
    assert "PLAINTEXT://:9092" in listeners
    controller = env["KAFKA_CONTROLLER_LISTENER_NAMES"]
    assert any(listener.startswith(f"{controller}://") for listener in listeners)
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == f"{env['KAFKA_NODE_ID']}@kafka:9093"
    # A KRaft cluster id is a base64url UUID: 22 characters.
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", env["CLUSTER_ID"])
    factors = {k: v for k, v in env.items() if k.endswith(("REPLICATION_FACTOR", "_MIN_ISR"))}
    assert "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR" in factors
    assert "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR" in factors
    assert set(factors.values()) == {"1"}, factors
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert env["KAFKA_LOG_RETENTION_MS"] == "-1"
    command = healthcheck_command("kafka")
    assert any(
        part.startswith("/opt/kafka/bin/")
        and part.endswith(("kafka-broker-api-versions.sh", "kafka-topics.sh"))
        for part in command
    ), command
    assert "localhost:9092" in command or "kafka:9092" in command


def test_postgres_is_persistent_and_checked_with_pg_isready() -> None:
    assert service("postgres")["image"] == "postgres:15"
    env = environment("postgres")
    assert env["POSTGRES_DB"] == env["POSTGRES_USER"] == "casetime"
    assert "pg_isready" in " ".join(healthcheck_command("postgres"))
    volumes = [str(v) for v in service("postgres")["volumes"]]
    named = {v.split(":")[0] for v in volumes if v.endswith(":/var/lib/postgresql/data")}
    assert named, volumes
    assert named <= set(compose().get("volumes") or {})


def test_named_volumes_are_declared() -> None:
    declared = set(compose().get("volumes") or {})
    for name, spec in compose()["services"].items():
        for volume in spec.get("volumes", []):
            source = str(volume).split(":")[0]
            if source.startswith((".", "/")):
                assert (ROOT / source).exists(), f"{name} mounts missing {source}"
            else:
                assert source in declared, f"{name} uses undeclared volume {source}"


def test_prometheus_and_grafana_mount_the_repository_configuration() -> None:
    prometheus = [str(v) for v in service("prometheus")["volumes"]]
    assert "./deploy/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro" in prometheus
    assert "/-/ready" in " ".join(healthcheck_command("prometheus"))

    grafana = [str(v) for v in service("grafana")["volumes"]]
    assert "./deploy/grafana/provisioning:/etc/grafana/provisioning:ro" in grafana
    assert "./deploy/grafana/dashboards:/var/lib/grafana/dashboards:ro" in grafana
    assert published_ports("grafana") == [3000]


def test_docker_compose_accepts_the_file() -> None:
    """`docker compose config` validates without an engine, where the compose plugin exists."""
    if shutil.which("docker") is None:
        pytest.skip("docker CLI not installed")
    plugin = subprocess.run(
        ["docker", "compose", "version"], capture_output=True, text=True, timeout=60, check=False
    )
    if plugin.returncode != 0:
        pytest.skip("the docker compose plugin is not installed")
    result = subprocess.run(
        ["docker", "compose", "-f", str(COMPOSE), "config", "-q"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=False,
    )
    if result.returncode != 0 and re.search(r"daemon|docker\.sock", result.stderr, re.IGNORECASE):
        pytest.skip(f"docker compose needs a daemon here: {result.stderr.strip()[:200]}")
    assert result.returncode == 0, result.stderr


# --- deploy/Dockerfile and .dockerignore -------------------------------------------------------


def test_dockerfile_builds_a_venv_with_uv_and_runs_it_as_non_root() -> None:
    stages = dockerfile_stages()
    assert len(stages) >= 2, "the Dockerfile must be multi-stage"
    text = re.sub(r"\\\n", "", DOCKERFILE.read_text())
    assert re.search(r"ghcr\.io/astral-sh/uv:\d+\.\d+\.\d+\b", text), "pin the uv image"
    assert re.search(r"\bpython:3\.11[\w.-]*", text), "the services need Python 3.11"

    builder = dict(stages)["builder"]
    runs = [args for instruction, args in builder if instruction == "RUN"]
    assert any("uv sync --frozen --no-dev --no-editable" in run for run in runs), runs
    copies = [args for instruction, args in builder if instruction == "COPY"]
    assert any("uv.lock" in copy for copy in copies)

    _, runtime = stages[-1]
    instructions = [instruction for instruction, _ in runtime]
    assert any(
        instruction == "COPY" and "--from=builder" in args and "/app/.venv" in args
        for instruction, args in runtime
    )
    users = [args for instruction, args in runtime if instruction == "USER"]
    assert users, "the runtime stage must switch to a non-root user"
    assert users[-1].split(":")[0] not in ("root", "0")
    assert instructions.index("USER") > max(
        i for i, instruction in enumerate(instructions) if instruction in ("RUN", "COPY")
    )
    env = " ".join(args for instruction, args in runtime if instruction == "ENV")
    assert re.search(r"PATH=\"?/app/\.venv/bin:", env)
    assert "PYTHONUNBUFFERED=1" in env


def test_dockerignore_keeps_local_state_out_but_not_the_sources() -> None:
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for needed in (".git", ".venv", ".casetime", ".mypy_cache", ".ruff_cache", ".pytest_cache"):
        assert needed in patterns or f"**/{needed}" in patterns, f".dockerignore lacks {needed}"
    assert any("__pycache__" in p for p in patterns)
    for source in ("pyproject.toml", "uv.lock", "shared", "services", "*"):
        assert source not in patterns, f".dockerignore must not exclude {source}"


# --- Prometheus --------------------------------------------------------------------------------


def test_prometheus_scrapes_every_service_on_its_metrics_path() -> None:
    assert prometheus_config()["global"]["scrape_interval"] == "15s"
    targets = scrape_targets()
    assert targets.get("kpi:8004") == METRICS_PATH
    for name, port in SERVICES.items():
        assert targets.get(f"{name}:{port}") == METRICS_PATH, f"{name} not scraped at /metrics/"


def metrics_app(name: str, store: str) -> FastAPI:
    # Not started (no lifespan): nothing connects to Kafka; credentials are read from `store`.
    if name == "kpi":
        return create_kpi_app(KpiSettings(database_url=store))
    return create_ingest_app(name, IngestSettings(database_url=store))


@pytest.mark.parametrize("name", SERVICES)
async def test_the_apps_serve_metrics_on_the_scraped_path(
    name: str, access_url: str, credentials: Credentials
) -> None:
    """The scrape path is where prometheus_client's mounted ASGI app answers (no redirect),
    to a reader token only."""
    metric = "casetime_kpi_events_total" if name == "kpi" else "casetime_ingest_events_total"
    transport = httpx.ASGITransport(app=metrics_app(name, access_url))
    path = scrape_targets_by_service()[name]
    async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
        refused = await client.get(path)
        response = await client.get(path, headers=bearer(credentials.board))
    assert refused.status_code == 401
    assert response.status_code == 200
    assert metric in response.text


def test_promtool_accepts_the_prometheus_config(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool not installed (apt-get install prometheus)")
    # promtool checks that the token file exists: point it at one made here
    token = tmp_path / "prometheus_token"
    token.write_text("ct_rd_0123456789ab_" + "x" * 43)
    config = tmp_path / "prometheus.yml"
    # and at the repository's rules, so that it loads and checks them as Prometheus would
    text = PROMETHEUS.read_text().replace("/run/secrets/prometheus_token", str(token))
    config.write_text(text.replace("/etc/prometheus/rules", str(PROMETHEUS.parent / "rules")))
    result = subprocess.run(
        [promtool, "check", "config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    rules = sum(
        len(group["rules"])
        for path in (PROMETHEUS.parent / "rules").glob("*.rules.yml")
        for group in yaml.safe_load(path.read_text())["groups"]
    )
    assert f"SUCCESS: {rules} rules found" in result.stdout + result.stderr


# --- Grafana -----------------------------------------------------------------------------------


def test_grafana_provisions_prometheus_and_the_dashboards_folder() -> None:
    datasource_files = sorted((GRAFANA / "provisioning" / "datasources").glob("*.y*ml"))
    datasources = [
        ds for f in datasource_files for ds in yaml.safe_load(f.read_text())["datasources"]
    ]
    prometheus = [ds for ds in datasources if ds["type"] == "prometheus"]
    assert len(prometheus) == 1
    assert prometheus[0]["url"] == "http://prometheus:9090"

    provider_files = sorted((GRAFANA / "provisioning" / "dashboards").glob("*.y*ml"))
    providers = [p for f in provider_files for p in yaml.safe_load(f.read_text())["providers"]]
    assert [p["options"]["path"] for p in providers] == ["/var/lib/grafana/dashboards"]

    uids = {ds.get("uid") for ds in prometheus}
    dashboard_files = sorted((GRAFANA / "dashboards").glob("*.json"))
    assert dashboard_files
    for dashboard_file in dashboard_files:
        dashboard = json.loads(dashboard_file.read_text())
        for panel in dashboard.get("panels", []):
            for target in panel.get("targets", []):
                where = f"{dashboard_file.name}: {panel['title']}"
                assert target["datasource"]["uid"] in uids, where


def test_the_dockerfile_exposes_every_services_port() -> None:
    exposed = re.search(r"^EXPOSE (.+)$", DOCKERFILE.read_text(), re.MULTILINE)
    assert exposed is not None
    assert sorted(int(p) for p in exposed.group(1).split()) == sorted(SERVICES.values())


def test_run_sh_starts_every_service_on_its_port() -> None:
    declared = re.search(r"^declare -A PORTS=\((.+)\)$", RUN_SH.read_text(), re.MULTILINE)
    assert declared is not None
    ports = dict(re.findall(r"\[(\w+)\]=(\d+)", declared.group(1)))
    assert {name: int(port) for name, port in ports.items()} == SERVICES


def test_each_service_listens_on_its_port_by_default() -> None:
    from casetime.logs import default_port
    from kpi.settings import KpiSettings

    assert KpiSettings().port == SERVICES["kpi"]
    assert {name: default_port(name) for name in INGEST} == {n: SERVICES[n] for n in INGEST}


def test_the_kpi_service_writes_its_board_packs_into_a_volume_of_their_own() -> None:
    folder = environment("kpi")["CASETIME_PACK_FOLDER"]
    volumes = [str(v) for v in service("kpi")["volumes"]]
    mounted = {v.split(":")[1]: v.split(":")[0] for v in volumes}
    assert folder in mounted, volumes
    assert mounted[folder] in set(compose().get("volumes") or {})
    assert f"mkdir -p {folder}" in (ROOT / "deploy" / "Dockerfile").read_text()


def test_the_image_copies_every_workspace_members_project_file_before_its_first_sync() -> None:
    """`uv sync --frozen` in the image fails on a workspace member it cannot see."""
    import tomllib

    members = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["uv"]["workspace"]
    folders = sorted(
        str(p.parent.relative_to(ROOT))
        for pattern in members["members"]
        for p in ROOT.glob(f"{pattern}/pyproject.toml")
    )
    text = DOCKERFILE.read_text()
    first_sync = text.index("uv sync")
    for folder in folders:
        assert f"COPY {folder}/pyproject.toml {folder}/" in text[:first_sync], folder


def test_the_ssd_connector_runs_from_the_image_only_when_asked_for() -> None:
    connector = service("ssd-connector")
    assert connector.get("profiles") == ["ssd"]
    assert connector["command"][:3] == ["casetime", "connect", "ssd"]
    assert not published_ports("ssd-connector")

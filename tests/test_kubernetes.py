"""deploy/kubernetes/: the Kubernetes manifests of the docker-compose stack, checked offline.

Every manifest validates, strictly, against the schemas of a current Kubernetes release
(kubernetes-validate's bundled schemas, no cluster); the kustomize base lists exactly the
manifest files; the workloads mirror docker-compose.yml (the worker's command and environment,
the server's flags, the dashboard's command, PostgreSQL's init and healthcheck), and their
scripts are run here with stand-ins for the programs they start.
"""

from __future__ import annotations

import copy
import http.server
import json
import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import urlsplit

import kubernetes_validate
import pytest
import yaml
from kubernetes_validate.utils import Version

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy" / "kubernetes"
# The newest release kubernetes-validate ships schemas for (1.37 with the pinned 1.37.0).
KUBERNETES = kubernetes_validate.utils.latest_version()
WORKLOADS = ("Deployment", "StatefulSet", "Job")
PROJECT_IMAGE = "sweep"
# Environment a manifest adds beyond compose's: the namespace (for --allowed-hosts) and the
# data folder below the volume's mount point.
K8S_ONLY_ENV = {"mlflow": {"POD_NAMESPACE"}, "postgres": {"PGDATA"}}


def manifest_files() -> list[Path]:
    return sorted(p for p in DEPLOY.glob("*.yaml") if p.name != "kustomization.yaml")


def load_docs() -> list[tuple[str, dict]]:
    return [
        (path.name, doc)
        for path in manifest_files()
        for doc in yaml.safe_load_all(path.read_text())
        if doc is not None
    ]


DOCS = load_docs()


def find(kind: str, name: str) -> dict:
    [doc] = [d for _, d in DOCS if d["kind"] == kind and d["metadata"]["name"] == name]
    return doc


def pod(kind: str, name: str) -> dict:
    return find(kind, name)["spec"]["template"]["spec"]


def container(kind: str, name: str, which: str | None = None) -> dict:
    [found] = [c for c in pod(kind, name)["containers"] if c["name"] == (which or name)]
    return found


def workloads() -> list[dict]:
    return [d for _, d in DOCS if d["kind"] in WORKLOADS]


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


# --- compose's variable interpolation, for the comparisons ------------------------------------

VARIABLE = re.compile(r"\$\$|\$\{(\w+)(?:(:?[-?])([^}]*))?\}|\$(\w+)")


def interpolate(text: str, env: dict[str, str]) -> str:
    """`text` as Compose resolves it in `env`: ${X:-default}, ${X-default}, ${X:?error}, ${X},
    $X, and $$ for a literal $."""

    def resolve(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match.group(1) or match.group(4), match.group(2), match.group(3)
        value = env.get(name)
        if op == ":-":
            return value or arg
        if op == "-":
            return arg if value is None else value
        if op in (":?", "?") and (value is None or (op == ":?" and not value)):
            raise KeyError(f"{name}: {arg}")
        return value or ""

    return VARIABLE.sub(resolve, text)


def test_interpolation_reads_composes_forms():
    env = {"SET": "x", "EMPTY": ""}
    assert interpolate("${SET:-d} ${EMPTY:-d} ${EMPTY-d} ${NONE-d} ${SET} $SET $$SET", env) == (
        "x d  d x x $SET"
    )
    with pytest.raises(KeyError, match="EMPTY"):
        interpolate("${EMPTY:?set it}", env)


def configured() -> dict[str, str]:
    """The ConfigMap's and the Secret's values: what the manifests feed the containers."""
    return {
        **find("ConfigMap", "sweep-config")["data"],
        **find("Secret", "sweep-secrets")["stringData"],
    }


def k8s_env(spec: dict) -> dict[str, str | None]:
    """A container's environment by name: literal values, ConfigMap and Secret keys looked up
    in the manifests, None for the downward API."""
    maps = {d["metadata"]["name"]: d.get("data", {}) for _, d in DOCS if d["kind"] == "ConfigMap"}
    secrets = {d["metadata"]["name"]: d["stringData"] for _, d in DOCS if d["kind"] == "Secret"}
    env: dict[str, str | None] = {}
    for item in spec.get("env", []):
        source = item.get("valueFrom", {})
        if "value" in item:
            env[item["name"]] = item["value"]
        elif "configMapKeyRef" in source:
            ref = source["configMapKeyRef"]
            env[item["name"]] = maps[ref["name"]][ref["key"]]
        elif "secretKeyRef" in source:
            ref = source["secretKeyRef"]
            env[item["name"]] = secrets[ref["name"]][ref["key"]]
        else:
            assert set(source) == {"fieldRef"}, item
            env[item["name"]] = None
    assert len(env) == len(spec.get("env", [])), "an environment variable listed twice"
    return env


# --- the schemas ------------------------------------------------------------------------------


def test_the_kubernetes_release_is_a_current_one():
    assert Version(KUBERNETES) >= Version("1.37.0")


@pytest.mark.parametrize(
    "doc", [d for _, d in DOCS], ids=[f"{f}:{d['kind']}/{d['metadata']['name']}" for f, d in DOCS]
)
def test_every_manifest_validates_strictly(doc):
    kubernetes_validate.validate(doc, KUBERNETES, strict=True)


def test_strict_validation_rejects_what_kubernetes_would():
    job = find("Job", "worker")
    for path, value in [
        (("spec", "template", "spec", "containers", 0, "comand"), ["python"]),  # a typo
        (("spec", "parallelizm"), 2),
        (("spec", "backoffLimit"), "four"),
    ]:
        bad = copy.deepcopy(job)
        target = bad
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        with pytest.raises(kubernetes_validate.ValidationError):
            kubernetes_validate.validate(bad, KUBERNETES, strict=True)


def test_the_kustomization_lists_exactly_the_manifest_files():
    kustomization = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())
    resources = kustomization["resources"]
    assert len(resources) == len(set(resources))
    assert sorted(resources) == [p.name for p in manifest_files()]
    # The project's image, a placeholder to point at your registry.
    assert [i["name"] for i in kustomization["images"]] == [PROJECT_IMAGE]


def test_kustomize_renders_the_base_into_the_same_valid_objects():
    kubectl = shutil.which("kubectl")
    if not kubectl:
        pytest.skip("kubectl (with its built-in kustomize) is not installed")
    done = subprocess.run(
        [kubectl, "kustomize", str(DEPLOY)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    rendered = [d for d in yaml.safe_load_all(done.stdout) if d]
    names = sorted((d["kind"], d["metadata"]["name"]) for d in rendered)
    assert names == sorted((d["kind"], d["metadata"]["name"]) for _, d in DOCS)
    for doc in rendered:
        kubernetes_validate.validate(doc, KUBERNETES, strict=True)


# --- every workload ---------------------------------------------------------------------------

UNITS = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "": 1}


def quantity(text: str | int) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(m|Ki|Mi|Gi|)", str(text)).groups()
    return float(number) * UNITS[unit]


def all_containers(spec: dict) -> list[dict]:
    return spec.get("initContainers", []) + spec["containers"]


@pytest.mark.parametrize("doc", workloads(), ids=lambda d: f"{d['kind']}/{d['metadata']['name']}")
def test_every_workload_has_limits_probes_and_runs_as_non_root(doc):
    spec = doc["spec"]["template"]["spec"]
    assert spec["enableServiceLinks"] is False  # no MLFLOW_PORT=tcp://... from the Service
    assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    for c in all_containers(spec):
        for what in ("cpu", "memory"):
            request = quantity(c["resources"]["requests"][what])
            assert 0 < request <= quantity(c["resources"]["limits"][what]), (c["name"], what)
        context = {**spec["securityContext"], **c["securityContext"]}
        assert context["runAsNonRoot"] is True and context["runAsUser"] > 0, c["name"]
        assert context["allowPrivilegeEscalation"] is False, c["name"]
        assert context["readOnlyRootFilesystem"] is True, c["name"]
        assert context["capabilities"]["drop"] == ["ALL"], c["name"]
    volumes = {v["name"]: v for v in spec["volumes"]}
    for c in spec["containers"]:
        assert {"readinessProbe", "livenessProbe"} <= set(c), c["name"]
        # The read-only root's writable /tmp.
        [tmp] = [m for m in c["volumeMounts"] if m["mountPath"] == "/tmp"]
        assert "emptyDir" in volumes[tmp["name"]], c["name"]


def scripts() -> list[tuple[str, list[str]]]:
    """Every command, args and hook of every container, and the probes' commands."""
    found = []
    for doc in workloads():
        for c in all_containers(doc["spec"]["template"]["spec"]):
            where = f"{doc['metadata']['name']}/{c['name']}"
            found += [(where, c.get("command", [])), (where, c.get("args", []))]
            for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                found.append((where, c.get(probe, {}).get("exec", {}).get("command", [])))
            found.append((where, c.get("lifecycle", {}).get("preStop", {}).get("exec", {})
                          .get("command", [])))  # fmt: skip
            found += [(where, [e["value"]]) for e in c.get("env", []) if "value" in e]
    return found


def test_no_command_holds_what_kubernetes_would_rewrite():
    # Kubernetes expands $(NAME) in commands, args and env values and turns $$ into $: the
    # scripts use the shell's $NAME and ${NAME} only.
    for where, argv in scripts():
        for arg in argv:
            assert "$(" not in arg and "$$" not in arg, (where, arg)


def test_every_shell_script_parses_and_every_python_snippet_compiles():
    checked = 0
    for where, argv in scripts():
        for i, arg in enumerate(argv[:-1]):
            if argv[0] == "sh" and arg in ("-c", "-ec"):
                done = subprocess.run(["sh", "-n", "-c", argv[i + 1]], capture_output=True)
                assert done.returncode == 0, (where, done.stderr)
                checked += 1
            if argv[0] == "python" and arg == "-c":
                compile(argv[i + 1], where, "exec")
                checked += 1
    assert checked >= 10


def test_the_images_are_composes(compose):
    kustomization = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())
    [image] = kustomization["images"]
    for doc in workloads():
        for c in all_containers(doc["spec"]["template"]["spec"]):
            name = c["image"].split(":")[0]
            assert c["image"] in (f"{image['name']}:{image['newTag']}",
                                  compose["services"]["postgres"]["image"]), c["name"]  # fmt: skip
            assert c["imagePullPolicy"] == "IfNotPresent"
            if name == PROJECT_IMAGE:  # the image's own user (Dockerfile: uid 10001)
                spec = doc["spec"]["template"]["spec"]
                assert {**spec["securityContext"], **c["securityContext"]}["runAsUser"] == 10001
    for name in ("mlflow", "optuna-dashboard", "worker"):
        kind = "Job" if name == "worker" else "Deployment"
        assert container(kind, name)["image"].split(":")[0] == PROJECT_IMAGE


@pytest.mark.parametrize("name", ["postgres", "mlflow", "optuna-dashboard"])
def test_each_service_has_composes_name_and_reaches_its_pods_port(name):
    # The names compose's URIs use (postgres:5432, http://mlflow:5000) resolve the same here.
    service = find("Service", name)
    kind = "StatefulSet" if name == "postgres" else "Deployment"
    workload = find(kind, name)
    labels = workload["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    assert workload["spec"]["selector"]["matchLabels"].items() <= labels.items()
    ports = {p["name"]: p["containerPort"] for p in container(kind, name)["ports"]}
    [port] = service["spec"]["ports"]
    assert ports[port["targetPort"]] == port["port"]


# --- the mirror of compose's services ---------------------------------------------------------


@pytest.mark.parametrize(
    ("service", "kind", "name"),
    [
        ("worker", "Job", "worker"),
        ("mlflow", "Deployment", "mlflow"),
        ("optuna-dashboard", "Deployment", "optuna-dashboard"),
        ("postgres", "StatefulSet", "postgres"),
    ],
)
def test_the_environment_is_composes_with_the_same_values(compose, service, kind, name):
    """The same names, and each value what compose makes of `.env` holding the Secret's and the
    ConfigMap's values; so the URIs in the Secret name the users, databases and passwords that
    PostgreSQL's init creates."""
    wanted = {
        key: interpolate(str(value), configured())
        for key, value in compose["services"][service]["environment"].items()
    }
    env = k8s_env(container(kind, name))
    assert set(env) - K8S_ONLY_ENV.get(service, set()) == set(wanted)
    assert {k: v for k, v in env.items() if k in wanted} == wanted


def test_the_worker_runs_composes_command(compose):
    worker = compose["services"]["worker"]
    assert "entrypoint" not in worker  # the image has none either: command is the whole argv
    argv = shlex.split(interpolate(worker["command"], {}))
    assert argv == ["python", "-m", "sweep", "+experiment=lr_grid"]
    spec = container("Job", "worker")
    assert spec["command"] + spec["args"] == argv


def test_the_worker_environment_names_are_composes(compose):
    names = {e["name"] for e in container("Job", "worker")["env"]}
    assert names == set(compose["services"]["worker"]["environment"])
    assert names == {
        "MLFLOW_TRACKING_URI",
        "MLFLOW_TRACKING_USERNAME",
        "MLFLOW_TRACKING_PASSWORD",
        "SWEEP_STORAGE",
    }
    env = k8s_env(container("Job", "worker"))
    assert env["MLFLOW_TRACKING_URI"] == "http://mlflow:5000"
    assert urlsplit(env["SWEEP_STORAGE"]).hostname == "postgres"


def seconds(text: str) -> int:
    return int(re.fullmatch(r"(\d+)s", text).group(1))


def test_the_worker_job_runs_n_workers_that_stop_like_composes(compose):
    job = find("Job", "worker")["spec"]
    # Indexed with completions == parallelism: both patched together scale a running Job.
    assert job["completionMode"] == "Indexed"
    assert job["parallelism"] == job["completions"] == 2
    assert job["backoffLimit"] >= 1
    spec = job["template"]["spec"]
    assert spec["restartPolicy"] == "Never"  # compose: restart "no"
    worker = compose["services"]["worker"]
    assert spec["terminationGracePeriodSeconds"] == seconds(worker["stop_grace_period"])
    assert worker["stop_signal"] == "SIGINT"
    stop = container("Job", "worker")["lifecycle"]["preStop"]["exec"]["command"]
    assert stop[:2] == ["sh", "-c"] and stop[2].startswith("kill -INT 1;")
    context = {**spec["securityContext"], **container("Job", "worker")["securityContext"]}
    assert context["runAsNonRoot"] is True and context["runAsUser"] == 10001
    assert context["allowPrivilegeEscalation"] is False and context["readOnlyRootFilesystem"]
    limits = container("Job", "worker")["resources"]["limits"]
    assert quantity(limits["memory"]) >= 2**31  # a 10,000-trial search peaked at 1.6 GB
    assert container("Job", "worker")["livenessProbe"]["exec"]["command"] == [
        "sh", "-c", "kill -0 1",
    ]  # fmt: skip
    # Writable: Hydra's outputs/ and the spool under the working directory, HOME.
    mounts = {m["mountPath"]: m["name"] for m in container("Job", "worker")["volumeMounts"]}
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert {"/work", "/tmp", "/home/sweep"} <= set(mounts)
    assert all("emptyDir" in volumes[mounts[p]] for p in ("/work", "/tmp", "/home/sweep"))


def test_the_workers_wait_for_postgres_and_mlflow(compose):
    assert set(compose["services"]["worker"]["depends_on"]) == {"postgres", "mlflow"}
    init = {c["name"]: c for c in pod("Job", "worker")["initContainers"]}
    assert list(init) == ["wait-for-postgres", "wait-for-mlflow"]
    assert "pg_isready -h postgres -p 5432 -U postgres" in init["wait-for-postgres"]["command"][2]
    assert "MLFLOW_TRACKING_URI" in k8s_env(init["wait-for-mlflow"])
    for name in ("mlflow", "optuna-dashboard"):  # compose: both depend on postgres
        [wait] = pod("Deployment", name)["initContainers"]
        assert wait["command"] == init["wait-for-postgres"]["command"]


class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/health" else 404)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def test_the_workers_mlflow_checks_pass_on_a_healthy_server_only():
    init = {c["name"]: c for c in pod("Job", "worker")["initContainers"]}
    wait = init["wait-for-mlflow"]["command"]
    ready = container("Job", "worker")["readinessProbe"]["exec"]["command"]
    assert wait[:2] == ready[:2] == ["python", "-c"]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    up = f"http://127.0.0.1:{server.server_port}/"
    try:
        for code in (wait[2], ready[2]):
            env = {**os.environ, "MLFLOW_TRACKING_URI": up}
            done = subprocess.run([sys.executable, "-c", code], env=env, timeout=30)
            assert done.returncode == 0
    finally:
        server.shutdown()
        server.server_close()
    env = {**os.environ, "MLFLOW_TRACKING_URI": up}  # now closed: not ready, still waiting
    assert subprocess.run([sys.executable, "-c", ready[2]], env=env, timeout=30,
                          capture_output=True).returncode != 0  # fmt: skip
    with pytest.raises(subprocess.TimeoutExpired):
        subprocess.run([sys.executable, "-c", wait[2]], env=env, timeout=3, capture_output=True)


# --- the Secret -------------------------------------------------------------------------------

SECRETISH = re.compile(r"PASSWORD|SECRET|TOKEN|KEY")


def known_values(compose_text: str) -> set[str]:
    """Values that must not be the template's: compose's defaults for secret-named variables
    and `.env.example`'s values (its change-me passwords)."""
    found = {
        default
        for name, _, default in re.findall(r"\$\{(\w+):?(-)([^}]*)\}", compose_text)
        if SECRETISH.search(name) and default
    }
    for line in (ROOT / ".env.example").read_text().splitlines():
        name, sep, value = line.lstrip("# ").partition("=")
        if sep and SECRETISH.search(name) and value:
            found.add(value)
    return found


def test_the_secret_holds_placeholders_only():
    secret = find("Secret", "sweep-secrets")
    assert "data" not in secret  # base64 would hide what is in it
    values = secret["stringData"]
    known = known_values((ROOT / "docker-compose.yml").read_text())
    assert "change-me-postgres" in known  # the rule reads .env.example
    for key, value in values.items():
        assert "CHANGE_ME" in value, key
        assert value not in known, key
        if "://" in value:  # a URI: its password is one of the template's placeholders
            password = urlsplit(value).password
            assert password and password.startswith("CHANGE_ME") and password in values.values()
    assert {"POSTGRES_PASSWORD", "MLFLOW_DB_PASSWORD", "OPTUNA_DB_PASSWORD"} <= set(values)
    assert {"MLFLOW_BACKEND_STORE_URI", "OPTUNA_STORAGE_URI"} <= set(values)
    # Every key is used, and every secretKeyRef names one.
    used = {
        e["valueFrom"]["secretKeyRef"]["key"]
        for doc in workloads()
        for c in all_containers(doc["spec"]["template"]["spec"])
        for e in c.get("env", [])
        if "secretKeyRef" in e.get("valueFrom", {})
    }
    assert used == set(values)


def stub(folder: Path, name: str) -> Path:
    """A program `name` on PATH that writes its argv as JSON to $ARGV_FILE."""
    path = folder / name
    path.write_text(
        f"#!{sys.executable}\nimport json, os, sys\n"
        "open(os.environ['ARGV_FILE'], 'w').write(json.dumps(sys.argv[1:]))\n"
    )
    path.chmod(0o755)
    return path


def run_script(script: str, env: dict[str, str], tmp_path: Path) -> tuple[int, str, list | None]:
    argv_file = tmp_path / "argv.json"
    argv_file.unlink(missing_ok=True)
    done = subprocess.run(
        ["sh", "-ec", script],
        env={"PATH": f"{tmp_path}:/usr/bin:/bin", "ARGV_FILE": str(argv_file), **env},
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    argv = json.loads(argv_file.read_text()) if argv_file.exists() else None
    return done.returncode, done.stderr, argv


def test_postgres_refuses_to_start_with_the_templates_passwords(tmp_path):
    stub(tmp_path, "docker-entrypoint.sh")
    [shell, flag, script] = container("StatefulSet", "postgres")["command"]
    assert (shell, flag) == ("sh", "-ec")
    placeholders = {k: v for k, v in configured().items() if k.endswith("PASSWORD")}
    code, stderr, argv = run_script(script, placeholders, tmp_path)
    assert code != 0 and "CHANGE_ME" in stderr and argv is None
    real = {k: f"pw-{i}" for i, k in enumerate(placeholders)}
    code, stderr, argv = run_script(script, real, tmp_path)
    assert (code, argv) == (0, ["postgres"]), stderr  # the image's entrypoint and command


# --- PostgreSQL -------------------------------------------------------------------------------


def test_postgres_keeps_its_data_on_a_claim_and_creates_both_databases(compose):
    statefulset = find("StatefulSet", "postgres")["spec"]
    [claim] = statefulset["volumeClaimTemplates"]
    mounts = {
        m["name"]: m["mountPath"] for m in container("StatefulSet", "postgres")["volumeMounts"]
    }
    # compose's `source:target[:ro]` volumes, by target.
    composes = dict(v.split(":")[1::-1] for v in compose["services"]["postgres"]["volumes"])
    assert mounts[claim["metadata"]["name"]] == "/var/lib/postgresql/data"
    assert composes["/var/lib/postgresql/data"] == "pgdata" == claim["metadata"]["name"]
    env = k8s_env(container("StatefulSet", "postgres"))
    assert env["PGDATA"].startswith("/var/lib/postgresql/data/")  # a fresh volume's lost+found
    # The init: docker/postgres-init.sh itself, executable, where the image runs it.
    [init_target] = [t for t in composes if t.startswith("/docker-entrypoint-initdb.d/")]
    init = find("ConfigMap", "postgres-init")["data"]
    assert init == {Path(init_target).name: (ROOT / "docker" / "postgres-init.sh").read_text()}
    volumes = {v["name"]: v for v in pod("StatefulSet", "postgres")["volumes"]}
    [(name, volume)] = [(n, v) for n, v in volumes.items() if "configMap" in v]
    assert mounts[name] == "/docker-entrypoint-initdb.d"
    assert volume["configMap"]["name"] == "postgres-init"
    assert volume["configMap"]["defaultMode"] & stat.S_IXUSR
    # The image's own user, able to write its volumes.
    context = pod("StatefulSet", "postgres")["securityContext"]
    assert context["runAsUser"] == context["fsGroup"] == 999
    assert container("StatefulSet", "postgres")["image"] == compose["services"]["postgres"]["image"]


def test_postgres_probes_are_composes_healthcheck(compose):
    test = compose["services"]["postgres"]["healthcheck"]["test"]
    assert test[0] == "CMD-SHELL"
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        check = container("StatefulSet", "postgres")[probe]["exec"]["command"]
        assert check == shlex.split(test[1])


# --- the MLflow server ------------------------------------------------------------------------


def options(argv: list[str]) -> dict[str, str | bool]:
    """`--flag value` and bare `--flag` pairs of an argv."""
    found: dict[str, str | bool] = {}
    for i, arg in enumerate(argv):
        if arg.startswith("--"):
            following = argv[i + 1] if i + 1 < len(argv) else "--"
            found[arg] = True if following.startswith("--") else following
    return found


def composes_server_argv(compose: dict) -> list[str]:
    script = compose["services"]["mlflow"]["command"][2].replace("$$", "$").replace("\\\n", " ")
    [line] = [line for line in script.splitlines() if line.strip().startswith("exec mlflow")]
    return [arg for arg in shlex.split(line)[1:] if arg != "$@"]


@pytest.fixture
def server(tmp_path):
    """Run the server's script with a stand-in `mlflow`: (env) -> (code, stderr, argv)."""
    stub(tmp_path, "mlflow")
    [shell, flag, script] = container("Deployment", "mlflow")["command"]
    assert (shell, flag) == ("sh", "-ec")
    assert "/tmp/mlflow-auth.ini" in script  # on the /tmp emptyDir (read-only root)
    script = script.replace("/tmp/mlflow-auth.ini", str(tmp_path / "auth.ini"))
    base = {k: v for k, v in k8s_env(container("Deployment", "mlflow")).items() if v is not None}

    def run(**env: str) -> tuple[int, str, list | None]:
        return run_script(script, {**base, "POD_NAMESPACE": "team-a", **env}, tmp_path)

    return run


def test_the_server_runs_with_composes_flags_and_allows_the_services_names(compose, server):
    code, stderr, argv = server()
    assert code == 0, stderr
    assert argv[0] == "server"
    ours, composes = options(argv), options(composes_server_argv(compose)[1:])
    assert {k: v for k, v in ours.items() if k in composes and k != "--allowed-hosts"} == {
        k: v for k, v in composes.items() if k != "--allowed-hosts"
    }
    assert ours["--workers"] == "1" and ours["--serve-artifacts"] is True
    allowed = ours["--allowed-hosts"].split(",")
    assert set(composes["--allowed-hosts"].split(",")) <= set(allowed)
    service = find("Service", "mlflow")["metadata"]["name"]
    port = find("Service", "mlflow")["spec"]["ports"][0]["port"]
    assert ours["--port"] == str(port) == "5000"
    for host in (service, f"{service}.team-a", f"{service}.team-a.svc",
                 f"{service}.team-a.svc.cluster.local"):  # fmt: skip
        assert host in allowed and f"{host}:*" in allowed
    # The artifacts go to the claim.
    mounts = {m["mountPath"]: m["name"] for m in container("Deployment", "mlflow")["volumeMounts"]}
    volumes = {v["name"]: v for v in pod("Deployment", "mlflow")["volumes"]}
    claim = volumes[mounts[ours["--artifacts-destination"]]]["persistentVolumeClaim"]["claimName"]
    assert find("PersistentVolumeClaim", claim)["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert find("Deployment", "mlflow")["spec"]["strategy"]["type"] == "Recreate"
    assert find("Deployment", "mlflow")["spec"]["replicas"] == 1


def test_the_server_runs_basic_auth_only_with_real_secrets(server, tmp_path):
    code, stderr, argv = server(MLFLOW_APP_NAME="basic-auth")  # the template's placeholders
    assert code != 0 and "CHANGE_ME" in stderr and argv is None
    code, stderr, argv = server(MLFLOW_APP_NAME="basic-auth", MLFLOW_FLASK_SERVER_SECRET_KEY="",
                                MLFLOW_AUTH_ADMIN_PASSWORD="a")  # fmt: skip
    assert code != 0 and "MLFLOW_FLASK_SERVER_SECRET_KEY" in stderr and argv is None
    code, stderr, argv = server(MLFLOW_APP_NAME="basic-auth", MLFLOW_FLASK_SERVER_SECRET_KEY="k1",
                                MLFLOW_AUTH_ADMIN_PASSWORD="a1")  # fmt: skip
    assert code == 0, stderr
    assert argv[-2:] == ["--app-name", "basic-auth"]
    config = tmp_path / "auth.ini"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600  # it holds the database password
    uri = k8s_env(container("Deployment", "mlflow"))["MLFLOW_BACKEND_STORE_URI"]
    assert f"database_uri = {uri}\n" in config.read_text()


def test_the_server_probes_are_composes_healthcheck(compose):
    test = compose["services"]["mlflow"]["healthcheck"]["test"]
    assert "http://localhost:5000/health" in test[-1]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        check = container("Deployment", "mlflow")[probe]["httpGet"]
        assert (check["path"], check["port"]) == ("/health", "http")


# --- optuna-dashboard -------------------------------------------------------------------------


def test_the_dashboard_runs_composes_command_and_healthcheck(compose):
    service = compose["services"]["optuna-dashboard"]
    # Compose's $$ is the shell's $, as written here.
    expected = [*service["command"][:2], service["command"][2].replace("$$", "$")]
    assert container("Deployment", "optuna-dashboard")["command"] == expected
    url = re.search(r"http://localhost:(\d+)(/[\w/]+)", service["healthcheck"]["test"][-1])
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        check = container("Deployment", "optuna-dashboard")[probe]["httpGet"]
        assert check["path"] == url.group(2)
    ports = container("Deployment", "optuna-dashboard")["ports"]
    assert [p["containerPort"] for p in ports] == [int(url.group(1))]


def test_the_readme_names_every_manifest_and_says_it_was_not_run_on_a_cluster():
    text = (DEPLOY / "README.md").read_text()
    listed = set(re.findall(r"^\| `([\w.-]+\.yaml)` \|", text, re.M))
    assert listed == {p.name for p in manifest_files()}
    assert "**Not run on a cluster.**" in text
    assert f"Kubernetes {'.'.join(KUBERNETES.split('.')[:2])}" in text

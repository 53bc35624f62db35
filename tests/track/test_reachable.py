"""A tracking server that does not answer, or that refuses the sweep's credentials, is one
line naming the server (and the HTTP status) before anything is created; a setup MLflow's own
client accepts (its credentials file, its TLS settings) passes."""

from __future__ import annotations

import datetime
import ipaddress
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from serve_mlflow import start
from sweep.core.config import ConfigError
from sweep.track.reachable import Unreachable, check_reachable

from conftest import client_for, free_port, run_sweep

ADMIN = {"MLFLOW_TRACKING_USERNAME": "admin", "MLFLOW_TRACKING_PASSWORD": "admin-pw-123456"}
SECRETS = {"MLFLOW_AUTH_ADMIN_PASSWORD": ADMIN["MLFLOW_TRACKING_PASSWORD"],
           "MLFLOW_FLASK_SERVER_SECRET_KEY": "test-only-secret"}  # fmt: skip
# Everything MLflow's client reads to authenticate or to trust a server: the tests set their own.
MLFLOW_SETTINGS = (
    "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN",
    "MLFLOW_TRACKING_AUTH", "MLFLOW_TRACKING_AWS_SIGV4", "MLFLOW_TRACKING_INSECURE_TLS",
    "MLFLOW_TRACKING_SERVER_CERT_PATH", "MLFLOW_TRACKING_CLIENT_CERT_PATH",
)  # fmt: skip


def refused(uri: str, status: int = 401) -> str:
    return (
        f"tracking.uri: MLflow at {uri} refused this sweep's credentials (HTTP {status}); set "
        "MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD"
    )


def write_credentials(home, username: str, password: str) -> None:
    """MLflow's own credentials file (mlflow.utils.credentials): INI, section [mlflow]."""
    (home / ".mlflow").mkdir(exist_ok=True)
    (home / ".mlflow" / "credentials").write_text(
        f"[mlflow]\nmlflow_tracking_username = {username}\nmlflow_tracking_password = {password}\n"
    )


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    """A HOME of the test's own (the real ~/.mlflow/credentials stays out of it, and untouched),
    and none of MLflow's settings from the environment: each test sets what it means to."""
    for key in MLFLOW_SETTINGS:
        monkeypatch.delenv(key, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    return home


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory):
    """A real MLflow server with basic auth (scripts/serve_mlflow.py), user admin."""
    port = free_port()
    server = start(tmp_path_factory.mktemp("auth"), port, env=SECRETS, app_name="basic-auth")
    yield f"http://127.0.0.1:{port}"
    server.terminate()
    server.wait(30)


def test_basic_auth_lets_the_right_credentials_in_and_refuses_the_wrong_ones(
    tmp_path, monkeypatch, auth_server
):
    uri = auth_server
    common = ("+experiment=lecture", "train.epochs=20", f"tracking.uri={uri}")
    for env in ({}, {**ADMIN, "MLFLOW_TRACKING_PASSWORD": "wrong-password-1"}):
        done = run_sweep(*common, cwd=tmp_path, env=env)
        assert done.returncode == 2
        assert done.stderr.splitlines() == [f"error: {refused(uri)}"]
    for key, value in ADMIN.items():
        monkeypatch.setenv(key, value)
    assert client_for(uri).get_experiment_by_name("lecture") is None  # nothing created
    done = run_sweep(*common, cwd=tmp_path, env=ADMIN)
    assert done.returncode == 0, done.stderr
    [run] = client_for(uri).search_runs(
        [client_for(uri).get_experiment_by_name("lecture").experiment_id]
    )
    assert run.info.status == "FINISHED" and run.data.params["train.epochs"] == "20"


def test_credentials_in_mlflows_own_file_let_a_sweep_in(tmp_path, home, auth_server):
    uri = auth_server  # no credentials in the URI, none in the environment
    with pytest.raises(ConfigError) as error:
        check_reachable(uri)
    assert str(error.value) == refused(uri)
    write_credentials(home, "admin", ADMIN["MLFLOW_TRACKING_PASSWORD"])
    check_reachable(uri)
    # The whole sweep with that file alone: the check and MLflow's client agree.
    done = run_sweep("train.epochs=20", f"tracking.uri={uri}", "tracking.experiment=file-creds",
                     cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    client = client_for(uri)
    [run] = client.search_runs([client.get_experiment_by_name("file-creds").experiment_id])
    assert run.info.status == "FINISHED" and run.data.params["train.epochs"] == "20"


def test_wrong_credentials_in_the_file_are_one_line_naming_the_401(
    tmp_path, home, monkeypatch, auth_server
):
    uri = auth_server
    write_credentials(home, "admin", "wrong-password-2")
    with pytest.raises(ConfigError) as error:
        check_reachable(uri)
    assert str(error.value) == refused(uri)
    done = run_sweep("train.epochs=20", f"tracking.uri={uri}", "tracking.experiment=file-wrong",
                     cwd=tmp_path)  # fmt: skip
    assert (done.returncode, done.stderr.splitlines()) == (2, [f"error: {refused(uri)}"])
    assert "wrong-password-2" not in done.stderr + done.stdout
    # MLflow's order: its variables before its file.
    for key, value in ADMIN.items():
        monkeypatch.setenv(key, value)
    check_reachable(uri)
    assert client_for(uri).get_experiment_by_name("file-wrong") is None  # nothing created


def test_credentials_in_the_uri_are_sent_and_never_shown(auth_server):
    port = auth_server.rpartition(":")[2]
    check_reachable(f"http://admin:{ADMIN['MLFLOW_TRACKING_PASSWORD']}@127.0.0.1:{port}")
    with pytest.raises(ConfigError) as error:
        check_reachable(f"http://admin:wrong-password-3@127.0.0.1:{port}")
    assert str(error.value) == refused(f"http://admin:***@127.0.0.1:{port}")


def self_signed(directory) -> tuple:
    """A certificate for 127.0.0.1 and its key, written to `directory`."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    localhost = ipaddress.ip_address("127.0.0.1")
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(localhost)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))  # fmt: skip
    return cert_path, key_path


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory):
    """A real MLflow server with basic auth that speaks only TLS, under a self-signed
    certificate: (uri, certificate file)."""
    workdir = tmp_path_factory.mktemp("tls")
    cert, key = self_signed(workdir)
    port = free_port()
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", **SECRETS}
    with open(workdir / "mlflow-server.log", "ab") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
             "--workers", "1", "--backend-store-uri", f"sqlite:///{workdir / 'mlflow.db'}",
             "--artifacts-destination", str(workdir / "artifacts"), "--app-name", "basic-auth",
             "--uvicorn-opts", f"--ssl-keyfile {key} --ssl-certfile {cert} "
             "--timeout-graceful-shutdown 3"],  # the tests' pooled connections stay open
            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=workdir,
        )  # fmt: skip
    uri, trust = f"https://127.0.0.1:{port}", ssl.create_default_context(cafile=str(cert))
    deadline = time.monotonic() + 120
    while True:
        assert server.poll() is None, (workdir / "mlflow-server.log").read_text()
        try:
            with urllib.request.urlopen(f"{uri}/health", timeout=2, context=trust):
                break
        except OSError:
            assert time.monotonic() < deadline, "the TLS server did not become healthy"
            time.sleep(0.3)
    yield uri, cert
    server.terminate()
    server.wait(30)


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_over_tls_the_check_trusts_what_mlflow_trusts(home, monkeypatch, tls_server):
    uri, cert = tls_server
    write_credentials(home, "admin", ADMIN["MLFLOW_TRACKING_PASSWORD"])
    with pytest.raises(Unreachable) as error:  # a self-signed certificate nobody said to trust
        check_reachable(uri)
    assert str(error.value).startswith(
        f"tracking.uri: cannot reach MLflow at {uri} ([SSL: CERTIFICATE_VERIFY_FAILED] "
        "certificate verify failed: self-signed certificate"
    )
    for setting, value in (("MLFLOW_TRACKING_SERVER_CERT_PATH", str(cert)),
                           ("MLFLOW_TRACKING_INSECURE_TLS", "true")):  # fmt: skip
        monkeypatch.setenv(setting, value)
        check_reachable(uri)
        assert client_for(uri).get_experiment_by_name("Default").experiment_id == "0"
        write_credentials(home, "admin", "wrong-password-4")
        with pytest.raises(ConfigError) as error:
            check_reachable(uri)
        assert str(error.value) == refused(uri)
        write_credentials(home, "admin", ADMIN["MLFLOW_TRACKING_PASSWORD"])
        monkeypatch.delenv(setting)


def test_a_host_that_does_not_answer_is_one_line_without_the_password():
    for uri in ("http://127.0.0.1:9", "https://127.0.0.1:9", "https://u:hunter2@127.0.0.1:9"):
        with pytest.raises(Unreachable) as error:  # the spool's cue, later in a sweep
            check_reachable(uri, timeout=2)
        shown = uri.replace("hunter2", "***")
        assert str(error.value) == (
            f"tracking.uri: cannot reach MLflow at {shown} ([Errno 111] Connection refused)"
        )


class _Unavailable(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(503)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_a_server_that_answers_badly_is_one_line():
    http = ThreadingHTTPServer(("127.0.0.1", 0), _Unavailable)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    talker = socket.create_server(("127.0.0.1", 0))  # answers, but not in HTTP

    def talk():
        while True:
            connection, _ = talker.accept()
            with connection:
                connection.recv(65536)  # the request, all read: closing sends no reset
                connection.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")

    threading.Thread(target=talk, daemon=True).start()
    try:
        uri = f"http://127.0.0.1:{http.server_address[1]}"
        with pytest.raises(Unreachable) as error:
            check_reachable(uri)
        assert str(error.value) == f"tracking.uri: cannot reach MLflow at {uri} (HTTP 503)"
        uri = f"http://127.0.0.1:{talker.getsockname()[1]}"
        with pytest.raises(Unreachable) as error:
            check_reachable(uri)
        assert str(error.value) == (
            f"tracking.uri: cannot reach MLflow at {uri} "
            "(no HTTP answer: BadStatusLine('SSH-2.0-OpenSSH_9.2\\r\\n'))"
        )
    finally:
        http.shutdown()
        talker.close()

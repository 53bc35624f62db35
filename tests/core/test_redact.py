"""Passwords never leave the process: a URI's password is replaced by `***` in text, in config
trees, in what the process writes to stdout and stderr, and in a Hydra job's log and saved
configs. The credentials here are deliberately fake."""

from __future__ import annotations

import io
import subprocess
import sys
import textwrap

import pytest

from sweep.core.redact import guard_streams, redact


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("postgresql+psycopg://sweep:hunter2@db:5432/optuna",
         "postgresql+psycopg://sweep:***@db:5432/optuna"),
        ("http://someone:pw-s3cret-4242@127.0.0.1:5000", "http://someone:***@127.0.0.1:5000"),
        ("mysql://u:a:b%40c@h/x", "mysql://u:***@h/x"),  # a colon, a quoted @
        ("postgresql://db/optuna?user=u&password=hunter2&sslmode=require",
         "postgresql://db/optuna?user=u&password=***&sslmode=require"),
        ("postgresql://db/optuna?PASSWORD=hunter2", "postgresql://db/optuna?PASSWORD=***"),
        ("error: cannot open mysql://u:pw1@h/x (refused); also http://a:pw2@b",
         "error: cannot open mysql://u:***@h/x (refused); also http://a:***@b"),
    ],
)  # fmt: skip
def test_a_uris_password_is_replaced(text, expected):
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "sqlite:////tmp/optuna.db",
        "http://127.0.0.1:5000/#/experiments/1",
        "http://someone@mlflow:5000",  # a user, no password
        "someone:secret@host",  # no scheme: not a URI
        "postgresql://db/optuna?user=u&sslmode=require",
        "ratio 3:2 @ noon",
    ],
)
def test_text_without_a_uri_password_is_left_alone(text):
    assert redact(text) == text


def run_python(code: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=cwd,
                          capture_output=True, text=True, timeout=60)  # fmt: skip


def test_guarded_streams_carry_no_password_in_prints_logs_warnings_or_tracebacks(tmp_path):
    done = run_python(
        """
        import logging, sys, warnings
        from sweep.core.redact import guard_streams
        guard_streams()
        print("tracking at http://someone:hunter2@mlflow:5000")
        sys.stderr.write("storage postgresql+psycopg://sweep:hunter2@db/optuna\\n")
        logging.basicConfig(format="%(levelname)s %(message)s")
        logging.getLogger("lib").warning("connecting to %s", "mysql://u:hunter2@h/x")
        warnings.warn("retrying http://a:hunter2@b")
        raise RuntimeError("cannot open postgresql://u:hunter2@h/db?password=hunter2")
        """,
        tmp_path,
    )
    assert done.returncode == 1
    assert done.stdout == "tracking at http://someone:***@mlflow:5000\n"
    err = done.stderr.splitlines()
    assert err[:2] == ["storage postgresql+psycopg://sweep:***@db/optuna",
                       "WARNING connecting to mysql://u:***@h/x"]  # fmt: skip
    assert err[2].endswith("UserWarning: retrying http://a:***@b")
    assert err[-1] == "RuntimeError: cannot open postgresql://u:***@h/db?password=***"
    assert "Traceback (most recent call last):" in err
    assert "hunter2" not in done.stdout + done.stderr


def test_a_guarded_stream_reports_the_callers_length_and_passes_the_rest_through(monkeypatch):
    out, err = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", err)
    guard_streams()
    guard_streams()  # the sender process guards again: still one layer
    text = "uri http://a:longpassword@b\n"
    assert sys.stdout.write(text) == len(text)
    sys.stderr.write("plain\n")
    assert (out.getvalue(), err.getvalue()) == ("uri http://a:***@b\n", "plain\n")
    assert sys.stdout.getvalue() == out.getvalue()  # StringIO's own method, through the guard
    assert sys.stdout.stream is out and sys.stderr.stream is err


JOB = """
import logging, pathlib, sys
from sweep.core.redact import guard_job
out = pathlib.Path(sys.argv[1])
logging.basicConfig(filename=out / "sweep.log", format="%(name)s %(message)s")
guard_job(out, sys.argv[2] or None)
logging.getLogger("sweep.job").warning("storage %s", "postgresql://sweep:hunter2@db/optuna")
"""


def job_dir(tmp_path):
    hydra = tmp_path / ".hydra"
    hydra.mkdir()
    files = {
        "config.yaml": "sweep:\n  storage: postgresql+psycopg://sweep:hunter2@db/optuna\n",
        "overrides.yaml": "- tracking.uri=http://someone:hunter2@mlflow:5000\n- seed=1\n",
        "hydra.yaml": "hydra:\n  job:\n    name: sweep\n",
    }
    for name, text in files.items():
        (hydra / name).write_text(text)
    return hydra


def test_the_job_guard_redacts_the_jobs_log_and_the_configs_hydra_saved(tmp_path):
    hydra = job_dir(tmp_path)
    done = subprocess.run([sys.executable, "-c", JOB, str(tmp_path), ".hydra"],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (
        tmp_path / "sweep.log"
    ).read_text() == "sweep.job storage postgresql://sweep:***@db/optuna\n"
    assert {p.name: p.read_text() for p in hydra.iterdir()} == {
        "config.yaml": "sweep:\n  storage: postgresql+psycopg://sweep:***@db/optuna\n",
        "overrides.yaml": "- tracking.uri=http://someone:***@mlflow:5000\n- seed=1\n",
        "hydra.yaml": "hydra:\n  job:\n    name: sweep\n",
    }


def test_without_saved_configs_the_job_guard_still_redacts_the_log(tmp_path):
    hydra = job_dir(tmp_path)
    before = {p.name: p.read_text() for p in hydra.iterdir()}
    done = subprocess.run([sys.executable, "-c", JOB, str(tmp_path), ""],  # output_subdir: null
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (
        tmp_path / "sweep.log"
    ).read_text() == "sweep.job storage postgresql://sweep:***@db/optuna\n"
    assert {p.name: p.read_text() for p in hydra.iterdir()} == before

"""Bad input: one line on stderr naming the key or file, exit 2, nothing in the store."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig

import pytest

from conftest import ROOT, run_sweep, runs_of

BAD = [
    (["optimizer.lr=-1"], "optimizer.lr: must be a number > 0"),
    (["optimizer.lr=abc"], "optimizer.lr: Value 'abc'"),
    (["train.epochs=0"], "train.epochs: must be an integer in [1, 1000000]"),
    (["normalization=bogus"], "normalization: unknown option 'bogus'; allowed: minmax, none"),
    (["train.val_fraction=1.5"], "train.val_fraction: must be a number in [0, 1)"),
    (["data=csv", "data.path=missing.csv"], "data.path: no such file 'missing.csv'"),
    (["data=csv", "data.path=bad.csv", "data.x=nope"], "data.x: 'bad.csv' has no column 'nope'"),
    (["data=csv", "data.path=bad.csv", "data.y=word"], "data.y: 'bad.csv' column 'word' is not"),
    (["data=csv", "data.path=bad.csv", "data.y=gap"], "data.y: 'bad.csv' column 'gap' holds NaN"),
    (["data=csv", "data.path=one.csv"], "data.path: 'one.csv' has 1 rows; at least 2"),
    (
        ["tracking.uri=http://127.0.0.1:9"],
        "tracking.uri: cannot reach MLflow at http://127.0.0.1:9",
    ),
    (["optimizer.momentum=0.5"], "optimizer.momentum: unknown key; allowed: lr"),
    (["optimizer=sgd", "optimizer.momentum=1.5"], "optimizer.momentum: must be a number in"),
    (["data=csv"], "data.path: a value is required"),
    (
        ["sweep.heartbeat_interval=5", "sweep.grace_period=8"],
        "sweep.grace_period: must be at least 2 x sweep.heartbeat_interval = 10 (got 8)",
    ),
    (
        ["+experiment=lr_grid", "sweep.storage=mysql://u:hunter2@127.0.0.1/x"],
        "sweep.storage: 'mysql' is not supported",
    ),
    (["+experiment=lr_grid", "sweep.max_retries=0"], "sweep.max_retries: must be an integer >= 1"),
    (["+experiment=lr_grid", "sweep.metric=val_loss"], "sweep.metric: val_loss needs a validation"),
    (["+experiment=lr_grid", "sweep.metric=acc"], "sweep.metric: unknown metric 'acc'; allowed"),
    (
        ["data=csv", "data.path=const.csv", "normalization=standard"],
        "normalization: 'standard' divides by the spread of 'const.csv' column 't_u', which is "
        "constant; allowed here: none, scale",
    ),
    (  # seed 8 holds out the one reading that differs
        [
            "data=csv",
            "data.path=split.csv",
            "normalization=minmax",
            "train.val_fraction=0.1",
            "train.seed=8",
        ],
        "normalization: 'minmax' divides by the spread of 'split.csv' column 't_u', which is "
        "constant in the training split; allowed here: none, scale",
    ),
    (  # a sweep over all four normalizations: refused before its parent run exists
        ["+experiment=lr_grid", "data=csv", "data.path=const.csv"],
        "normalization: 'minmax' divides by the spread of 'const.csv' column 't_u'",
    ),
]


@pytest.fixture
def workdir(tmp_path):
    (tmp_path / "bad.csv").write_text("t_u,t_c,word,gap\n1,2,a,3\n2,3,b,\n3,4,c,5\n")
    (tmp_path / "one.csv").write_text("t_u,t_c\n1,2\n")
    (tmp_path / "const.csv").write_text("t_u,t_c\n" + "5,1\n" * 4)
    (tmp_path / "split.csv").write_text("t_u,t_c\n" + "2,1\n" * 9 + "9,3\n")
    return tmp_path


@pytest.mark.parametrize(("overrides", "message"), BAD, ids=[" ".join(o) for o, _ in BAD])
def test_bad_input_is_one_line_and_leaves_nothing(workdir, mlflow_server, overrides, message):
    uri = [] if any(o.startswith("tracking.uri") for o in overrides) else [
        f"tracking.uri={mlflow_server}"]  # fmt: skip
    done = run_sweep(*overrides, *uri, "tracking.experiment=bad-input", cwd=workdir)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [done.stderr.strip()], done.stderr
    assert done.stderr.startswith(f"error: {message}"), done.stderr
    assert "Traceback" not in done.stderr
    assert runs_of(mlflow_server, "bad-input") == []


def test_full_error_shows_the_traceback(workdir):
    done = run_sweep("train.epochs=0", cwd=workdir, env={"HYDRA_FULL_ERROR": "1"})
    assert done.returncode != 0
    assert "Traceback" in done.stderr and "ConfigError" in done.stderr


def test_help_is_hydras(workdir):
    done = run_sweep("--help", cwd=workdir)
    assert done.returncode == 0
    assert "normalization: minmax, none, scale, standard" in done.stdout


def test_a_plain_install_runs_the_lecture_from_any_directory(tmp_path):
    """`pip install .` (not editable), as an image build does: the configs ship with the
    package. The new venv borrows this one's dependencies through a path file (a directory
    named in a .pth file is not a site dir, so this venv's editable sweep stays out)."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    [site] = list(venv.glob("lib/python*/site-packages"))
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    python = venv / "bin" / "python"
    installed = subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "--no-deps", str(ROOT)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stderr
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "PYTHONPATH")}
    done = subprocess.run([python, "-m", "sweep", "+experiment=lecture"], cwd=elsewhere, env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[9] == "Epoch 5000, Loss 2.927647"
    assert "params [5.3671, -17.3012]" in done.stdout
    found = subprocess.run([python, "-c", "import sweep; print(sweep.__file__)"], cwd=elsewhere,
                           capture_output=True, text=True, env=env)  # fmt: skip
    assert found.stdout.startswith(str(site)), found.stdout

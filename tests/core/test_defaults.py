"""The libraries' process-wide settings are the entry points' business: importing any module
of the package changes no environment variable, log level or warning filter; the entry
points' defaults leave what a user set alone."""

from __future__ import annotations

import os
import subprocess
import sys

from conftest import ROOT

PROBE = """
import os, pkgutil, warnings
import mlflow, optuna, pandas, torch  # the libraries' own import-time filters are theirs
import sweep
before = (dict(os.environ), list(warnings.filters), optuna.logging.get_verbosity())
names = [m.name for m in pkgutil.walk_packages(sweep.__path__, "sweep.") if not m.ispkg]
names = [n for n in names if n != "sweep.__main__"]  # the entry point runs when imported
for name in names:
    __import__(name)
assert (dict(os.environ), list(warnings.filters), optuna.logging.get_verbosity()) == before
print(len(names))
"""


def bare_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "GIT_PYTHON"))}
    return env | extra


def test_importing_any_module_of_the_package_changes_nothing_for_the_program():
    done = subprocess.run([sys.executable, "-c", PROBE], env=bare_env(), capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    package = ROOT / "src" / "sweep"
    modules = [p for p in package.rglob("*.py") if (p.parent / "__init__.py").is_file()
               and p.name not in ("__main__.py", "__init__.py")]  # fmt: skip
    assert int(done.stdout) == len(modules) == 50


def test_the_entry_points_defaults_keep_what_the_user_set():
    probe = (
        "import os, optuna, warnings\n"
        "from sweep.core.defaults import mlflow_defaults, optuna_defaults\n"
        "mlflow_defaults(); optuna_defaults()\n"
        "print(os.environ['MLFLOW_DISABLE_TELEMETRY'], os.environ['GIT_PYTHON_REFRESH'],\n"
        "      os.environ['MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT'],\n"
        "      optuna.logging.get_verbosity() == optuna.logging.WARNING)\n"
    )
    env = bare_env(MLFLOW_DISABLE_TELEMETRY="false")
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["false", "quiet", "true", "True"]

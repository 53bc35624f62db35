"""The package's shape: the import-linter contracts in pyproject.toml hold, break on a
back-import or a heavy import on the wrong side (also inside a function), and private APIs of
Optuna and MLflow are used in their fences only."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

PACKAGE = ROOT / "src" / "sweep"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
CONTRACTS = {
    "cycle": "No import cycle among the package's modules",
    "layers": "Layers: entry points on top",
    "trainer": "The trainer knows nothing of MLflow or Optuna",
    "tracker": "The tracker knows nothing of torch",
    "sender": "The sender's process (what it runs and unpickles) imports no Optuna",
    "fences": "The fences on Optuna's and MLflow's private parts are private to their wing",
}
FENCES = {"_optuna.py", "_mlflow.py"}
# Undocumented parts that carry no underscore: importing these modules is private use too.
PRIVATE_MODULES = ("mlflow.store", "mlflow.protos", "optuna.storages._")
PUBLIC_UNDERSCORED = {"_replace", "_exit", "_asdict", "_fields"}  # namedtuple's and os's


def lint(package: Path) -> tuple[int, dict[str, str]]:
    """lint-imports on a copy of the package at `package`: exit code, each contract's verdict."""
    done = subprocess.run(
        [str(LINT_IMPORTS), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=package.parent, env={"PYTHONPATH": str(package.parent), "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    text = " ".join(done.stdout.split())  # long names wrap
    return done.returncode, {k: _verdict(text, name) for k, name in CONTRACTS.items()}


def _verdict(text: str, name: str) -> str:
    """The verdict printed after the contract's name in the summary."""
    after = text[text.index(name) :]
    kept, broken = after.find(" KEPT"), after.find(" BROKEN")
    return "KEPT" if kept != -1 and (broken == -1 or kept < broken) else "BROKEN"


@pytest.fixture
def copy(tmp_path) -> Path:
    shutil.copytree(PACKAGE, tmp_path / "sweep", ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path / "sweep"


def add_lazy_import(module: Path, statement: str) -> None:
    module.write_text(module.read_text() + f"\n\ndef _added():\n    {statement}\n")


def test_the_package_keeps_every_contract(copy):
    assert lint(copy) == (0, dict.fromkeys(CONTRACTS, "KEPT"))


def test_a_back_import_inside_a_function_breaks_the_cycle_and_layer_contracts(copy):
    add_lazy_import(copy / "core" / "trials.py", "from sweep.app.dispatch import run  # noqa")
    code, verdicts = lint(copy)
    assert code == 1
    # trials sits below every wing, so through app all now reach MLflow, Optuna and torch.
    assert verdicts == {**dict.fromkeys(CONTRACTS, "BROKEN"), "fences": "KEPT"}


def test_one_wing_importing_another_breaks_the_layer_contract(copy):
    add_lazy_import(copy / "study" / "space.py", "from sweep.track.table import table  # noqa")
    assert lint(copy) == (1, {**dict.fromkeys(CONTRACTS, "KEPT"), "layers": "BROKEN"})


def test_a_fence_used_from_another_wing_breaks_the_fence_contract(copy):
    add_lazy_import(copy / "app" / "sweeper.py", "from sweep.study._optuna import claim  # noqa")
    assert lint(copy) == (1, {**dict.fromkeys(CONTRACTS, "KEPT"), "fences": "BROKEN"})


def test_torch_on_the_tracking_side_breaks_the_tracker_contract(copy):
    add_lazy_import(copy / "track" / "tracker.py", "import torch  # noqa")
    assert lint(copy) == (1, {**dict.fromkeys(CONTRACTS, "KEPT"), "tracker": "BROKEN"})


def test_optuna_in_the_trainer_breaks_the_trainer_contract(copy):
    add_lazy_import(copy / "train" / "bookkeeping.py", "import optuna  # noqa")
    assert lint(copy) == (1, {**dict.fromkeys(CONTRACTS, "KEPT"), "trainer": "BROKEN"})


def test_optuna_where_the_sender_runs_breaks_the_sender_contract(copy):
    # The sender unpickles calls of records' functions: importing Optuna there would load it
    # into the sender's process too, which then competes with the training for the CPU.
    add_lazy_import(copy / "track" / "records.py", "import optuna  # noqa")
    assert lint(copy) == (1, {**dict.fromkeys(CONTRACTS, "KEPT"), "sender": "BROKEN"})


def private_uses(package: Path) -> list[str]:
    """`module:line: code` for each private name of another object, and each import of an
    undocumented module, outside the fences."""
    found = []
    for path in sorted(package.rglob("*.py")):
        if path.name in FENCES:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute):
                name, owner = node.attr, node.value
                own = isinstance(owner, ast.Name) and owner.id in ("self", "cls")
                private = name.startswith("_") and not name.startswith("__")
                if private and not own and name not in PUBLIC_UNDERSCORED:
                    found.append(f"{path.name}:{node.lineno}: {ast.unparse(node)}")
            modules = []
            if isinstance(node, ast.ImportFrom) and node.module:
                modules = [node.module]
            elif isinstance(node, ast.Import):
                modules = [a.name for a in node.names]
            found += [f"{path.name}:{node.lineno}: import {m}" for m in modules
                      if m.startswith(PRIVATE_MODULES)]  # fmt: skip
    return found


def test_private_apis_are_used_in_the_fences_only(copy):
    assert private_uses(PACKAGE) == []
    (copy / "study" / "claims.py").write_text(
        (copy / "study" / "claims.py").read_text()
        + "\n\ndef _added(study):\n    from mlflow.store.tracking import rest_store\n"
        + "    return study._storage, rest_store\n"
    )
    found = [use.split(": ", 1)[1] for use in private_uses(copy)]
    assert sorted(found) == ["import mlflow.store.tracking", "study._storage"]

"""The README's layout section is the folder listing: one line per module of the package, in
its folder, and no line for a module that is not there."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def listed() -> set[str]:
    text = (ROOT / "README.md").read_text()
    block = text.split("## Layout", 1)[1].split("```", 2)[1]
    found, folder = set(), None
    for line in block.splitlines():
        match = re.match(r"^( *)(\S+)", line)
        if not match:
            continue
        indent, name = len(match.group(1)), match.group(2)
        if indent == 2 and name.endswith("/"):
            folder = name.rstrip("/")
        elif indent == 2 and name.endswith(".py"):
            found.add(name)
        elif indent == 4 and name.endswith(".py") and folder:
            found.add(f"{folder}/{name}")
    return found


def test_the_readme_lists_every_module_and_only_those():
    package = ROOT / "src" / "sweep"
    modules = {str(p.relative_to(package)) for p in package.glob("*.py")}
    modules |= {str(p.relative_to(package)) for p in package.glob("*/*.py")}
    modules = {m for m in modules if not m.endswith("__init__.py") and not m.startswith("models/")}
    assert listed() == modules

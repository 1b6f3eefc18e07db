"""The house's shape: the import contracts of pyproject.toml hold (make lint runs them too), no
import hides in a function to dodge a cycle, no source file grows past 800 lines and no importer
function past 80."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import grassroots

SRC = Path(grassroots.__file__).resolve().parent
ROOT = SRC.parents[1]
MAX_LINES = 800

# The imports that may sit in a function, each for a reason other than a cycle.
ALLOWED_IN_FUNCTIONS = {
    # The entry point names the settings module before Django is imported.
    ("__main__.py", "django.core.management"),
    ("__main__.py", "grassroots.audit.context"),
    # The child process reading an .xlsx file stays standard library only; xlrd for .xls.
    ("core/xlsx.py", "xlrd"),
}


def sources() -> list[Path]:
    return [p for p in sorted(SRC.rglob("*.py")) if "migrations" not in p.parts]


def imports(path: Path) -> list[tuple[str, str | None]]:
    """(module imported, the function it is imported in or None) of a source file;
    TYPE_CHECKING blocks left out."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[tuple[str, str | None]] = []

    def visit(node: ast.AST, function: str | None) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            return
        if isinstance(node, ast.Import):
            found.extend((alias.name, function) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            dots = "." * node.level
            if node.module:
                found.append((dots + node.module, function))
            else:  # from . import notify
                found.extend((dots + alias.name, function) for alias in node.names)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            function = function or node.name
        for child in ast.iter_child_nodes(node):
            visit(child, function)

    visit(tree, None)
    return found


def test_the_import_contracts_are_kept() -> None:
    # In a process of its own: import-linter configures logging, which would silence this one.
    lint = Path(sys.executable).parent / "lint-imports"
    assert (ROOT / "pyproject.toml").exists()  # where the contracts are
    done = subprocess.run(
        [str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "4 kept, 0 broken" in done.stdout


def test_no_import_hides_in_a_function() -> None:
    """An app registers its periodic work and hooks in AppConfig.ready(), Django's place for
    it; any other import in a function would be a cycle held apart."""
    hidden = [
        (name, module)
        for path in sources()
        if (name := str(path.relative_to(SRC))).rpartition("/")[2] != "apps.py"
        for module, function in imports(path)
        if function is not None and (name, module) not in ALLOWED_IN_FUNCTIONS
    ]
    assert hidden == []


def test_the_apps_ready_methods_only_register() -> None:
    for path in SRC.glob("*/apps.py"):
        for module, function in imports(path):
            assert function in (None, "ready"), (path, module)


def test_no_source_file_is_over_800_lines() -> None:
    long = {
        str(p.relative_to(SRC)): n
        for p in sources()
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}


def test_no_importer_function_is_over_80_lines() -> None:
    """The import pipeline and the row validators plugged into it stay small."""
    importers = [p for p in sources() if p.stem.startswith("imports")]
    assert {p.parent.name for p in importers} >= {"core", "territory", "registry", "cases"}
    long = [
        (str(path.relative_to(SRC)), node.name, node.end_lineno - node.lineno + 1)
        for path in importers
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno is not None
        and node.end_lineno - node.lineno + 1 > 80
    ]
    assert long == []


def test_the_ancestors_and_the_common_ancestor_of_codes() -> None:
    from grassroots.core.scoping import ancestors, common_ancestor

    assert ancestors("350426100001001") == [
        "350426100001001",
        "350426100001",
        "350426100",
        "350426",
        "3504",
        "35",
    ]
    assert ancestors("350426100001001", longest=12)[0] == "350426100001"
    assert common_ancestor(["350426100001001", "350426100002001"]) == "350426100"
    assert common_ancestor(["350426100001", "350426100001"]) == "350426100001"
    assert common_ancestor(["350426100001001"], longest=12) == "350426100001"
    assert common_ancestor(["350426", "360101"]) == ""
    assert common_ancestor([]) == ""

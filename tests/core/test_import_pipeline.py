"""The import pipeline's own rules: multi-value cells, problems by feature, and its place below
every app (core imports none of them; the apps register their kinds)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from grassroots.core.imports import Problem, split_values

CORE = Path(__file__).resolve().parents[2] / "src" / "grassroots" / "core"


@pytest.mark.parametrize(
    ("cell", "values"),
    [
        ("低保、独居老人", ["低保", "独居老人"]),
        ("低保;独居老人；党员", ["低保", "独居老人", "党员"]),
        ("低保, 独居老人，党员", ["低保", "独居老人", "党员"]),
        (" 低保 ;; ", ["低保"]),
        ("", []),
    ],
)
def test_it_splits_a_multi_value_cell_by_any_separator(cell, values):
    assert split_values(cell) == values


def test_it_names_a_row_or_a_feature():
    assert (
        str(Problem(3, "身份证号", "duplicate of row 2")) == "row 3: 身份证号: duplicate of row 2"
    )
    assert str(Problem(2, "grid 350426100001001 (一网格)", "name is empty", where="feature")) == (
        "grid 350426100001001 (一网格) [feature 2]: name is empty"
    )


@pytest.mark.parametrize(
    "module",
    ["imports.py", "imports_command.py", "tables.py", "xlsx.py", "management/commands/import.py"],
)
def test_the_pipeline_imports_no_app_above_core(module):
    tree = ast.parse((CORE / module).read_text(encoding="utf-8"))
    names = [
        node.module or ""
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.level == 0
    ] + [
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    ]
    above = [
        n for n in names if n.startswith("grassroots.") and not n.startswith("grassroots.core")
    ]
    assert above == []

"""Every bench/ script still runs its imports: each module imports, and every name it imports
from the project exists, also inside functions (those run only when the bench does)."""

import ast
import importlib
import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
PROJECT_PACKAGES = {"annotator", "backend", "tests", "worker"}
SCRIPTS = sorted(BENCH.glob("*.py"))


def test_there_are_bench_scripts():
    assert {"api.py", "export.py", "ingest_core.py", "pacs.py"} <= {p.name for p in SCRIPTS}


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.name)
def test_bench_module_imports(path):
    spec = importlib.util.spec_from_file_location(f"bench_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.name)
def test_every_project_name_a_bench_imports_exists(path):
    missing = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.ImportFrom) or node.level or not node.module:
            continue
        if node.module.split(".")[0] not in PROJECT_PACKAGES:
            continue
        module = importlib.import_module(node.module)
        for alias in node.names:
            if not hasattr(module, alias.name) and (
                importlib.util.find_spec(f"{node.module}.{alias.name}") is None
            ):
                missing.append(f"line {node.lineno}: {node.module}.{alias.name}")
    assert missing == []

"""Every bench/ script still runs its imports: each module imports, and every name it imports
from the project exists, also inside functions (those run only when the bench does). The
strategy simulation serves what the worklist would, and its quick setting runs."""

import ast
import importlib
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from annotator.selectors.strategies import STRATEGIES
from worker.ml.data import sample_from_masks

BENCH = Path(__file__).resolve().parents[1] / "bench"
PROJECT_PACKAGES = {"annotator", "backend", "tests", "worker"}
# the scripts; a module named _* is what they share (bench/_django.py), imported, not run
SCRIPTS = sorted(p for p in BENCH.glob("*.py") if not p.name.startswith("_"))


def _bench_module(name):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # as an import would (dataclasses look their module up)
    sys.path.insert(0, str(BENCH))  # as running it would: its own folder first
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(BENCH))
    return module


def test_there_are_bench_scripts():
    assert {"api.py", "export.py", "ingest_core.py", "pacs.py"} <= {p.name for p in SCRIPTS}


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.name)
def test_bench_module_imports(path):
    _bench_module(path.stem)


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


def test_the_strategy_simulation_serves_what_the_worklist_would():
    """bench/next_strategies.py picks the first images not done in the strategy's order."""
    bench = _bench_module("next_strategies")
    pool = [
        sample_from_masks(np.zeros((8, 8)), np.zeros((0, 8, 8)), np.zeros(0), image_id)
        for image_id in range(1, 7)
    ]
    scores = {1: 0.2, 2: 0.9, 3: 0.5, 4: 0.95, 5: 0.9}

    def served(name, done, batch=3):
        return bench._served(STRATEGIES[name], pool, done, scores, seed="s", batch=batch)

    assert served("-uncertainty", {4}) == [2, 5, 3]
    assert served("unlabelled_first", {1, 3}) == [2, 4, 5]
    shuffled = served("random", set(), batch=6)
    assert sorted(shuffled) == [1, 2, 3, 4, 5, 6]
    assert served("random", {shuffled[0]}) == shuffled[1:4]


@pytest.mark.slow
def test_the_strategy_simulation_quick_run_prints_its_table():
    """The ``--quick`` setting end to end (one to four minutes by load): one row per strategy,
    k=4 and 8."""
    run = subprocess.run(
        [sys.executable, str(BENCH / "next_strategies.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    table = run.stdout[run.stdout.index("test segm AP50 after k") :]
    assert re.search(r"^strategy\s+k=4\s+k=8$", table, re.MULTILINE)
    for title in ("Random", "First unlabelled", "Most uncertain first"):
        assert re.search(rf"^{title}\s+\d\.\d{{3}}\s+\d\.\d{{3}}$", table, re.MULTILINE)
    assert "command: .venv/bin/python bench/next_strategies.py --quick" in run.stdout

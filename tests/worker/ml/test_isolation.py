from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ML = Path(__file__).resolve().parents[3] / "worker" / "ml"


def test_ml_package_never_imports_django():
    modules = sorted(p.stem for p in ML.glob("*.py") if p.stem != "__init__")
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module('worker.ml.' + m)\n"
        "bad = sorted(m for m in sys.modules\n"
        "             if m == 'django' or m.startswith(('django.', 'annotator', 'backend')))\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ML.parents[1], timeout=120)


def test_ml_sources_do_not_mention_django_imports():
    for path in ML.glob("*.py"):
        text = path.read_text()
        assert "import django" not in text and "from django" not in text, path.name

"""dciodvfy (Debian's dicom3tools), the DICOM validator the tests hold files to."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.processes import require_tool


def dciodvfy_errors(path: Path) -> list[str]:
    """The ``Error`` lines dciodvfy reports for the file at ``path``."""
    require_tool(
        "dciodvfy (Debian package dicom3tools) is not installed"
        if shutil.which("dciodvfy") is None
        else None
    )
    run = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, timeout=60)
    return [line for line in (run.stdout + run.stderr).splitlines() if line.startswith("Error")]

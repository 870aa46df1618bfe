"""The browser's random-edit reload test at bench length: many more seeded steps than CI's 200.

Runs ``tests/test_browser.py`` (the seeded stack, Chromium) with only the worklist test (it picks
the images) and the random-edit test, which replays seeded sequences of strokes, erases, boxes,
accepts, rejects, deletes, class changes, clicks, moves, undo and redo at a person's speed
around the autosave, then reloads and requires the server to hold what the screen showed, pixel
for pixel, with no conflict panel. Prints the outcome, the time and the command.

    .venv/bin/python bench/browser_random_edits.py --steps 1000 --seed 20261202
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=20261202)
    args = parser.parse_args()
    env = {
        **os.environ,
        "DATABASE_URL": os.environ.get(
            "DATABASE_URL", "postgres://postgres@127.0.0.1:5432/radlabel_bench"
        ),
        "RADLABEL_E2E_GREP": "log in|random edit",
        "RADLABEL_E2E_RANDOM_STEPS": str(args.steps),
        "RADLABEL_E2E_SEED": str(args.seed),
        "RADLABEL_E2E_TIMEOUT_S": str(max(900, args.steps * 6)),
    }
    trace = ROOT / "test-artifacts" / "browser" / "random-edits-trace.json"
    trace.unlink(missing_ok=True)
    started = time.monotonic()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "tests/test_browser.py",
            "-q",
            "-s",
            "-p",
            "no:cacheprovider",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    seconds = time.monotonic() - started
    report = result.stdout.split("--- npm run", 1)[-1].splitlines()[1:]
    lines = [line for line in report if line.startswith(("ok ", "FAIL ", "     "))]
    print("\n".join(lines[:40]))
    print(f"{'passed' if result.returncode == 0 else 'FAILED'} in {seconds:.0f} s")
    if result.returncode and trace.exists():
        print(f"steps, writes and both states of the failing image: {trace.relative_to(ROOT)}")
    print(
        "command: .venv/bin/python bench/browser_random_edits.py "
        f"--steps {args.steps} --seed {args.seed}"
    )
    return result.returncode


if __name__ == "__main__":
    raise SystemExit(main())

"""The DICOM ingest fuzz at nightly size: seeded mutations of real files through ingest.

Every input must be refused with a 4xx code or stored whole, with nothing raised and no file
without its row (or row without its file). CI runs 500 mutants of each of the 4 source files
(``tests/annotator/services/test_ingest_fuzz.py``); this runs as many as you ask for, on a
throwaway SQLite database and media folder (or on ``DATABASE_URL``'s, which it migrates), and
exits non-zero when an input breaks the rule.

    .venv/bin/python bench/ingest_fuzz.py --per-source 5000 --seed 49
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
from pathlib import Path

from _django import django_setup


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-source", type=int, default=5000, help="mutants of each file")
    parser.add_argument("--seed", type=int, default=49)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="radlabel-fuzz-"))
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{work / 'fuzz.sqlite3'}")
    os.environ["RADLABEL_MEDIA_ROOT"] = str(work / "media")
    django_setup(migrate=True)
    from annotator.models import Project
    from tests.dicom_mutations import SOURCES, fuzz_ingest, mutants, partial_rows_and_files

    logging.disable(logging.ERROR)  # the decoders' complaints about broken inputs; counted below
    project = Project.objects.create(slug=f"fuzz-{args.seed}", name="Ingest fuzz")
    started = time.monotonic()
    report = fuzz_ingest(project, mutants(args.per_source, seed=args.seed))
    seconds = time.monotonic() - started
    partial = partial_rows_and_files(work / "media")

    print(f"inputs {report.inputs} ({args.per_source} mutants of each of {len(SOURCES)} files)")
    print("outcomes " + ", ".join(f"{k} {v}" for k, v in sorted(report.outcomes.items())))
    print("refusal codes " + ", ".join(f"{k} {v}" for k, v in report.codes.most_common()))
    print(f"violations {len(report.violations)}, partial rows or files {len(partial)}")
    for problem in [*report.violations, *partial][:20]:
        print(f"  {problem}")
    print(f"{seconds:.0f} s, {report.inputs / seconds:.0f} inputs/s")
    print(
        "command: .venv/bin/python bench/ingest_fuzz.py "
        f"--per-source {args.per_source} --seed {args.seed}"
    )
    return 1 if report.violations or partial else 0


if __name__ == "__main__":
    raise SystemExit(main())

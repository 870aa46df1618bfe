"""Seeded mutations of real DICOM files, and what ingesting them must leave behind (security
case 49): every input refused with a 4xx code or stored whole; no file without its row, no row
without its file. The CI test runs a few thousand; ``bench/ingest_fuzz.py`` runs more."""

from __future__ import annotations

import os
import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from annotator.models import Image, Instance, Project
from annotator.services import studies
from tests.dicom_files import data_store, pydicom_test_file

SOURCES = {
    "CT_small.dcm": lambda: pydicom_test_file("CT_small.dcm"),
    "MR_small.dcm": lambda: pydicom_test_file("MR_small.dcm"),
    "emri_small_RLE.dcm": lambda: pydicom_test_file("emri_small_RLE.dcm"),
    "693_J2KR.dcm": lambda: data_store("693_J2KR.dcm"),
}


def _flip(rng: random.Random, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        out[rng.randrange(len(out))] = rng.randrange(256)
    return bytes(out)


def _flip_header(rng: random.Random, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        out[rng.randrange(128, min(len(out), 2048))] = rng.randrange(256)
    return bytes(out)


def _truncate(rng: random.Random, data: bytes) -> bytes:
    return data[: rng.randrange(132, len(data))]


def _huge_length(rng: random.Random, data: bytes) -> bytes:
    at = rng.randrange(132, min(len(data), 4096) - 4)
    value = rng.choice([0xFFFFFFF0, 0x7FFFFFFF, 0x00010000, 0xFFFFFFFF])
    return data[:at] + value.to_bytes(4, "little") + data[at + 4 :]


def _insert(rng: random.Random, data: bytes) -> bytes:
    at = rng.randrange(132, len(data))
    return data[:at] + rng.randbytes(rng.randint(1, 64)) + data[at:]


MUTATIONS = (_flip, _flip_header, _truncate, _huge_length, _insert)


def mutants(per_source: int, seed: int = 49) -> Iterator[tuple[str, bytes]]:
    """``per_source`` mutants of each source file, the mutations taken in turn."""
    rng = random.Random(seed)
    for name, path in SOURCES.items():
        data = path().read_bytes()
        for number in range(per_source):
            mutate = MUTATIONS[number % len(MUTATIONS)]
            yield f"{name}:{mutate.__name__}:{number}", mutate(rng, data)


@dataclass
class FuzzReport:
    outcomes: Counter = field(default_factory=Counter)  # stored / already_stored / refused
    codes: Counter = field(default_factory=Counter)  # refusal code -> count
    violations: list[str] = field(default_factory=list)

    @property
    def inputs(self) -> int:
        return sum(self.outcomes.values())


def fuzz_ingest(project: Project, inputs: Iterator[tuple[str, bytes]]) -> FuzzReport:
    """Ingest every input into ``project``; each one that is neither refused with a 4xx code
    and a refusal code nor stored with its images is a violation."""
    report = FuzzReport()
    for label, data in inputs:
        try:
            outcome = studies.instance_ingest(project=project, name=label, data=data)
            if outcome.code == "stored":  # and what the cpu task does after the upload
                studies.image_previews_render(image_ids=outcome.image_ids)
        except Exception as exc:  # noqa: BLE001 - a crash is what the fuzz looks for
            report.violations.append(f"{label}: raised {type(exc).__name__}: {exc}")
            continue
        if outcome.ok:
            report.outcomes["stored" if outcome.code == "stored" else "already_stored"] += 1
            if not outcome.image_ids:
                report.violations.append(f"{label}: stored without an image")
        elif 400 <= outcome.status < 500 and outcome.code:
            report.outcomes["refused"] += 1
            report.codes[outcome.code] += 1
        else:
            report.violations.append(f"{label}: answered {outcome.status} {outcome.code}")
    return report


def partial_rows_and_files(media_root: Path) -> list[str]:
    """Files without their row and rows without their file, after a fuzz."""
    files = {
        os.path.relpath(os.path.join(folder, name), media_root)
        for folder, _, names in os.walk(media_root)
        for name in names
    }
    rows = set(Instance.objects.values_list("file", flat=True)) | set(
        Image.objects.exclude(preview="").values_list("preview", flat=True)
    )
    problems = [f"file without a row: {name}" for name in sorted(files - rows)]
    problems += [f"row without a file: {name}" for name in sorted(rows - files)]
    if Image.objects.filter(preview="").exists():
        problems.append("an image without its preview")
    if Image.objects.filter(instance__isnull=True).exists():
        problems.append("an image without its instance")
    return problems

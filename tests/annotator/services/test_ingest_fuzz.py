"""Seeded mutations of real DICOM files through ingest (security case 49, bounded for CI):
every input is refused with a 4xx code or stored whole; nothing raises, nothing is partial."""

import os
import random

import pytest

from annotator.models import Image, Instance
from annotator.services import studies
from tests import factories
from tests.dicom_files import data_store, pydicom_test_file

SOURCES = {
    "CT_small.dcm": pydicom_test_file("CT_small.dcm").read_bytes(),
    "MR_small.dcm": pydicom_test_file("MR_small.dcm").read_bytes(),
    "emri_small_RLE.dcm": pydicom_test_file("emri_small_RLE.dcm").read_bytes(),
    "693_J2KR.dcm": data_store("693_J2KR.dcm").read_bytes(),
}
MUTANTS_PER_SOURCE = 500


def _flip(rng, data):
    data = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        data[rng.randrange(len(data))] = rng.randrange(256)
    return bytes(data)


def _flip_header(rng, data):
    data = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        data[rng.randrange(128, min(len(data), 2048))] = rng.randrange(256)
    return bytes(data)


def _truncate(rng, data):
    return data[: rng.randrange(132, len(data))]


def _huge_length(rng, data):
    at = rng.randrange(132, min(len(data), 4096) - 4)
    value = rng.choice([0xFFFFFFF0, 0x7FFFFFFF, 0x00010000, 0xFFFFFFFF])
    return data[:at] + value.to_bytes(4, "little") + data[at + 4 :]


def _insert(rng, data):
    at = rng.randrange(132, len(data))
    return data[:at] + rng.randbytes(rng.randint(1, 64)) + data[at:]


MUTATIONS = (_flip, _flip_header, _truncate, _huge_length, _insert)


def _mutants():
    rng = random.Random(49)
    for name, data in SOURCES.items():
        for number in range(MUTANTS_PER_SOURCE):
            mutate = MUTATIONS[number % len(MUTATIONS)]
            yield f"{name}:{mutate.__name__}:{number}", mutate(rng, data)


def _stored_files(media_root):
    return {
        os.path.relpath(os.path.join(folder, name), media_root)
        for folder, _, names in os.walk(media_root)
        for name in names
    }


@pytest.mark.slow
def test_mutated_files_are_refused_with_a_4xx_or_stored_whole(db, media_root):
    project = factories.ProjectFactory(slug="fuzz")
    counts = {"stored": 0, "already_stored": 0, "refused": 0}
    codes = set()
    for label, data in _mutants():
        outcome = studies.instance_ingest(project=project, name=label, data=data)
        assert outcome.status < 500, (label, outcome)
        if outcome.ok:
            counts["stored" if outcome.code == "stored" else "already_stored"] += 1
            assert outcome.image_ids, label
        else:
            assert 400 <= outcome.status < 500 and outcome.code, (label, outcome)
            counts["refused"] += 1
            codes.add(outcome.code)
    assert sum(counts.values()) == len(SOURCES) * MUTANTS_PER_SOURCE
    assert counts["refused"] > 0 and counts["stored"] > 0, counts
    assert len(codes) >= 4, codes

    files = _stored_files(media_root)
    instances = list(Instance.objects.values_list("file", flat=True))
    previews = list(Image.objects.values_list("preview", flat=True))
    assert set(instances) | set(previews) == files, "no file without its row, no row without it"
    assert Image.objects.filter(instance__isnull=True).count() == 0

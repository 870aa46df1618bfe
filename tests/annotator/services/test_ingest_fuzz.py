"""Seeded mutations of real DICOM files through ingest (security case 49, bounded for CI):
every input is refused with a 4xx code or stored whole; nothing raises, nothing is partial."""

import pytest

from tests import factories
from tests.dicom_mutations import SOURCES, fuzz_ingest, mutants, partial_rows_and_files

MUTANTS_PER_SOURCE = 500


@pytest.mark.slow
def test_mutated_files_are_refused_with_a_4xx_or_stored_whole(db, media_root):
    project = factories.ProjectFactory(slug="fuzz")
    report = fuzz_ingest(project, mutants(MUTANTS_PER_SOURCE))
    assert report.violations == []
    assert report.inputs == len(SOURCES) * MUTANTS_PER_SOURCE
    assert report.outcomes["refused"] > 0 and report.outcomes["stored"] > 0, report.outcomes
    assert len(report.codes) >= 4, report.codes
    assert partial_rows_and_files(media_root) == []

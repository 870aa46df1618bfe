"""Patients and studies of a project; a study's series carry their image counts."""

from annotator.models import Split
from annotator.selectors.studies import patient_list, study_list, study_with_series
from tests import factories


def _study(project, images_per_series):
    study = factories.StudyFactory(patient__project=project)
    for number, count in enumerate(images_per_series, start=1):
        series = factories.SeriesFactory(study=study, series_number=number)
        for _ in range(count):
            factories.ImageFactory(instance__series=series)
    return study


def test_studies_come_with_their_series_image_counts_in_two_queries(
    world, django_assert_num_queries
):
    for counts in ([2, 1], [3], [0, 1, 4]):
        _study(world.project, counts)
    _study(world.other_project, [5])
    with django_assert_num_queries(2):
        listed = [
            (study.patient.pseudonym, [series.image_count for series in study.series.all()])
            for study in study_list(project=world.project)
        ]
    assert [counts for _, counts in listed] == [[2, 1], [3], [0, 1, 4]]


def test_one_study_gets_the_same_counts(world, django_assert_num_queries):
    study = _study(world.project, [2, 0])
    with django_assert_num_queries(1):
        counts = [series.image_count for series in study_with_series(study=study).series.all()]
    assert counts == [2, 0]


def test_patients_of_a_split(world):
    train = factories.PatientFactory(project=world.project, pseudonym="b", split=Split.TRAIN)
    test = factories.PatientFactory(project=world.project, pseudonym="a", split=Split.TEST)
    factories.PatientFactory(project=world.other_project)
    assert list(patient_list(project=world.project)) == [test, train]
    assert list(patient_list(project=world.project, split=Split.TRAIN)) == [train]

"""Access functions: a series loads only within the user's projects, and within the one named."""

import pytest

from annotator.access import series_get_for_user
from annotator.exceptions import NotFoundError
from annotator.models import Role
from tests import factories


def test_a_series_of_another_project_is_not_found_within_a_project(world):
    factories.MembershipFactory(project=world.other_project, user=world.admin, role=Role.ADMIN)
    series = factories.SeriesFactory(study__patient__project=world.other_project)
    assert series_get_for_user(series_id=series.pk, user=world.admin) == series
    assert (
        series_get_for_user(series_id=series.pk, user=world.admin, project=world.other_project)
        == series
    )
    with pytest.raises(NotFoundError):
        series_get_for_user(series_id=series.pk, user=world.admin, project=world.project)
    with pytest.raises(NotFoundError):
        series_get_for_user(series_id=series.pk, user=world.annotator)

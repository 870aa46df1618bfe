"""The quarantine rule on images, per role, and the image reads that follow it."""

import pytest

from annotator.models import Image, Role
from annotator.selectors.images import (
    image_list,
    image_tag_ids,
    project_counts,
    proposable_images,
    series_image_ids,
)
from tests import factories


@pytest.fixture
def images(world):
    series = factories.SeriesFactory(study__patient__project=world.project)
    cleared = factories.ImageFactory(instance__series=series)
    held = factories.ImageFactory(instance__series=series, quarantined=True)
    return cleared, held


@pytest.mark.parametrize(
    ("role", "sees_held"),
    [(Role.ADMIN, True), (Role.ANNOTATOR, False), (Role.REVIEWER, False), (None, False)],
)
def test_only_admins_see_quarantined_images(images, role, sees_held):
    cleared, held = images
    expected = {cleared, held} if sees_held else {cleared}
    assert set(Image.objects.visible_to(role)) == expected
    assert {image for image in images if image.is_visible_to(role)} == expected


def test_cleared_and_quarantined_split_the_images(images):
    cleared, held = images
    assert list(Image.objects.cleared()) == [cleared]
    assert list(Image.objects.quarantined()) == [held]


@pytest.mark.parametrize(("role", "count"), [(Role.ADMIN, 2), (Role.ANNOTATOR, 1)])
def test_listing_counts_and_stack_follow_the_role(world, images, role, count):
    cleared, _ = images
    assert image_list(project=world.project, role=role, filters={}).count() == count
    assert project_counts(project=world.project, role=role)["images"] == count
    assert len(series_image_ids(image=cleared, role=role)) == count


def test_an_admin_filters_the_listing_by_quarantine(world, images):
    cleared, held = images
    listed = image_list(project=world.project, role=Role.ADMIN, filters={"quarantined": "true"})
    assert list(listed) == [held]
    listed = image_list(project=world.project, role=Role.ADMIN, filters={"quarantined": "0"})
    assert list(listed) == [cleared]
    listed = image_list(project=world.project, role=Role.ANNOTATOR, filters={"quarantined": "1"})
    assert list(listed) == [cleared]


def test_a_model_proposes_only_on_cleared_images_of_the_modalities_it_was_trained_on(world):
    ct = factories.ImageFactory(instance__series__study__patient__project=world.project)
    mr = factories.ImageFactory(
        instance__series__study__patient__project=world.project, instance__series__modality="MR"
    )
    factories.ImageFactory(
        instance__series__study__patient__project=world.project, quarantined=True
    )
    version = factories.ModelVersionFactory(
        project=world.project, training_data={"modalities": ["CT"]}
    )
    assert list(proposable_images(version=version)) == [ct]
    legacy = factories.ModelVersionFactory(project=world.project, training_data={})
    assert set(proposable_images(version=legacy)) == {ct, mr}


def test_image_tag_ids_are_sorted(world, images):
    cleared, _ = images
    tags = [factories.LabelClassFactory(project=world.project, kind="tag") for _ in range(2)]
    cleared.tags.set(reversed(tags))
    assert image_tag_ids(image=cleared) == sorted(tag.pk for tag in tags)

"""A project's model versions and the labels a training learns from."""

from datetime import timedelta

import pytest

from annotator.exceptions import NotFoundError
from annotator.models import Annotation, AnnotationStatus, ModelVersionStatus, Split
from annotator.selectors.model_versions import (
    accepted_since_last_version,
    active_model_version,
    model_version_get,
    model_version_list,
    training_annotations,
)
from tests import factories


def _accepted(world, split=Split.TRAIN, **image):
    return factories.AnnotationFactory(
        image__instance__series__study__patient__project=world.project,
        image__instance__series__study__patient__split=split,
        label_class=world.instance_class,
        status=AnnotationStatus.ACCEPTED,
        **{f"image__{k}": v for k, v in image.items()},
    )


def test_versions_newest_first_and_the_active_one(world):
    old = factories.ModelVersionFactory(project=world.project, number=1)
    active = factories.ModelVersionFactory(
        project=world.project, number=2, status=ModelVersionStatus.ACTIVE
    )
    factories.ModelVersionFactory(project=world.other_project, number=3)
    assert list(model_version_list(project=world.project)) == [active, old]
    assert active_model_version(project=world.project) == active
    assert active_model_version(project=world.other_project) is None
    assert model_version_get(project=world.project, number=1) == old
    with pytest.raises(NotFoundError, match="no model version 3"):
        model_version_get(project=world.project, number=3)


def test_training_learns_from_accepted_labels_of_active_classes_on_cleared_images(world):
    learnt = _accepted(world)
    _accepted(world, quarantined=True)
    _accepted(world, split=Split.VAL)
    proposal = _accepted(world)
    Annotation.objects.filter(pk=proposal.pk).update(status=AnnotationStatus.PROPOSED)
    retired = factories.LabelClassFactory(project=world.project, is_active=False)
    factories.AnnotationFactory(
        image=learnt.image, label_class=retired, status=AnnotationStatus.ACCEPTED
    )
    assert list(training_annotations(project=world.project, split=Split.TRAIN)) == [learnt]


def test_accepted_labels_are_counted_since_the_newest_version(world):
    before = _accepted(world)
    assert accepted_since_last_version(project=world.project) == 1
    version = factories.ModelVersionFactory(project=world.project)
    Annotation.objects.filter(pk=before.pk).update(
        updated_at=version.created_at - timedelta(seconds=1)
    )
    _accepted(world)
    assert accepted_since_last_version(project=world.project) == 1

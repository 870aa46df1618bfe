"""Re-running pre-annotation replaces only untouched proposals; human work always stays."""

import numpy as np

from annotator import coco
from annotator.models import Annotation, AnnotationStatus, ImageStatus, Source
from annotator.services.annotations import proposals_replace
from tests import factories


def _proposal(label_class, x):
    return {"label_class": label_class.pk, "box": [x, x, 8, 8], "score": 0.8, "mask": None}


def test_rerun_replaces_only_untouched_proposals(world):
    image = factories.ImageFactory(instance__series__study__patient__project=world.project)
    version = factories.ModelVersionFactory(project=world.project)
    first = proposals_replace(
        image=image,
        model_version=version,
        proposals=[_proposal(world.instance_class, x) for x in (1, 20, 40)],
        uncertainty=0.4,
    )
    accepted, rejected, untouched = first
    Annotation.objects.filter(pk=accepted.pk).update(
        status=AnnotationStatus.ACCEPTED, touched_by_human=True
    )
    Annotation.objects.filter(pk=rejected.pk).update(
        status=AnnotationStatus.REJECTED, touched_by_human=True
    )
    human = factories.AnnotationFactory(
        image=image,
        label_class=world.instance_class,
        source=Source.HUMAN,
        status=AnnotationStatus.ACCEPTED,
        touched_by_human=True,
    )
    image.refresh_from_db()
    assert image.status == ImageStatus.PROPOSED and image.uncertainty == 0.4

    proposals_replace(
        image=image,
        model_version=version,
        proposals=[_proposal(world.instance_class, 30)],
        uncertainty=0.1,
    )
    remaining = set(Annotation.objects.filter(image=image).values_list("pk", flat=True))
    assert {accepted.pk, rejected.pk, human.pk} <= remaining
    assert untouched.pk not in remaining
    fresh = Annotation.objects.get(image=image, status=AnnotationStatus.PROPOSED)
    assert fresh.model_version == version and fresh.source == Source.MODEL


def test_the_same_run_stores_each_proposal_once(world):
    image = factories.ImageFactory(instance__series__study__patient__project=world.project)
    for _ in range(3):
        proposals_replace(
            image=image,
            proposals=[_proposal(world.instance_class, x) for x in (1, 20)],
        )
    assert Annotation.objects.filter(image=image).count() == 2


def test_overlapping_proposals_of_other_classes_become_one_with_a_runner_up(world):
    image = factories.ImageFactory(instance__series__study__patient__project=world.project)
    other = factories.LabelClassFactory(project=world.project, name="mass")
    mask = np.zeros((image.rows, image.columns), np.uint8)
    mask[10:30, 10:30] = 1
    shifted = np.roll(mask, 2, axis=1)
    blob = [
        {"label_class": world.instance_class.pk, "score": 0.9, **coco.box_and_mask(mask)},
        {"label_class": other.pk, "score": 0.6, **coco.box_and_mask(shifted)},
        {"label_class": world.instance_class.pk, "score": 0.5, **coco.box_and_mask(shifted)},
    ]
    elsewhere = {"label_class": other.pk, "score": 0.7, "box": [40, 40, 8, 8], "mask": None}
    stored = proposals_replace(image=image, proposals=[*blob, elsewhere])
    assert len(stored) == 2
    best = next(a for a in stored if a.score == 0.9)
    assert best.alternatives == [{"label_class": other.pk, "score": 0.6}]
    assert next(a for a in stored if a.score == 0.7).alternatives == []

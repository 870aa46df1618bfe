"""The promotion rule: a version replaces the active one only by more than the noise."""

import numpy as np
import pytest

from annotator.models import ModelVersionStatus
from annotator.services.models import model_version_promotion_decide, promotion_decide
from tests import factories
from worker.ml.lesion_metrics import ImageMatches, paired_difference, split_figures


def _images(found: list[bool]) -> list[ImageMatches]:
    """One lesion an image; ``found`` says whether the model's one detection found it."""
    return [
        ImageMatches(
            image_id=i,
            lesions=1,
            scores=np.array([0.9]),
            found=np.array([hit]),
        )
        for i, hit in enumerate(found)
    ]


def _metrics(images: list[ImageMatches], segm_ap: float = 0.4) -> dict:
    figures = split_figures(images, 0.5)
    return {
        "val": {
            "segm_AP": segm_ap,
            "images": figures["images"],
            "lesions": figures["lesions"],
            "at_threshold": figures,
        }
    }


def _decide(metrics, active=None, comparison=None, min_val_lesions=10, min_segm_ap=0.1):
    return promotion_decide(
        metrics=metrics,
        active=active,
        comparison=comparison,
        min_val_lesions=min_val_lesions,
        min_segm_ap=min_segm_ap,
    )


def _draw(rng, n, p) -> list[bool]:
    return list(rng.random(n) < p)


def test_too_few_val_lesions_never_promote_however_good():
    decision = _decide(_metrics(_images([True] * 3)))
    assert not decision.promote
    assert decision.reason == (
        "val has 3 lesions: too few to decide (at least 10); promote by hand if you trust it."
    )


@pytest.mark.parametrize("seed", range(5))
def test_a_lucky_draw_of_the_same_model_quality_does_not_promote(seed):
    # both find each lesion with probability 0.5; on 14 val lesions the candidate happens to
    # find more: that is noise, not progress
    rng = np.random.default_rng(seed)
    while True:
        new, old = _images(_draw(rng, 14, 0.5)), _images(_draw(rng, 14, 0.5))
        comparison = paired_difference(new, 0.5, old, 0.5)
        if comparison["difference"] > 0:
            break
    active = factories.ModelVersionFactory.build(number=4)
    decision = _decide(_metrics(new), active=active, comparison=comparison)
    assert not decision.promote
    assert "not better beyond the noise; promote by hand if you trust it." in decision.reason
    assert "for v4" in decision.reason and "on 14 images, 14 lesions" in decision.reason


def test_a_real_gain_on_enough_lesions_promotes():
    rng = np.random.default_rng(0)
    new, old = _images(_draw(rng, 60, 0.9)), _images(_draw(rng, 60, 0.4))
    comparison = paired_difference(new, 0.5, old, 0.5)
    active = factories.ModelVersionFactory.build(number=2)
    decision = _decide(_metrics(new), active=active, comparison=comparison)
    assert decision.promote and "better beyond the noise." in decision.reason


def test_the_first_version_passes_the_quality_gate_or_stays_a_candidate():
    good = _metrics(_images([True] * 8 + [False] * 4))
    assert _decide(good).promote
    assert not _decide(good, min_segm_ap=0.5).promote
    nothing = _metrics(_images([False] * 12))
    assert "not above 0 beyond the noise" in _decide(nothing).reason
    not_measured = {"val": {"not_measured": "no labels in val", "images": 4, "lesions": 0}}
    assert "val has 0 lesions" in _decide(not_measured).reason


def test_the_decision_is_recorded_and_shown_by_the_api(world):
    world.project.promotion_min_val_lesions = 5
    world.project.save()
    active = factories.ModelVersionFactory(project=world.project, status=ModelVersionStatus.ACTIVE)
    rng = np.random.default_rng(1)
    new, old = _images(_draw(rng, 8, 0.5)), _images(_draw(rng, 8, 0.5))
    candidate = factories.ModelVersionFactory(project=world.project, metrics=_metrics(new))
    decision = model_version_promotion_decide(
        version=candidate, comparison=paired_difference(new, 0.5, old, 0.5)
    )
    assert not decision.promote
    listed = world.client(world.admin).get("/api/projects/chest/model-versions/").data
    shown = next(v for v in listed if v["id"] == candidate.pk)
    assert shown["status"] == "candidate" and shown["promotion"]["automatic"] is False
    assert shown["promotion"]["reason"] == decision.reason
    assert shown["promotion"]["compared_with"] == active.number
    assert shown["score_threshold"] == 0.5


def test_the_minimum_of_val_lesions_is_a_project_setting(world):
    client = world.client(world.admin)
    assert client.get("/api/projects/chest/").data["promotion_min_val_lesions"] == 10
    changed = client.patch("/api/projects/chest/", {"promotion_min_val_lesions": 25}, format="json")
    assert changed.status_code == 200 and changed.data["promotion_min_val_lesions"] == 25
    refused = client.patch("/api/projects/chest/", {"promotion_min_val_lesions": 0}, format="json")
    assert refused.status_code == 400 and "promotion_min_val_lesions" in str(refused.data)

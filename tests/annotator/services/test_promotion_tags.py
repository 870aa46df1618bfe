"""The promotion rule covers the tag classifier: worse on val beyond the noise stays a candidate."""

import numpy as np

from annotator.services.models import promotion_decide
from tests import factories
from tests.annotator.services.test_models import _draw, _images, _metrics
from worker.ml.lesion_metrics import paired_difference
from worker.ml.tag_metrics import paired_auroc_difference


def _decide_with_tags(db, candidate_scores, active_scores, labels):
    rng = np.random.default_rng(0)
    old, new = _images(_draw(rng, 200, 0.5)), _images(_draw(rng, 200, 0.8))
    active = factories.ModelVersionFactory(number=1)
    return promotion_decide(
        metrics=_metrics(new),
        active=active,
        comparison=paired_difference(new, 0.5, old, 0.5),
        min_val_lesions=10,
        min_segm_ap=0.1,
        tag_comparison=paired_auroc_difference(
            labels, candidate_scores, active_scores, samples=500
        ),
    )


def _tag_scores():
    rng = np.random.default_rng(1)
    labels = (rng.random((80, 1)) < 0.5).astype(float)
    good = labels * 0.6 + rng.random((80, 1)) * 0.4
    poor = rng.random((80, 1))
    return labels, good, poor


def test_a_better_detector_with_a_worse_classifier_is_not_promoted(db):
    labels, good, poor = _tag_scores()
    decision = _decide_with_tags(db, poor, good, labels)
    assert not decision.promote
    assert "tag mean AUROC" in decision.reason and "worse beyond the noise" in decision.reason


def test_a_better_detector_with_a_classifier_no_worse_is_promoted(db):
    labels, good, _ = _tag_scores()
    decision = _decide_with_tags(db, good, good, labels)
    assert decision.promote

from __future__ import annotations

import math

from tests.detections import exact_detections
from worker.ml.evaluation import coco_metrics

from .conftest import CLASS_NAMES, disk_sample


def test_perfect_predictions_score_one():
    samples = [disk_sample(i) for i in range(1, 4)]
    metrics = coco_metrics(samples, exact_detections(samples, score=1.0), CLASS_NAMES)
    for key in ("bbox_AP", "bbox_AP50", "segm_AP", "segm_AP50", "segm_AP/bright", "segm_AP/dim"):
        assert math.isclose(metrics[key], 1.0), key


def test_wrong_class_and_no_predictions_score_zero():
    samples = [disk_sample(i) for i in range(1, 3)]
    swapped = exact_detections(samples, score=1.0)
    for det in swapped:
        det.labels = 3 - det.labels
    assert coco_metrics(samples, swapped, CLASS_NAMES)["segm_AP"] == 0.0
    assert coco_metrics(samples, [], CLASS_NAMES)["segm_AP50"] == 0.0

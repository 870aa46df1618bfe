from __future__ import annotations

import math

import numpy as np

from radlabel.rle import encode_masks
from worker.ml.engine import Detections
from worker.ml.evaluation import coco_metrics

from .conftest import CLASS_NAMES, disk_sample


def _perfect(samples) -> list[Detections]:
    return [
        Detections(
            image_id=s.image_id,
            boxes=s.boxes,
            labels=s.labels,
            scores=np.ones(len(s.labels), np.float32),
            mask_rles=encode_masks(s.masks),
        )
        for s in samples
    ]


def test_perfect_predictions_score_one():
    samples = [disk_sample(i) for i in range(1, 4)]
    metrics = coco_metrics(samples, _perfect(samples), CLASS_NAMES)
    for key in ("bbox_AP", "bbox_AP50", "segm_AP", "segm_AP50", "segm_AP/bright", "segm_AP/dim"):
        assert math.isclose(metrics[key], 1.0), key


def test_wrong_class_and_no_predictions_score_zero():
    samples = [disk_sample(i) for i in range(1, 3)]
    swapped = _perfect(samples)
    for det in swapped:
        det.labels = 3 - det.labels
    assert coco_metrics(samples, swapped, CLASS_NAMES)["segm_AP"] == 0.0
    assert coco_metrics(samples, [], CLASS_NAMES)["segm_AP50"] == 0.0

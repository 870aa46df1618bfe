"""COCO in one place: RLE masks, xyxy↔xywh, and bbox/segm AP with pycocotools.

Images and annotations are numbered from 1 (COCO ids); category ids are the model's labels
(1..C), named by the datastore's ``class_names``.
"""

from __future__ import annotations

import contextlib
import io
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

if TYPE_CHECKING:
    from worker.ml.data import Sample
    from worker.ml.engine import Detections

_STATS = ("AP", "AP50", "AP75", "APs", "APm", "APl")


def mask_to_rle(mask: np.ndarray) -> dict:
    """(H, W) 0/1 mask → COCO RLE ``{"size": [h, w], "counts": str}``."""
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(s) for s in rle["size"]], "counts": rle["counts"].decode("ascii")}


def masks_to_rles(masks: np.ndarray) -> list[dict]:
    return [mask_to_rle(m) for m in masks]


def rle_to_mask(rle: dict) -> np.ndarray:
    return mask_utils.decode({"size": rle["size"], "counts": rle["counts"].encode("ascii")})


def xyxy_to_xywh(box: Sequence[float]) -> tuple[float, float, float, float]:
    x1, y1, x2, y2 = (float(v) for v in box)
    return (x1, y1, x2 - x1, y2 - y1)


def coco_ground_truth(samples: Sequence[Sample], class_names: Sequence[str]) -> COCO:
    images, annotations = [], []
    for sample in samples:
        h, w = sample.image.shape
        images.append({"id": sample.image_id, "height": h, "width": w})
        for box, label, mask in zip(sample.boxes, sample.labels, sample.masks, strict=True):
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": sample.image_id,
                    "category_id": int(label),
                    "bbox": list(xyxy_to_xywh(box)),
                    "area": float(mask.sum()),
                    "segmentation": mask_to_rle(mask),
                    "iscrowd": 0,
                }
            )
    coco = COCO()
    coco.dataset = {
        "images": images,
        "annotations": annotations,
        "categories": [{"id": i, "name": n} for i, n in enumerate(class_names, start=1)],
    }
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


def coco_results(detections: Sequence[Detections]) -> list[dict]:
    results = []
    for det in detections:
        for box, label, score, rle in zip(
            det.boxes, det.labels, det.scores, det.mask_rles, strict=True
        ):
            results.append(
                {
                    "image_id": det.image_id,
                    "category_id": int(label),
                    "bbox": list(xyxy_to_xywh(box)),
                    "score": float(score),
                    "segmentation": rle,
                }
            )
    return results


def _summarize(gt: COCO, results: list[dict], iou_type: str, class_names: Sequence[str]) -> dict:
    metrics: dict[str, float] = {}
    if not gt.getAnnIds():
        return {f"{iou_type}_{k}": math.nan for k in _STATS}
    if not results:
        metrics = {f"{iou_type}_{k}": 0.0 for k in _STATS}
        metrics.update({f"{iou_type}_AP/{n}": 0.0 for n in class_names})
        return metrics
    with contextlib.redirect_stdout(io.StringIO()):
        dt = gt.loadRes(results)
        ev = COCOeval(gt, dt, iouType=iou_type)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    for name, value in zip(_STATS, ev.stats[:6], strict=True):
        metrics[f"{iou_type}_{name}"] = float(value) if value >= 0 else math.nan
    precision = ev.eval["precision"]  # [T, R, K, A, M]
    for k, cat_id in enumerate(ev.params.catIds):
        p = precision[:, :, k, 0, -1]
        p = p[p > -1]
        metrics[f"{iou_type}_AP/{class_names[cat_id - 1]}"] = (
            float(p.mean()) if p.size else math.nan
        )
    return metrics


def coco_metrics(
    samples: Sequence[Sample], detections: Sequence[Detections], class_names: Sequence[str]
) -> dict[str, float]:
    """bbox and segm AP, AP50, AP75, APs/m/l and per-class AP (NaN when undefined)."""
    gt = coco_ground_truth(samples, class_names)
    results = coco_results(detections)
    metrics = _summarize(gt, results, "bbox", class_names)
    metrics.update(_summarize(gt, results, "segm", class_names))
    return metrics

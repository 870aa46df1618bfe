"""COCO evaluation: xyxy↔xywh, and bbox/segm AP with pycocotools (masks as :mod:`radlabel.rle`).

Images and annotations are numbered from 1 (COCO ids); category ids are the model's labels
(1..C), named by the datastore's ``class_names``.
"""

from __future__ import annotations

import contextlib
import copy
import io
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from radlabel.rle import encode_mask

if TYPE_CHECKING:
    from worker.ml.data import Sample
    from worker.ml.engine import Detections

_STATS = ("AP", "AP50", "AP75", "APs", "APm", "APl")


def xyxy_to_xywh(box: Sequence[float]) -> tuple[float, float, float, float]:
    x1, y1, x2, y2 = (float(v) for v in box)
    return (x1, y1, x2 - x1, y2 - y1)


def coco_ground_truth(samples: Sequence[Sample], class_names: Sequence[str]) -> COCO:
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
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
                    "segmentation": encode_mask(mask),
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


def coco_results(detections: Sequence[Detections]) -> list[dict[str, Any]]:
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


def _summarize(
    gt: COCO, results: list[dict[str, Any]], iou_type: str, class_names: Sequence[str]
) -> dict[str, float]:
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


def _resampled_ap(ev: COCOeval, draws: Sequence[np.ndarray]) -> np.ndarray:
    """(B, 2) AP and AP50 (all areas, 100 detections) of each resample of ``ev``'s images.

    ``ev`` is evaluated once; a resample re-accumulates the per-image matches of the drawn
    images (repeats included), which is what COCOeval would compute on that image list.
    """
    evaluated, ids = ev.evalImgs, list(ev._paramsEval.imgIds)
    areas, per_category = len(ev._paramsEval.areaRng), len(ev._paramsEval.areaRng) * len(ids)
    params = copy.deepcopy(ev.params)
    params.areaRng, params.maxDets = params.areaRng[:1], params.maxDets[-1:]
    out = np.full((len(draws), 2), np.nan)
    try:
        for b, draw in enumerate(draws):
            ev.evalImgs = [
                evaluated[k * per_category + a * len(ids) + j]
                for k in range(len(ev._paramsEval.catIds))
                for a in range(areas)
                for j in draw
            ]
            ev._paramsEval.imgIds = params.imgIds = list(range(len(draw)))
            with contextlib.redirect_stdout(io.StringIO()):
                ev.accumulate(params)
            precision = ev.eval["precision"][:, :, :, 0, -1]
            for column, p in enumerate((precision, precision[:1])):
                p = p[p > -1]
                out[b, column] = p.mean() if p.size else np.nan
    finally:
        ev.evalImgs, ev._paramsEval.imgIds = evaluated, ids
    return out


def coco_ap_intervals(
    samples: Sequence[Sample],
    detections: Sequence[Detections],
    class_names: Sequence[str],
    *,
    groups: Sequence[object] | None = None,
    resamples: int = 300,
    seed: int = 0,
    confidence: float = 0.95,
) -> dict[str, list[float] | None]:
    """95 % bootstrap intervals of bbox/segm AP and AP50, resampling images (or their groups)."""
    gt = coco_ground_truth(samples, class_names)
    results = coco_results(detections)
    names = [f"{t}_{k}" for t in ("bbox", "segm") for k in ("AP", "AP50")]
    if not gt.getAnnIds() or not results:
        return dict.fromkeys(names)
    members: dict[object, list[int]] = {}
    for index, group in enumerate(groups if groups is not None else range(len(samples))):
        members.setdefault(group, []).append(index)
    clusters = list(members.values())
    rng = np.random.default_rng(seed)
    draws = [
        np.array([i for c in rng.integers(0, len(clusters), len(clusters)) for i in clusters[c]])
        for _ in range(resamples)
    ]
    # The evaluated image order is sorted ids; map each drawn sample to its position there.
    position = {image_id: n for n, image_id in enumerate(sorted(gt.getImgIds()))}
    order = np.array([position[s.image_id] for s in samples])
    tail = (1 - confidence) / 2 * 100
    intervals: dict[str, list[float] | None] = {}
    for iou_type in ("bbox", "segm"):
        with contextlib.redirect_stdout(io.StringIO()):
            ev = COCOeval(gt, gt.loadRes(results), iouType=iou_type)
            ev.evaluate()
        stacked = _resampled_ap(ev, [order[draw] for draw in draws])
        for column, name in enumerate(("AP", "AP50")):
            finite = stacked[:, column][np.isfinite(stacked[:, column])]
            intervals[f"{iou_type}_{name}"] = (
                [float(v) for v in np.percentile(finite, [tail, 100 - tail])]
                if finite.size
                else None
            )
    return intervals


def coco_metrics(
    samples: Sequence[Sample], detections: Sequence[Detections], class_names: Sequence[str]
) -> dict[str, float]:
    """bbox and segm AP, AP50, AP75, APs/m/l and per-class AP (NaN when undefined)."""
    gt = coco_ground_truth(samples, class_names)
    results = coco_results(detections)
    metrics = _summarize(gt, results, "bbox", class_names)
    metrics.update(_summarize(gt, results, "segm", class_names))
    return metrics

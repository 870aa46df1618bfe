"""Lesion-level figures at an operating point, with bootstrap intervals (numpy only, no torch).

What a radiologist gets from a model version is the proposals at or above its score threshold.
These functions say, at that threshold, how many lesions are found and how many false marks are
made, on how many images, with a 95 % interval from resampling images (or patients, when a
group per image is given: all images of a patient are drawn together).

At most ``MAX_MARKS_PER_IMAGE`` detections of an image count (the best ones), as at most that
many are stored as proposals.

A detection finds a lesion when both have the same class and their masks overlap with IoU at
least ``IOU_MATCH``; detections are matched greedily in score order (as COCO does), each lesion
to at most one detection. Because matching runs in score order, the matches of the detections at
or above any threshold are the matches of the whole list cut at that threshold: an image is
matched once and counted at every threshold.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from radlabel.rle import encode_masks, masks_iou
from worker.ml.evaluation import coco_ap_intervals

if TYPE_CHECKING:
    from worker.ml.data import Sample
    from worker.ml.engine import Detections

IOU_MATCH = 0.5
BOOTSTRAP_SAMPLES = 2000
CONFIDENCE = 0.95
# When val holds no lesion there is nothing to choose a threshold on.
DEFAULT_THRESHOLD = 0.5
MAX_MARKS_PER_IMAGE = 20
THRESHOLD_RULE = f"best lesion-level F1 on val (mask IoU \u2265 {IOU_MATCH}, same class)"
FIGURES = ("precision", "recall", "f1", "all_found", "fp_per_image")

_CHUNK = 200  # bootstrap draws at a time
# Columns of a per-image (or per-group) count row.
_TP, _FP, _FN, _IMAGES, _WITH_LESIONS, _ALL_FOUND = range(6)


@dataclass(frozen=True)
class ImageMatches:
    """One image's detections best first, whether each found a lesion, and its lesion count."""

    image_id: int
    lesions: int
    scores: np.ndarray  # float (D,), descending
    found: np.ndarray  # bool (D,): this detection is the match of a lesion


def match_image(sample: Sample, detections: Detections, *, iou: float = IOU_MATCH) -> ImageMatches:
    order = np.argsort(-np.asarray(detections.scores, dtype=np.float64), kind="stable")
    scores = np.asarray(detections.scores, dtype=np.float64)[order]
    labels = np.asarray(detections.labels)[order]
    found = np.zeros(len(order), dtype=bool)
    lesions = len(sample.labels)
    if lesions and len(order):
        dt = [detections.mask_rles[i] for i in order]
        overlaps = masks_iou(dt, encode_masks(sample.masks))
        taken = np.zeros(lesions, dtype=bool)
        for d in range(len(order)):
            candidates = np.where(
                ~taken & (sample.labels == labels[d]) & (overlaps[d] >= iou), overlaps[d], -1.0
            )
            best = int(np.argmax(candidates))
            if candidates[best] >= 0:
                taken[best] = found[d] = True
    return ImageMatches(image_id=int(sample.image_id), lesions=lesions, scores=scores, found=found)


def match_split(samples: Sequence[Sample], detections: Sequence[Detections]) -> list[ImageMatches]:
    """Every sample matched with its detections (an image without detections has none)."""
    by_id = {d.image_id: d for d in detections}
    matches = []
    for sample in samples:
        det = by_id.get(sample.image_id)
        if det is None:
            matches.append(
                ImageMatches(
                    image_id=int(sample.image_id),
                    lesions=len(sample.labels),
                    scores=np.zeros(0),
                    found=np.zeros(0, dtype=bool),
                )
            )
        else:
            matches.append(match_image(sample, det))
    return matches


def counts_at(images: Sequence[ImageMatches], threshold: float) -> np.ndarray:
    """Per image at ``threshold``: tp, fp, fn, 1, has lesions, all its lesions found."""
    rows = np.zeros((len(images), 6), dtype=np.float64)
    for i, image in enumerate(images):
        kept = min(int((image.scores >= threshold).sum()), MAX_MARKS_PER_IMAGE)
        tp = int(image.found[:kept].sum())
        rows[i] = (
            tp,
            kept - tp,
            image.lesions - tp,
            1,
            image.lesions > 0,
            image.lesions > 0 and tp == image.lesions,
        )
    return rows


def _figures(totals: np.ndarray) -> dict[str, np.ndarray]:
    """Each figure from summed count rows (last axis the columns); NaN where undefined."""
    tp, fp, fn = totals[..., _TP], totals[..., _FP], totals[..., _FN]
    with np.errstate(divide="ignore", invalid="ignore"):
        return {
            "precision": np.where(tp + fp > 0, tp / (tp + fp), np.nan),
            "recall": np.where(tp + fn > 0, tp / (tp + fn), np.nan),
            "f1": np.where(tp + fn > 0, 2 * tp / (2 * tp + fp + fn), np.nan),
            "all_found": np.where(
                totals[..., _WITH_LESIONS] > 0,
                totals[..., _ALL_FOUND] / totals[..., _WITH_LESIONS],
                np.nan,
            ),
            "fp_per_image": np.where(totals[..., _IMAGES] > 0, fp / totals[..., _IMAGES], np.nan),
        }


def choose_threshold(images: Sequence[ImageMatches]) -> float:
    """The score threshold with the best lesion-level F1 (ties: the higher threshold).

    Candidates are the detection scores; the threshold returned lies halfway between the chosen
    score and the next lower one, so it keeps exactly the same detections on these images and
    does not sit on the edge of one of them.
    """
    lesions = sum(i.lesions for i in images)
    if not lesions or not sum(len(i.scores) for i in images):
        return DEFAULT_THRESHOLD
    scores = np.concatenate([i.scores for i in images])
    found = np.concatenate([i.found for i in images])
    counted = np.concatenate([np.arange(len(i.scores)) < MAX_MARKS_PER_IMAGE for i in images])
    order = np.argsort(-scores, kind="stable")
    scores, found, counted = scores[order], found[order], counted[order]
    tp, marks = np.cumsum(found & counted), np.cumsum(counted)
    candidates = np.unique(scores)[::-1]
    # keeping every detection scored at least c: the last position of c in descending order
    last = np.searchsorted(-scores, -candidates, side="right") - 1
    f1 = 2 * tp[last] / (marks[last] + lesions)  # 2 TP / (2 TP + FP + FN)
    best = int(np.argmax(f1))  # the first maximum is the highest score
    if best + 1 < len(candidates):
        return float((candidates[best] + candidates[best + 1]) / 2)
    return float(candidates[best])


def _group_rows(rows: np.ndarray, groups: Sequence[Any] | None) -> np.ndarray:
    if groups is None:
        return rows
    keys = {g: k for k, g in enumerate(dict.fromkeys(groups))}
    summed = np.zeros((len(keys), rows.shape[1]))
    np.add.at(summed, [keys[g] for g in groups], rows)
    return summed


def _resampled_totals(tables: Sequence[np.ndarray], samples: int, seed: int) -> list[np.ndarray]:
    """Column totals (samples, columns) of each table over the same bootstrap draws of rows.

    Every table has one row per unit (image or patient), in the same order; draws are taken a
    chunk at a time so that memory stays small however many units there are.
    """
    rng = np.random.default_rng(seed)
    units = len(tables[0])
    totals: list[list[np.ndarray]] = [[] for _ in tables]
    for start in range(0, samples if units else 0, _CHUNK):
        draws = rng.integers(0, units, size=(min(_CHUNK, samples - start), units))
        for table, chunks in zip(tables, totals, strict=True):
            chunks.append(table[draws].sum(axis=1))
    return [
        np.concatenate(chunks) if chunks else np.zeros((0, table.shape[1]))
        for table, chunks in zip(tables, totals, strict=True)
    ]


def _interval(values: np.ndarray) -> tuple[float | None, float | None]:
    finite = values[np.isfinite(values)]
    if not finite.size:
        return None, None
    tail = (1 - CONFIDENCE) / 2 * 100
    low, high = np.percentile(finite, [tail, 100 - tail])
    return float(low), float(high)


def _value(x: float | np.ndarray) -> float | None:
    return float(x) if np.isfinite(x) else None


def split_figures(
    images: Sequence[ImageMatches],
    threshold: float,
    *,
    groups: Sequence[Any] | None = None,
    samples: int = BOOTSTRAP_SAMPLES,
    seed: int = 0,
) -> dict[str, Any]:
    """Lesion-level figures at ``threshold`` with their 95 % bootstrap intervals.

    ``groups`` (one per image, e.g. the patient) makes the bootstrap draw whole groups. A figure
    that is undefined (no lesion, no detection) has ``value`` None.
    """
    rows = counts_at(images, threshold)
    totals = rows.sum(axis=0)
    grouped = _group_rows(rows, groups)
    point = _figures(totals)
    resampled = _figures(_resampled_totals([grouped], samples, seed)[0])
    figures: dict[str, Any] = {}
    for name in FIGURES:
        low, high = _interval(resampled[name]) if len(grouped) else (None, None)
        figures[name] = {"value": _value(point[name]), "low": low, "high": high}
    return {
        "threshold": float(threshold),
        "images": int(totals[_IMAGES]) if len(rows) else 0,
        "lesions": int(totals[_TP] + totals[_FN]) if len(rows) else 0,
        "found": int(totals[_TP]) if len(rows) else 0,
        "false_marks": int(totals[_FP]) if len(rows) else 0,
        "bootstrap": {
            "samples": samples,
            "confidence": CONFIDENCE,
            "unit": "patient" if groups is not None else "image",
            "units": len(grouped),
        },
        **figures,
    }


def paired_difference(
    candidate: Sequence[ImageMatches],
    candidate_threshold: float,
    active: Sequence[ImageMatches],
    active_threshold: float,
    *,
    figure: str = "f1",
    groups: Sequence[Any] | None = None,
    samples: int = BOOTSTRAP_SAMPLES,
    seed: int = 0,
) -> dict[str, Any]:
    """Candidate minus active ``figure`` on the same images, each at its own threshold.

    Both lists hold the same images in the same order; the bootstrap draws the same images (or
    groups) for both, so what the two share cancels and the interval is that of the difference.
    """
    if [i.image_id for i in candidate] != [i.image_id for i in active]:
        raise ValueError("a paired comparison needs the same images in the same order")
    new = _group_rows(counts_at(candidate, candidate_threshold), groups)
    old = _group_rows(counts_at(active, active_threshold), groups)
    new_totals, old_totals = _resampled_totals([new, old], samples, seed)
    point = _figures(new.sum(axis=0))[figure] - _figures(old.sum(axis=0))[figure]
    spread = _figures(new_totals)[figure] - _figures(old_totals)[figure]
    low, high = _interval(spread) if len(new) else (None, None)
    return {
        "figure": figure,
        "candidate": _value(_figures(new.sum(axis=0))[figure]),
        "active": _value(_figures(old.sum(axis=0))[figure]),
        "difference": _value(point),
        "low": low,
        "high": high,
        "images": len(candidate),
        "lesions": sum(i.lesions for i in candidate),
    }


def figures_by_split(
    matches: Mapping[str, Sequence[ImageMatches]],
    threshold: float,
    *,
    groups: Mapping[str, Sequence[Any]] | None = None,
) -> dict[str, dict[str, Any]]:
    """``split_figures`` for each split; a split without lesions says it was not measured."""
    out = {}
    for split, images in matches.items():
        lesions = sum(i.lesions for i in images)
        if not lesions:
            out[split] = {
                "not_measured": f"no labels in {split}",
                "images": len(images),
                "lesions": 0,
                "threshold": float(threshold),
            }
            continue
        out[split] = split_figures(images, threshold, groups=(groups or {}).get(split))
    return out


def version_metrics(
    samples: Mapping[str, Sequence[Sample]],
    detections: Mapping[str, Sequence[Detections]],
    coco: Mapping[str, Mapping[str, float]],
    class_names: Sequence[str],
    *,
    groups: Mapping[str, Sequence[Any]] | None = None,
) -> tuple[float, dict[str, Any], dict[str, list[ImageMatches]]]:
    """The operating point chosen on val and every split's figures, as JSON can hold them.

    A split with lesions has its COCO AP (threshold-free) with intervals, and its lesion-level
    figures at the threshold (``at_threshold``), each with the images and lesions behind it; a
    split without says ``not_measured`` and why. Returns the threshold, the metrics and the
    matches (for comparing another version on the same images).
    """
    groups = groups or {}
    matches = {split: match_split(samples[split], detections[split]) for split in samples}
    threshold = choose_threshold(matches.get("val", []))
    at_threshold = figures_by_split(matches, threshold, groups=groups)
    metrics: dict[str, Any] = {
        "operating_point": {
            "threshold": threshold,
            "rule": THRESHOLD_RULE
            if sum(i.lesions for i in matches.get("val", []))
            else f"default {DEFAULT_THRESHOLD}: no labels in val",
            "iou": IOU_MATCH,
        }
    }
    for split, figures in at_threshold.items():
        if "not_measured" in figures:
            metrics[split] = figures
            continue
        metrics[split] = {
            **{k: (v if math.isfinite(v) else None) for k, v in coco.get(split, {}).items()},
            "images": figures["images"],
            "lesions": figures["lesions"],
            "ap_interval": coco_ap_intervals(
                samples[split], detections[split], class_names, groups=groups.get(split)
            ),
            "at_threshold": figures,
        }
    return threshold, metrics, matches

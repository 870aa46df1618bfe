"""Image-level tag figures: AUROC, average precision, and F1 / accuracy at an operating point.

Numpy only (no sklearn, no torch). Per tag, ``labels`` are 1 (the tag is on the image), 0 (a
person finished the image without it) or NaN (unknown: left out of that tag's figures).

- AUROC is the Mann-Whitney statistic: the probability that a positive image scores above a
  negative one, ties counting one half.
- Average precision is the area under the step precision-recall curve: the mean, over the
  positives, of the precision at the score of each positive (all images scored at least that
  counted, so tied scores are one step).
- The operating threshold of a tag is chosen on val: the best F1 (ties: the higher
  threshold), halfway between the chosen score and the next lower one, as the detector's is.
- Intervals are 95 % bootstrap intervals drawing images (or patients, when a group per image
  is given), with the draws and percentile rule of :mod:`worker.ml.lesion_metrics`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from worker.ml.lesion_metrics import (
    BOOTSTRAP_SAMPLES,
    CONFIDENCE,
    _group_rows,
    _interval,
    _resampled_totals,
    _value,
)

DEFAULT_THRESHOLD = 0.5  # a tag without both classes in val has nothing to choose on
THRESHOLD_RULE = "best F1 on val, per tag"
_TP, _FP, _FN, _TN = range(4)


def auroc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Probability that a positive outscores a negative (ties one half); NaN without both."""
    labels, scores = np.asarray(labels, dtype=bool), np.asarray(scores, dtype=np.float64)
    positives, negatives = int(labels.sum()), int((~labels).sum())
    if not positives or not negatives:
        return float("nan")
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    ranks = (ends - (counts - 1) / 2)[inverse]  # mid-ranks of tied scores
    return float((ranks[labels].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def average_precision(labels: np.ndarray, scores: np.ndarray) -> float:
    """Mean precision at each positive's score (tied scores one step); NaN without positives."""
    labels, scores = np.asarray(labels, dtype=bool), np.asarray(scores, dtype=np.float64)
    if not labels.any():
        return float("nan")
    kept = np.array([(scores >= s).sum() for s in scores[labels]], dtype=np.float64)
    found = np.array([(labels & (scores >= s)).sum() for s in scores[labels]], dtype=np.float64)
    return float(np.mean(found / kept))


def choose_threshold(labels: np.ndarray, scores: np.ndarray) -> float:
    """The score threshold with the best F1 on these images (ties: the higher threshold)."""
    labels, scores = np.asarray(labels, dtype=bool), np.asarray(scores, dtype=np.float64)
    if not labels.any() or labels.all():
        return DEFAULT_THRESHOLD
    candidates = np.unique(scores)[::-1]
    tp = np.array([(labels & (scores >= c)).sum() for c in candidates], dtype=np.float64)
    kept = np.array([(scores >= c).sum() for c in candidates], dtype=np.float64)
    f1 = 2 * tp / (kept + labels.sum())
    best = int(np.argmax(f1))
    if best + 1 < len(candidates):
        return float((candidates[best] + candidates[best + 1]) / 2)
    return float(candidates[best])


def _confusion_rows(labels: np.ndarray, scores: np.ndarray, threshold: float) -> np.ndarray:
    """Per image: tp, fp, fn, tn at ``threshold``."""
    called = scores >= threshold
    return np.stack(
        [labels & called, ~labels & called, labels & ~called, ~labels & ~called], axis=1
    ).astype(np.float64)


def _at_threshold(totals: np.ndarray) -> dict[str, np.ndarray]:
    tp, fp, fn, tn = (totals[..., k] for k in (_TP, _FP, _FN, _TN))
    with np.errstate(divide="ignore", invalid="ignore"):
        return {
            "f1": np.where(tp + fn > 0, 2 * tp / (2 * tp + fp + fn), np.nan),
            "accuracy": np.where(tp + fp + fn + tn > 0, (tp + tn) / (tp + fp + fn + tn), np.nan),
        }


def _draws(
    units: int, groups: Sequence[Any] | None, samples: int, seed: int
) -> Iterator[np.ndarray]:
    """Image indices of each bootstrap draw of ``units`` images (or of whole groups)."""
    rng = np.random.default_rng(seed)
    if groups is None:
        members = [np.array([i]) for i in range(units)]
    else:
        index = {g: k for k, g in enumerate(dict.fromkeys(groups))}
        members = [np.flatnonzero([index[g] == k for g in groups]) for k in range(len(index))]
    for _ in range(samples if members else 0):
        yield np.concatenate([members[k] for k in rng.integers(0, len(members), len(members))])


def _ranked_draws(
    labels: np.ndarray, scores: np.ndarray, groups: Sequence[Any] | None, samples: int, seed: int
) -> dict[str, np.ndarray]:
    """AUROC and AP over bootstrap draws of images (or of whole groups)."""
    out: dict[str, list[float]] = {"auroc": [], "average_precision": []}
    for drawn in _draws(len(labels), groups, samples, seed):
        out["auroc"].append(auroc(labels[drawn], scores[drawn]))
        out["average_precision"].append(average_precision(labels[drawn], scores[drawn]))
    return {name: np.asarray(values) for name, values in out.items()}


def tag_figures(
    labels: np.ndarray,
    scores: np.ndarray,
    threshold: float,
    *,
    groups: Sequence[Any] | None = None,
    samples: int = BOOTSTRAP_SAMPLES,
    seed: int = 0,
) -> dict[str, Any]:
    """One tag's figures on one split, each with its 95 % bootstrap interval.

    Images whose label is NaN (unknown) are left out; ``images``, ``positives`` and
    ``negatives`` say how many each figure rests on. A figure that is undefined (no positive or
    no negative) has ``value`` None.
    """
    labels = np.asarray(labels, dtype=np.float64)
    known = np.isfinite(labels)
    truth, scored = labels[known] > 0.5, np.asarray(scores, dtype=np.float64)[known]
    kept_groups = [g for g, k in zip(groups, known, strict=True) if k] if groups else None
    rows = _confusion_rows(truth, scored, threshold)
    totals = rows.sum(axis=0)
    grouped = _group_rows(rows, kept_groups)
    resampled = _at_threshold(_resampled_totals([grouped], samples, seed)[0])
    point = _at_threshold(totals)
    ranked = _ranked_draws(truth, scored, kept_groups, samples, seed)
    figures: dict[str, Any] = {}
    for name, value in (
        ("auroc", auroc(truth, scored)),
        ("average_precision", average_precision(truth, scored)),
    ):
        low, high = _interval(ranked[name]) if len(truth) else (None, None)
        figures[name] = {"value": _value(value), "low": low, "high": high}
    for name in ("f1", "accuracy"):
        low, high = _interval(resampled[name]) if len(grouped) else (None, None)
        figures[name] = {"value": _value(point[name]), "low": low, "high": high}
    return {
        "threshold": float(threshold),
        "images": int(len(truth)),
        "positives": int(truth.sum()),
        "negatives": int((~truth).sum()),
        "confusion": {
            name: int(totals[k]) for name, k in (("tp", _TP), ("fp", _FP), ("fn", _FN), ("tn", _TN))
        },
        "bootstrap": {
            "samples": samples,
            "confidence": CONFIDENCE,
            "unit": "patient" if groups is not None else "image",
            "units": len(grouped),
        },
        **figures,
    }


def mean_auroc(labels: np.ndarray, scores: np.ndarray) -> float:
    """The mean over tags (columns) of each tag's AUROC on its known images; NaN if none."""
    values = [
        auroc(labels[known, t] > 0.5, scores[known, t])
        for t in range(labels.shape[1])
        for known in [np.isfinite(labels[:, t])]
    ]
    finite = [v for v in values if np.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")


def classifier_metrics(
    labels: dict[str, np.ndarray],
    scores: dict[str, np.ndarray],
    tag_names: Sequence[str],
    *,
    groups: dict[str, Sequence[Any]] | None = None,
) -> tuple[list[float], dict[str, Any]]:
    """Per-tag thresholds chosen on val, and every split's per-tag figures at them.

    ``labels`` and ``scores`` are ``(images, tags)`` arrays per split. A split or tag without
    known images says ``not_measured``.
    """
    groups = groups or {}
    val_labels, val_scores = labels.get("val"), scores.get("val")
    thresholds = []
    for t in range(len(tag_names)):
        if val_labels is None or not len(val_labels):
            thresholds.append(DEFAULT_THRESHOLD)
            continue
        known = np.isfinite(val_labels[:, t])
        thresholds.append(choose_threshold(val_labels[known, t] > 0.5, val_scores[known, t]))  # type: ignore[index]
    metrics: dict[str, Any] = {
        "operating_point": {"thresholds": dict(zip(tag_names, thresholds, strict=True))},
        "rule": THRESHOLD_RULE,
    }
    for split, split_labels in labels.items():
        per_tag: dict[str, Any] = {}
        for t, name in enumerate(tag_names):
            if not np.isfinite(split_labels[:, t]).any():
                per_tag[name] = {"not_measured": f"no labelled images in {split}", "images": 0}
                continue
            per_tag[name] = tag_figures(
                split_labels[:, t], scores[split][:, t], thresholds[t], groups=groups.get(split)
            )
        metrics[split] = {
            "images": int(len(split_labels)),
            "mean_auroc": _value(mean_auroc(split_labels, scores[split]))
            if len(split_labels)
            else None,
            "tags": per_tag,
        }
    return thresholds, metrics


def paired_auroc_difference(
    labels: np.ndarray,
    candidate: np.ndarray,
    active: np.ndarray,
    *,
    groups: Sequence[Any] | None = None,
    samples: int = BOOTSTRAP_SAMPLES,
    seed: int = 0,
) -> dict[str, Any]:
    """Candidate minus active mean AUROC over tags on the same images, same bootstrap draws."""
    spread = [
        mean_auroc(labels[drawn], candidate[drawn]) - mean_auroc(labels[drawn], active[drawn])
        for drawn in _draws(len(labels), groups, samples, seed)
    ]
    low, high = _interval(np.asarray(spread)) if spread else (None, None)
    new, old = mean_auroc(labels, candidate), mean_auroc(labels, active)
    return {
        "figure": "mean_auroc",
        "candidate": _value(new),
        "active": _value(old),
        "difference": _value(new - old),
        "low": low,
        "high": high,
        "images": int(len(labels)),
    }
